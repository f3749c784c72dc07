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
 * libFuzzer sees the coverage of the instrumented C code only. A driver
 * whose code under test is Lua returns, after its function, a list of the
 * Lua files to trace (ends of their paths): a line hook then counts, for
 * each line run in them, the pair (line before, line), in counters that
 * libFuzzer reads as coverage of its own (its "extra counters").
 *
 * Two builds (see the Makefile): with ASan and UBSan (make fuzz, make
 * fuzz-smoke), and plain for throughput (make fuzz-long). A crash input
 * reproduces with build/fuzz/fuzz-<target> <file>. */
#define _POSIX_C_SOURCE 200809L   /* strdup, unsetenv */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void die(const char *what);

/* ---- coverage of Lua code ------------------------------------------------ */

#define LUA_EDGES 65536
#define MAX_TRACED 8

__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t lua_edges[LUA_EDGES];

static char *traced[MAX_TRACED];     /* ends of the traced files' paths */
static int ntraced;
static const char *seen_src[2];      /* the last two chunks met, and */
static int seen_id[2];               /* their index in traced or -1 */
static int prev_line[MAX_TRACED];

static int traced_id(const char *source) {
  size_t n = strlen(source);
  int i;
  for (i = 0; i < ntraced; i++) {
    size_t m = strlen(traced[i]);
    if (source[0] == '@' && n > m && memcmp(source + n - m, traced[i], m) == 0 &&
        source[n - m - 1] == '/')
      return i;
  }
  return -1;
}

static void line_hook(lua_State *S, lua_Debug *ar) {
  int id;
  unsigned line, h;
  if (!lua_getinfo(S, "S", ar)) return;
  /* A chunk's functions share its source string: two entries keep the
   * driver and the file under test apart without comparing again. */
  if (ar->source == seen_src[0]) {
    id = seen_id[0];
  } else if (ar->source == seen_src[1]) {
    id = seen_id[1];
  } else {
    id = traced_id(ar->source);
    seen_src[1] = seen_src[0];
    seen_id[1] = seen_id[0];
    seen_src[0] = ar->source;
    seen_id[0] = id;
  }
  if (id < 0) return;
  line = (unsigned)ar->currentline;
  h = (line * 2654435761u) ^ ((unsigned)prev_line[id] * 40503u) ^ ((unsigned)id << 13);
  h %= LUA_EDGES;
  if (lua_edges[h] < 255) lua_edges[h]++;
  prev_line[id] = (int)line;
}

/* The driver's second value: nil, or a list of path ends to trace. */
static void trace_files(lua_State *S, int list) {
  int i;
  if (lua_isnil(S, list)) return;
  if (!lua_istable(S, list)) die("its second value is not a list of files to trace");
  for (i = 1; i <= MAX_TRACED; i++) {
    const char *f;
    lua_rawgeti(S, list, i);
    f = lua_tostring(S, -1);
    if (f == NULL) {
      lua_pop(S, 1);
      break;
    }
    if ((traced[ntraced] = strdup(f)) == NULL) die("no memory");
    ntraced++;
    lua_pop(S, 1);
  }
  if (ntraced > 0) lua_sethook(S, line_hook, LUA_MASKLINE, 0);
}

/* ---- the state and the inputs -------------------------------------------- */

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
  if (lua_pcall(L, 0, 2, 1) != LUA_OK) die("failed to start");
  if (!lua_isfunction(L, -2)) die("does not return a function");
  trace_files(L, lua_gettop(L));
  lua_pop(L, 1);
  driver_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  atexit(close_state);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  memset(prev_line, 0, sizeof prev_line);
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
