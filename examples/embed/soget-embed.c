/* soget-embed: runs a Lua script with the soget module linked in.
 *
 *   soget-embed script.lua [args...]
 *
 * The script sees its arguments in `arg` (arg[0] is the script) and gets
 * the module with require "soget" (registered in package.preload, so no
 * soget.so is needed on package.cpath, nor any other Lua module). Exit status: 0 when the script ends normally (or the
 * whole number from 0 to 255 it returns, 1 for any other number or when
 * it returns false), 1 on an error, 2 on bad usage. Built by `make embed` (see the Makefile next to this file). */
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "soget.h"   /* luaopen_soget, from libsoget.a (include/soget.h) */

/* Message handler: adds a traceback to error messages. */
static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  /* a table with __tostring (a soget.Error) says itself */
  if (msg == NULL && luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
    msg = lua_tostring(L, -1);
  if (msg == NULL) msg = lua_pushfstring(L, "(error object is a %s value)",
                                        luaL_typename(L, 1));
#if LUA_VERSION_NUM >= 502 || defined(luaL_newlibtable) /* or LuaJIT */
  luaL_traceback(L, L, msg, 1);
#else
  lua_pushstring(L, msg);
#endif
  return 1;
}

/* package.preload.soget = luaopen_soget */
static void preload_soget(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_soget);
  lua_setfield(L, -2, "soget");
  lua_pop(L, 2);
}

/* arg = {[0] = script, ...}; pushes the arguments for the chunk too. */
static int push_args(lua_State *L, int argc, char **argv) {
  int i;
  lua_createtable(L, argc - 2, 1);
  for (i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  luaL_checkstack(L, argc, "too many arguments");
  for (i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
  return argc - 2;
}

static int run(lua_State *L, int argc, char **argv) {
  int base, nargs, status = 0;
  luaL_openlibs(L);
  preload_soget(L);
  lua_pushcfunction(L, traceback);
  base = lua_gettop(L);
  if (luaL_loadfile(L, argv[1]) != 0) {
    fprintf(stderr, "soget-embed: %s\n", lua_tostring(L, -1));
    return 1;
  }
  nargs = push_args(L, argc, argv);
  if (lua_pcall(L, nargs, 1, base) != 0) {
    fprintf(stderr, "soget-embed: %s\n", lua_tostring(L, -1));
    return 1;
  }
  if (lua_type(L, -1) == LUA_TNUMBER) {
    /* an exit status is 0 to 255: any other number (a fraction, NaN,
     * 256...) is a failure, never a cast out of int's range */
    lua_Number n = lua_tonumber(L, -1);
    status = n >= 0 && n <= 255 && n == (lua_Number)(int)n ? (int)n : 1;
  } else if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
    status = 1;
  return status;
}

int main(int argc, char **argv) {
  lua_State *L;
  int status;
  if (argc < 2) {
    fprintf(stderr, "usage: %s script.lua [args...]\n", argv[0]);
    return 2;
  }
  L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "soget-embed: not enough memory\n");
    return 1;
  }
  status = run(L, argc, argv);
  lua_close(L);          /* frees clients, pagers and their curl handles */
  curl_global_cleanup(); /* pairs the curl_global_init in luaopen_soget */
  return status;
}
