/* libFuzzer entry point shared by soget's fuzz targets.
 *
 * One lua_State per process: the standard libraries, soget opened from the
 * objects linked into this binary (luaL_requiref), and lua-cjson found by
 * `require "cjson.safe"` on the interpreter's usual package.cpath, exactly
 * as a script would load it. The target is a Lua driver (FUZZ_DRIVER, one
 * of the .lua files in spec/fuzz/) that returns a function; every input is passed to it
 * as one string. The driver's assertions are the oracle: any error that
 * escapes it, like any sanitizer report, is a finding and aborts.
 *
 * Two builds (see the Makefile): with ASan and UBSan (make fuzz, make
 * fuzz-smoke), and plain for throughput (make fuzz-long). A crash input
 * reproduces with build/fuzz/fuzz-<target> <file>. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#ifndef FUZZ_DRIVER
#error "define FUZZ_DRIVER as the path of the target's Lua driver"
#endif

/* A full collection after every FUZZ_GC_EVERY inputs. Under ASan, 1:
 * libFuzzer counts an input's mallocs and frees, and where the mallocs
 * are more it runs the input again and then a whole-heap leak scan; with
 * what the input made collected before it returns, that happens only when
 * C code kept memory, instead of on nearly every input (the scans took
 * over 90 % of the time). The plain build has no leak detection and lets
 * Lua's incremental collector work, with a full collection now and then. */
#ifndef FUZZ_GC_EVERY
#define FUZZ_GC_EVERY 1
#endif

int luaopen_soget(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;
static int driver_ref = LUA_NOREF;
static unsigned long runs;

static int traceback(lua_State *S) {
  const char *msg = lua_tostring(S, 1);
  if (!msg) msg = luaL_tolstring(S, 1, NULL);
  luaL_traceback(S, S, msg, 1);
  return 1;
}

static void close_state(void) {
  /* lua_close with whatever the last input left alive: finalizers of
   * clients, calls and pagers run here, under the sanitizers. */
  if (L) lua_close(L);
  L = NULL;
}

static void die(const char *what) {
  fprintf(stderr, "fuzz driver %s: %s\n", FUZZ_DRIVER,
          L && lua_isstring(L, -1) ? lua_tostring(L, -1) : what);
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* Clients fall back to these: the targets give every option. */
  unsetenv("SOGET_ACCESS_TOKEN");
  unsetenv("SOGET_CLIENT_ID");
  unsetenv("SOGET_CLIENT_SECRET");
  unsetenv("SOGET_API_KEY");
  unsetenv("SOGET_BASE_URL");
  unsetenv("SOGET_TOKEN_URL");
  unsetenv("SOGET_CA_FILE");
  L = luaL_newstate();
  if (!L) die("no memory for a lua_State");
  luaL_openlibs(L);
  lua_pushcfunction(L, traceback);
  luaL_requiref(L, "soget", luaopen_soget, 0);
  lua_pop(L, 1);
  if (luaL_loadfile(L, FUZZ_DRIVER) != LUA_OK) die("cannot load");
  if (lua_pcall(L, 0, 1, 1) != LUA_OK) die("failed to start");
  if (!lua_isfunction(L, -1)) die("does not return a function");
  driver_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  atexit(close_state);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_pushcfunction(L, traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, driver_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, -3) != LUA_OK) die("raised");
  lua_pop(L, 1);
  /* Finalizers run under the sanitizers while inputs are still being
   * tried, not only at exit. */
  if (++runs % FUZZ_GC_EVERY == 0) lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
