/* Lua version shims: only what soget uses. One source builds for Lua 5.1,
 * LuaJIT 2.1, Lua 5.2, 5.3 and 5.4.
 *
 * LuaJIT 2.1 reports LUA_VERSION_NUM 501 but its lauxlib.h already has part
 * of the 5.2 auxiliary library (luaL_setfuncs, luaL_testudata,
 * luaL_setmetatable, luaL_newlib); its luaL_newlibtable macro tells the two
 * apart, so those are only supplied for plain 5.1. */
#ifndef SOGET_COMPAT_H
#define SOGET_COMPAT_H

#include "lua.h"
#include "lauxlib.h"
#include "core/visibility.h"

SOGET_HIDDEN_BEGIN

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define lua_absindex(L, i) \
  (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)
#define lua_rawgetp soget_rawgetp
#define lua_rawsetp soget_rawsetp
void soget_rawgetp(lua_State *L, int i, const void *p);
void soget_rawsetp(lua_State *L, int i, const void *p);

#if !defined(luaL_newlibtable)   /* Lua 5.1 proper, not LuaJIT 2.1 */
#define SOGET_COMPAT_AUXLIB 1
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs((L), (l), 0))
#define luaL_setfuncs soget_setfuncs
#define luaL_testudata soget_testudata
#define luaL_setmetatable(L, t) \
  (luaL_getmetatable((L), (t)), lua_setmetatable((L), -2))
void soget_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
void *soget_testudata(lua_State *L, int i, const char *tname);
#endif
#endif

/* C memory (a secret, a buffer) pushed as a string in a protected call,
 * so that the caller can wipe and free it on both ways out, even when Lua
 * cannot allocate the string. In two steps: soget_cbytes_prepare pushes
 * the function that makes the string, before the caller owns the memory
 * (on Lua 5.1 and LuaJIT pushing a C function allocates, so it can raise);
 * soget_cbytes_push calls it on n bytes at s, protected, and answers 0
 * with the string in its place, or lua_pcall's status with the error in
 * its place. Nothing in between may use the slot. */
typedef struct soget_cbytes {
  const char *s;
  size_t n;
} soget_cbytes;
void soget_cbytes_prepare(lua_State *L);                       /* +1 */
int soget_cbytes_push(lua_State *L, const char *s, size_t n);  /* 0 */

/* In a __gc: nonzero when a function runs below it (a script calling it
 * through getmetatable, or the collector finalizing amid running code);
 * 0 at lua_close, whose finalizers run with the call stack unwound (on Lua
 * 5.2 and 5.3, not unwound: there os.exit's own frame below them tells):
 * a call of the module's that was under way (an os.exit(0, true) from a
 * hook in its middle) never resumes, and its objects are freed whole. */
int soget_gc_amid_code(lua_State *L);
/* Notes the os library's exit (once, at the module's opening), which
 * soget_gc_amid_code needs on Lua 5.2 and 5.3. */
void soget_note_os_exit(lua_State *L);

/* Pushes the state's main thread, whose hook the standalone interpreter
 * sets on Ctrl-C (lua.c, luajit.c), and returns it; nil and NULL when Lua
 * 5.1 cannot tell: 5.1 has no registry entry for it, so
 * soget_note_main_thread (at luaopen) keeps it when the module is opened
 * from it, or when a client is made there. The registry entry is Lua's to
 * change (debug.getregistry): whoever keeps the thread past its own call
 * keeps the value pushed too, so that it cannot be collected under it. */
lua_State *soget_push_main_thread(lua_State *L);
void soget_note_main_thread(lua_State *L);

/* Uservalues: always a table (on 5.1 it is the fenv). */
#if LUA_VERSION_NUM >= 504
#define soget_newuserdata(L, sz) lua_newuserdatauv((L), (sz), 1)
#define soget_getuv(L, i) ((void)lua_getiuservalue((L), (i), 1))
#define soget_setuv(L, i) ((void)lua_setiuservalue((L), (i), 1))
#elif LUA_VERSION_NUM >= 502
#define soget_newuserdata(L, sz) lua_newuserdata((L), (sz))
#define soget_getuv(L, i) ((void)lua_getuservalue((L), (i)))
#define soget_setuv(L, i) ((void)lua_setuservalue((L), (i)))
#else
#define soget_newuserdata(L, sz) lua_newuserdata((L), (sz))
#define soget_getuv(L, i) lua_getfenv((L), (i))
#define soget_setuv(L, i) ((void)lua_setfenv((L), (i)))
#endif

/* Integers: a subtype of number from 5.3 on. Before that (5.1, LuaJIT, 5.2)
 * every number is a double: whole numbers are exact up to 2^53 and
 * math.type does not exist. */
#if LUA_VERSION_NUM >= 503
#define SOGET_HAS_INTEGERS 1
#else
#define SOGET_HAS_INTEGERS 0
#endif

SOGET_HIDDEN_END

#endif
