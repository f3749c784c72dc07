/* Allocation-failure sweeps: Lua with an allocator that refuses every
 * allocation from the n-th on, for n = 1, 2, ... up to what a scenario
 * needs (make test-oom, run by make test after test-asan).
 *
 * oom DRIVER: DRIVER is a Lua file returning a list of scenarios, each
 * { name, run } (spec/hygiene/oom.lua). For each scenario the host runs
 * `run` twice as it is (its allocations counted the second time: A), then,
 * for each n from 1 to A + SLACK, once with the allocator refusing every
 * allocation from the n-th on (Lua 5.4's emergency collection and its
 * retry refused too), then once as it is. The first must complete or raise
 * Lua's own "not enough memory" (LUA_ERRMEM), nothing else; the second
 * must complete: whatever the failure interrupted, the client, its
 * connections, its token and the module's state are whole and usable.
 * With every n tried, each scenario must have been interrupted at least
 * once (no sweep passes vacuously), and no more descriptors may be open
 * after its sweep than before.
 *
 * Built with ASan and UBSan, against ASan and UBSan builds of the module
 * (make test-asan's for 5.4): a use
 * of freed memory (an emergency collection frees whatever a C function
 * held without anchoring it), a leak at exit (LeakSanitizer runs: the state
 * is closed first, so a block still held is one C code lost) or undefined
 * behaviour stops the run. */
#define _GNU_SOURCE   /* RTLD_NODELETE */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

/* Built for Lua 5.4 and for 5.1 (make test-oom runs both): the LuaJIT of
 * Debian (GC64) cannot take an allocator of its own, and Lua 5.1 takes
 * the module's 5.1 paths, where even pushing a C function allocates. */
#if LUA_VERSION_NUM < 502
#define LUA_OK 0
#define lua_rawlen lua_objlen
static const char *luaL_tolstring(lua_State *L, int i, size_t *n) {
  const char *s = lua_tolstring(L, i, n);
  if (s) return s;
  lua_pushstring(L, luaL_typename(L, i));
  return lua_tostring(L, -1);
}
static void luaL_traceback(lua_State *L, lua_State *L1, const char *msg, int level) {
  (void)L1;
  (void)level;
  lua_getglobal(L, "debug");
  lua_getfield(L, -1, "traceback");
  lua_pushstring(L, msg);
  lua_call(L, 1, 1);
  lua_remove(L, -2);
}
#endif

/* The status Lua's memory error reaches the host with: LUA_ERRMEM on 5.4,
 * which raises it again as such from lua_error; Lua 5.1's lua_error raises
 * any value as a runtime error, so a C function that catches the memory
 * error to free what it holds, then raises it again, passes it on as
 * LUA_ERRRUN (Lua code sees the same message either way). */
#if LUA_VERSION_NUM < 502
#define MEMORY_ERROR_STATUS(s) ((s) == LUA_ERRRUN ? LUA_ERRRUN : LUA_ERRMEM)
#else
#define MEMORY_ERROR_STATUS(s) LUA_ERRMEM
#endif

#define SLACK 64          /* n past the count: a run may allocate more */
#define MAX_POINTS 4000   /* a longer scenario is swept with a stride */

static unsigned long allocs;     /* allocations asked for so far */
static unsigned long fail_from;  /* refuse from this one on; 0: never */
static unsigned long refused;    /* allocations refused in this run */

static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  /* A block shrunk is never refused: Lua counts on that. */
  if (ptr == NULL || nsize > osize) {
    allocs++;
    if (fail_from != 0 && allocs >= fail_from) {
      refused++;
      return NULL;
    }
  }
  return realloc(ptr, nsize);
}

static void die(lua_State *L, const char *scenario, unsigned long n, const char *what) {
  const char *msg = "";
  if (L && lua_gettop(L) > 0) msg = luaL_tolstring(L, -1, NULL);
  fprintf(stderr, "oom: %s: n=%lu: %s: %s\n", scenario, n, what, msg);
  exit(1);
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_tolstring(L, 1, NULL);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Runs the function at `fn` with no message handler (a handler would
 * allocate while every allocation fails). */
static int run(lua_State *L, int fn) {
  int top = lua_gettop(L), status;
  lua_pushvalue(L, fn);
  status = lua_pcall(L, 0, 0, 0);
  if (status != LUA_OK) return status;   /* the message left on top */
  lua_settop(L, top);
  return LUA_OK;
}

/* The same, as it is, with a traceback on failure. */
static void run_clean(lua_State *L, int fn, const char *scenario, unsigned long n, const char *what) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, traceback);
  lua_pushvalue(L, fn);
  if (lua_pcall(L, 0, 0, top + 1) != LUA_OK) die(L, scenario, n, what);
  lua_settop(L, top);
}

