/* soget.Error: a table with kind, status, code, message and retryable,
 * printed as "soget: kind: message (HTTP status, code)". */
#include "soget.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void soget_err_clear(soget_err *e) {
  e->kind = NULL;
  e->status = 0;
  e->code[0] = '\0';
  e->message[0] = '\0';
  e->retryable = 0;
}

void soget_err_set(soget_err *e, const char *kind, long status, int retryable,
                   const char *fmt, ...) {
  va_list ap;
  e->kind = kind;
  e->status = status;
  e->retryable = retryable;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
}

/* Replaces every whole occurrence of secret in text with "***", and a
 * start of the secret that ends text (a message cut at its buffer's size
 * may end in one). */
static void scrub_text(char *text, const char *secret, size_t sl) {
  char *p;
  size_t tl, k;
  while ((p = strstr(text, secret)) != NULL) {
    memmove(p + 3, p + sl, strlen(p + sl) + 1);
    memcpy(p, "***", 3);
  }
  tl = strlen(text);
  for (k = (sl - 1 < tl ? sl - 1 : tl); k >= 4; k--) {
    if (memcmp(text + tl - k, secret, k) == 0) {
      strcpy(text + tl - k, "***");
      break;
    }
  }
}

void soget_err_scrub(soget_err *e, const char *const *secrets, int n) {
  int i;
  for (i = 0; i < n; i++) {
    const char *s = secrets[i];
    size_t sl;
    if (!s || (sl = strlen(s)) < 4) continue;
    scrub_text(e->message, s, sl);
    scrub_text(e->code, s, sl);
  }
}

void soget_push_error(lua_State *L, const soget_err *e) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, e->kind ? e->kind : "http");
  lua_setfield(L, -2, "kind");
  if (e->status > 0) {
    lua_pushinteger(L, (lua_Integer)e->status);
    lua_setfield(L, -2, "status");
  }
  if (e->code[0]) {
    lua_pushstring(L, e->code);
    lua_setfield(L, -2, "code");
  }
  lua_pushstring(L, e->message);
  lua_setfield(L, -2, "message");
  lua_pushboolean(L, e->retryable);
  lua_setfield(L, -2, "retryable");
  luaL_setmetatable(L, SOGET_ERROR_T);
}

int soget_fail(lua_State *L, const soget_err *e) {
  lua_pushnil(L);
  soget_push_error(L, e);
  return 2;
}

/* __tostring: built from the fields, so a script that edits them sees its
 * own edit; only strings and numbers are shown. */
static int meth_tostring(lua_State *L) {
  luaL_Buffer b;
  const char *kind, *msg, *code;
  int has_status;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "message");
  lua_getfield(L, 1, "status");
  lua_getfield(L, 1, "code");
  kind = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "error";
  msg = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : "";
  has_status = lua_type(L, 4) == LUA_TNUMBER;
  code = lua_type(L, 5) == LUA_TSTRING ? lua_tostring(L, 5) : NULL;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "soget: ");
  luaL_addstring(&b, kind);
  luaL_addstring(&b, ": ");
  luaL_addstring(&b, msg);
  if (has_status || code) {
    luaL_addstring(&b, " (");
    if (has_status) {
      char num[32];
      snprintf(num, sizeof num, "HTTP %ld", (long)lua_tonumber(L, 4));
      luaL_addstring(&b, num);
      if (code) luaL_addstring(&b, ", ");
    }
    if (code) luaL_addstring(&b, code);
    luaL_addstring(&b, ")");
  }
  luaL_pushresult(&b);
  return 1;
}

static int meth_eq(lua_State *L) {
  /* Two errors are equal when kind, status and code match. */
  static const char *const keys[] = {"kind", "status", "code"};
  int i;
  for (i = 0; i < 3; i++) {
    lua_getfield(L, 1, keys[i]);
    lua_getfield(L, 2, keys[i]);
    if (!lua_rawequal(L, -1, -2)) {
      lua_pushboolean(L, 0);
      return 1;
    }
    lua_pop(L, 2);
  }
  lua_pushboolean(L, 1);
  return 1;
}

void soget_error_open(lua_State *L) {
  luaL_newmetatable(L, SOGET_ERROR_T);
  lua_pushcfunction(L, meth_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, meth_eq);
  lua_setfield(L, -2, "__eq");
  lua_pushliteral(L, SOGET_ERROR_T);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}
