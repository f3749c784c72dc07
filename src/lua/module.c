/* The module's own functions (soget.client, soget.handling_units on a
 * default client, soget.decode, soget.check_container_number,
 * soget.printable) and its private registry table. */
#include "soget.h"

#include <string.h>

#include "core/iso6346.h"
#include "core/text.h"

static const char private_key = 'k';   /* registry key: its address */

void soget_private(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &private_key);
}

void soget_private_open(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &private_key);
  if (lua_istable(L, -1)) {          /* loaded before in this state */
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_newtable(L);                   /* page -> {client, query}, weak keys */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, SOGET_PRIV_PAGECTX);
  lua_newtable(L);                   /* page -> true: no total given, weak keys */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, SOGET_PRIV_NOTOTAL);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &private_key);
}

/* soget.decode(body[, {parser = "auto" | "yajl" | "simdjson"}]) -> page |
 * nil, err (no I/O). One parser alone, for comparison and for telling a
 * parser's fault from the body's: "yajl" gives the same page, slower;
 * "simdjson" fails on what auto leaves to libyajl. */
static const soget_option decode_options[] = {
    {.name = "parser", .type = SOGET_OPT_STRING, .check = SOGET_OPT_CHECK_NUL}, {.name = NULL}};

static const soget_opt_reader decode_reader = {
    .opts = decode_options,
    .who = "soget.decode",
    .label = "",
    SOGET_OPT_MESSAGES,   /* a misspelt option is no silent default */
    .nil_ok = 1};

static int mod_decode(lua_State *L) {
  size_t len;
  const char *body = luaL_checklstring(L, 1, &len);
  int parser = SOGET_PARSE_AUTO;
  soget_err e;
  soget_optval p;
  soget_check_nargs(L, 2, NULL);
  soget_opt_read(L, 2, &decode_reader, 0, &p);
  if (p.given) {   /* (the string is left on the stack while read) */
    if (strcmp(p.s, "yajl") == 0) parser = SOGET_PARSE_YAJL;
    else if (strcmp(p.s, "simdjson") == 0) parser = SOGET_PARSE_SIMDJSON;
    else if (strcmp(p.s, "auto") != 0)
      return luaL_error(L, "soget.decode: 'parser' must be \"auto\", \"yajl\" or \"simdjson\"");
  }
  lua_settop(L, 1);
  soget_err_clear(&e);
  if (!soget_decode_page_by(L, body, len, 0, &e, parser)) return soget_fail(L, &e);
  soget_page_attach(L, lua_gettop(L), 0, 0);
  return 1;
}

/* soget.printable(s[, keep_lines]) -> s with every character that could
 * act on a terminal made visible (see text.h): for scripts that show a
 * server's strings to a person. */
static int mod_printable(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int keep_lines = lua_toboolean(L, 2);
  char *buf;
  size_t n;
  soget_check_nargs(L, 2, NULL);
  luaL_argcheck(L, len < ((size_t)-1) / 4 - 1, 1, "too long");
  lua_settop(L, 1);
  buf = lua_newuserdata(L, 4 * len + 1);   /* 2: s stays at 1 meanwhile */
  n = soget_printable(buf, 4 * len + 1, s, len, keep_lines);
  lua_pushlstring(L, buf, n);
  return 1;
}

/* soget.check_container_number(s) -> true | false, reason */
static int mod_check_container_number(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char buf[64];
  const char *why;
  soget_check_nargs(L, 1, NULL);
  why = soget_iso6346_problem(s, len, buf, sizeof buf);
  lua_pushboolean(L, why == NULL);
  if (!why) return 1;
  lua_pushstring(L, why);
  return 2;
}

/* soget.handling_units(query), soget.handling_units_search(query): the
 * client's method (the upvalue names it) on a default client configured
 * from the environment (made on first use). */
static int mod_default_call(lua_State *L) {
  soget_check_nargs(L, 1, SOGET_QUERY_ARGS_HINT);
  lua_settop(L, 1);
  soget_private(L);
  lua_getfield(L, -1, SOGET_PRIV_DEFAULT);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushcfunction(L, soget_client_new);
    lua_call(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, SOGET_PRIV_DEFAULT);
  }
  lua_getfield(L, -1, lua_tostring(L, lua_upvalueindex(1)));
  lua_pushvalue(L, -2);
  lua_pushvalue(L, 1);
  lua_call(L, 2, LUA_MULTRET);
  return lua_gettop(L) - 3;
}

void soget_module_default_calls(lua_State *L) {
  static const char *const names[] = {"handling_units", "handling_units_search", NULL};
  int i;
  for (i = 0; names[i]; i++) {
    lua_pushstring(L, names[i]);
    lua_pushcclosure(L, mod_default_call, 1);
    lua_setfield(L, -2, names[i]);
  }
}

const luaL_Reg soget_module_functions[] = {
    {"client", soget_client_new},
    {"decode", mod_decode},
    {"check_container_number", mod_check_container_number},
    {"printable", mod_printable},
    {NULL, NULL}};