/* Descriptors open in this process: none may be left behind by a run
 * that was interrupted (a file, a socket of a client since collected). */
static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  int n = 0;
  if (!d) return -1;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n - 1;   /* the directory's own */
}

/* The module stays mapped after lua_close, so that LeakSanitizer can name
 * the functions that allocated what is left: found by one of its C
 * functions (the driver has loaded it). */
static void keep_module(lua_State *L) {
  lua_CFunction f;
  Dl_info info;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "soget");
  lua_getfield(L, -1, "decode");
  f = lua_tocfunction(L, -1);
  lua_pop(L, 4);
  /* A function pointer as an object pointer: POSIX dladdr's own use. */
  if (!f || !dladdr(*(void **)&f, &info) || !info.dli_fname ||
      !dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
    die(L, "driver", 0, "the module is not loaded");
}

int main(int argc, char **argv) {
  lua_State *L;
  int i, nscen, collect, failed = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: oom DRIVER.lua\n");
    return 2;
  }
  L = lua_newstate(alloc, NULL);
  if (!L) return 1;
  luaL_openlibs(L);
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, argv[1]) != LUA_OK || lua_pcall(L, 0, 1, 1) != LUA_OK)
    die(L, "driver", 0, "cannot load");
  if (!lua_istable(L, -1)) die(L, "driver", 0, "does not return a list of scenarios");
  keep_module(L);
  if (luaL_loadstring(L, "collectgarbage() collectgarbage()") != LUA_OK)   /* 3 */
    die(L, "driver", 0, "cannot load the collection");
  collect = lua_gettop(L);
  nscen = (int)lua_rawlen(L, 2);
  for (i = 1; i <= nscen; i++) {
    const char *name;
    int fn;
    unsigned long start, count, n, step, points = 0, completed = 0, interrupted = 0;
    int fds;
    lua_rawgeti(L, 2, i);
    lua_rawgeti(L, -1, 1);
    name = lua_tostring(L, -1);   /* kept alive by the scenario's table */
    lua_rawgeti(L, -2, 2);
    fn = lua_gettop(L);
    if (!name || !lua_isfunction(L, fn)) die(L, "driver", 0, "a scenario is not { name, run }");
    run_clean(L, fn, name, 0, "fails without an allocation failure");
    lua_gc(L, LUA_GCCOLLECT, 0);
    start = allocs;
    run_clean(L, fn, name, 0, "fails without an allocation failure");
    count = allocs - start;
    lua_gc(L, LUA_GCCOLLECT, 0);
    fds = open_fds();
    step = (count + SLACK) / MAX_POINTS + 1;
    for (n = 1; n <= count + SLACK; n += step) {
      int status;
      lua_gc(L, LUA_GCCOLLECT, 0);
      refused = 0;
      fail_from = allocs + n;
      status = run(L, fn);
      fail_from = 0;
      points++;
      if (status == LUA_OK) {
        completed++;
      } else if (status == MEMORY_ERROR_STATUS(status) && refused > 0 &&
                 lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "not enough memory") == 0) {
        interrupted++;
        lua_settop(L, fn);
      } else {
        fprintf(stderr, "oom: %s: n=%lu (status %d, %lu refused): ", name, n, status, refused);
        die(L, name, n, "raised something other than Lua's memory error");
      }
      /* The collection a program's own code makes (collectgarbage(), or
       * an allocation's step), amid Lua code, as finalizers usually run:
       * one that finds a call of the blocking driver a memory error left
       * holding its client cannot tell it from one amid its steps, and
       * the client would stay taken for good (lua_gc from here, with no
       * code running, let it go). */
      run_clean(L, collect, name, n, "cannot collect after an allocation failure");
      run_clean(L, fn, name, n, "fails after an allocation failure");
    }
    lua_gc(L, LUA_GCCOLLECT, 0);
    if (open_fds() > fds) {
      fprintf(stderr, "oom: %s: %d descriptors open before its sweep, %d after\n", name, fds,
              open_fds());
      failed = 1;
    }
    printf("oom: %-44s %6lu allocations, %5lu points (stride %lu): %5lu interrupted, %5lu completed\n",
           name, count, points, step, interrupted, completed);
    fflush(stdout);
    if (interrupted == 0) {
      fprintf(stderr, "oom: %s: no run was interrupted\n", name);
      failed = 1;
    }
    lua_settop(L, collect);
  }
  lua_settop(L, 0);
  lua_close(L);
  return failed;
}
