/* Lua 5.1 / LuaJIT versions of the 5.2+ auxiliary functions soget uses;
 * soget_cbytes_prepare, soget_cbytes_push and soget_gc_amid_code (every
 * version). */
#include <stdint.h>

#include "compat.h"

#if LUA_VERSION_NUM < 502
/* A light userdata key for p: only its address is used, never written
 * through, so dropping const (via an integer, as -Wcast-qual wants) is safe. */
static void push_key(lua_State *L, const void *p) {
  lua_pushlightuserdata(L, (void *)(uintptr_t)p);
}

void soget_rawgetp(lua_State *L, int i, const void *p) {
  i = lua_absindex(L, i);
  push_key(L, p);
  lua_rawget(L, i);
}

void soget_rawsetp(lua_State *L, int i, const void *p) {
  i = lua_absindex(L, i);
  push_key(L, p);
  lua_insert(L, -2);
  lua_rawset(L, i);
}

#ifdef SOGET_COMPAT_AUXLIB
void soget_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    if (l->func == NULL) {
      lua_pushboolean(L, 0);
    } else {
      for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
      lua_pushcclosure(L, l->func, nup);
    }
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

void *soget_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}
#endif
#endif

static int push_cbytes(lua_State *L) {
  const soget_cbytes *b = lua_touserdata(L, 1);
  lua_pushlstring(L, b->s, b->n);
  return 1;
}

void soget_cbytes_prepare(lua_State *L) {
  luaL_checkstack(L, 2, NULL);
  lua_pushcfunction(L, push_cbytes);
}

int soget_cbytes_push(lua_State *L, const char *s, size_t n) {
  soget_cbytes b;
  b.s = s;
  b.n = n;
  lua_pushlightuserdata(L, &b);   /* a slot soget_cbytes_prepare checked */
  return lua_pcall(L, 1, 1, 0);
}

#if LUA_VERSION_NUM >= 502
lua_State *soget_push_main_thread(lua_State *L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  return lua_tothread(L, -1);
}

void soget_note_main_thread(lua_State *L) {
  (void)L;
}
#else
#define MAIN_THREAD_KEY "soget.main_thread"

lua_State *soget_push_main_thread(lua_State *L) {
  soget_note_main_thread(L);
  lua_getfield(L, LUA_REGISTRYINDEX, MAIN_THREAD_KEY);
  return lua_tothread(L, -1);
}

void soget_note_main_thread(lua_State *L) {
  if (lua_pushthread(L)) lua_setfield(L, LUA_REGISTRYINDEX, MAIN_THREAD_KEY);
  else lua_pop(L, 1);
}
#endif

int soget_gc_amid_code(lua_State *L) {
  lua_Debug ar;
  return lua_getstack(L, 1, &ar);
}
