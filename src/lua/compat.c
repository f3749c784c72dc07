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

/* lua_close runs every finalizer on the main thread (each runtime's
 * lua_close switches to it first): one that runs on another thread runs
 * amid code, a coroutine's (a script calling __gc in a coroutine it made
 * for that, while a call of the module's is under way), whatever that
 * thread's own stack shows. (lua_pushthread allocates nothing.) */
static int on_main_thread(lua_State *L) {
  int main = lua_pushthread(L);
  lua_pop(L, 1);
  return main;
}

#if LUA_VERSION_NUM == 502 || LUA_VERSION_NUM == 503
/* Lua 5.2 and 5.3 run lua_close's finalizers on the call stack as it was
 * (5.1, LuaJIT and 5.4 unwind it first): at an os.exit(code, true), which
 * closes the state from its own frame and never returns, that frame lies
 * just below the finalizer. The os library's exit, as loaded when soget
 * was (a host that opens the os library later gets the general rule). */
static const char os_exit_key = 0;

void soget_note_os_exit(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_getfield(L, -1, "os");
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_getfield(L, -1, "exit");
      if (lua_iscfunction(L, -1)) lua_rawsetp(L, LUA_REGISTRYINDEX, &os_exit_key);
      else lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

int soget_gc_amid_code(lua_State *L) {
  lua_Debug ar;
  int exiting;
  if (!on_main_thread(L)) return 1;
  if (!lua_getstack(L, 1, &ar) || !lua_getinfo(L, "f", &ar)) return 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &os_exit_key);
  exiting = lua_iscfunction(L, -1) && lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return !exiting;
}
#else
void soget_note_os_exit(lua_State *L) {
  (void)L;
}

int soget_gc_amid_code(lua_State *L) {
  lua_Debug ar;
  return !on_main_thread(L) || lua_getstack(L, 1, &ar);
}
#endif
