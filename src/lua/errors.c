/* soget.Error: a table with kind, status, code, message, retryable and
 * retry_after, printed as "soget: kind: message (HTTP status, code)". */
#include "soget.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/text.h"

int soget_nomem(lua_State *L) {
  lua_pushliteral(L, "not enough memory");
  return lua_error(L);
}

void soget_push_error(lua_State *L, const soget_err *e) {
  char text[4 * sizeof e->message];
  lua_createtable(L, 0, 5);
  lua_pushstring(L, e->kind ? e->kind : "http");
  lua_setfield(L, -2, "kind");
  if (e->status > 0) {
    lua_pushinteger(L, (lua_Integer)e->status);
    lua_setfield(L, -2, "status");
  }
  if (e->code[0]) {
    lua_pushlstring(L, text, soget_printable(text, sizeof text, e->code, strlen(e->code), 0));
    lua_setfield(L, -2, "code");
  }
  lua_pushlstring(L, text, soget_printable(text, sizeof text, e->message, strlen(e->message), 0));
  lua_setfield(L, -2, "message");
  lua_pushboolean(L, e->retryable);
  lua_setfield(L, -2, "retryable");
  if (e->retry_after >= 0) {   /* whole seconds (a date's rounded up) */
    lua_pushinteger(L, (lua_Integer)ceil(e->retry_after));
    lua_setfield(L, -2, "retry_after");
  }
  luaL_setmetatable(L, SOGET_ERROR_T);
}

int soget_fail(lua_State *L, const soget_err *e) {
  lua_pushnil(L);
  soget_push_error(L, e);
  return 2;
}

/* A field of the error table at 1, without metamethods. */
static int raw_field(lua_State *L, const char *k) {
  lua_pushstring(L, k);
  lua_rawget(L, 1);
  return lua_type(L, -1);
}

/* __tostring: built from the fields, so a script that edits them sees its
 * own edit; fields a script can change are never trusted: only strings
 * are shown, and a status only when it is a whole number from 1 to 999. */
static int meth_tostring(lua_State *L) {
  luaL_Buffer b;
  const char *kind = "error", *msg = "", *code = NULL;
  size_t kl = 5, ml = 0, cl = 0;
  long status = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (raw_field(L, "kind") == LUA_TSTRING) kind = lua_tolstring(L, 2, &kl);
  if (raw_field(L, "message") == LUA_TSTRING) msg = lua_tolstring(L, 3, &ml);
  if (raw_field(L, "status") == LUA_TNUMBER) {
    lua_Number d = lua_tonumber(L, 4);   /* NaN fails every comparison */
    if (d >= 1 && d <= 999 && d == floor(d)) status = (long)d;
  }
  if (raw_field(L, "code") == LUA_TSTRING) code = lua_tolstring(L, 5, &cl);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "soget: ");
  luaL_addlstring(&b, kind, kl);
  luaL_addstring(&b, ": ");
  luaL_addlstring(&b, msg, ml);
  if (status || code) {
    luaL_addstring(&b, " (");
    if (status) {
      char num[32];
      snprintf(num, sizeof num, "HTTP %ld", status);
      luaL_addstring(&b, num);
      if (code) luaL_addstring(&b, ", ");
    }
    if (code) luaL_addlstring(&b, code, cl);
    luaL_addstring(&b, ")");
  }
  luaL_pushresult(&b);
  return 1;
}

/* Whether the value at i is a table of the soget.Error metatable. */
static int is_error(lua_State *L, int i) {
  int r;
  if (lua_type(L, i) != LUA_TTABLE || !lua_getmetatable(L, i)) return 0;
  luaL_getmetatable(L, SOGET_ERROR_T);
  r = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return r;
}

static int meth_eq(lua_State *L) {
  /* Two errors are equal when kind, status and code match. Lua 5.3 and
   * later call __eq when one side has it: a table that is no soget.Error
   * is never equal to one (as on 5.1, 5.2 and LuaJIT, which compare only
   * two values of one __eq), and the fields are read raw, as __tostring
   * reads them (no metamethod of the other table runs). */
  static const char *const keys[] = {"kind", "status", "code"};
  int i;
  if (!is_error(L, 1) || !is_error(L, 2)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  for (i = 0; i < 3; i++) {
    lua_pushstring(L, keys[i]);
    lua_rawget(L, 1);
    lua_pushstring(L, keys[i]);
    lua_rawget(L, 2);
    if (!lua_rawequal(L, -1, -2)) {
      lua_pushboolean(L, 0);
      return 1;
    }
    lua_pop(L, 2);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg error_meta[] = {{"__tostring", meth_tostring},
                                      {"__eq", meth_eq},
                                      {NULL, NULL}};

void soget_error_open(lua_State *L) {
  soget_class(L, SOGET_ERROR_T, NULL, error_meta);
}
