/* What the module knows, as data for programs built on it (the soget
 * command first), so that none of them keeps a copy that can drift:
 *   soget.limits        the query limits (a search value's too), the largest concurrency of
 *                       handling_units_many, the longest header value, the
 *                       token renewal margin
 *   soget.options       soget.client's options: name, type, environment
 *                       variable, secret or not, numbers' ranges
 *   soget.array_fields  the schema's array fields (always tables)
 *   soget.check_query   client:handling_units's query check, answering
 *                       instead of raising
 *   soget.libcurl_version  the version of the libcurl it runs with. */
#include "soget.h"


#include "core/auth.h"
#include "core/request.h"
#include "io/transport.h"

static void set_number(lua_State *L, const char *key, double v) {
  if (v == (double)(lua_Integer)v)
    lua_pushinteger(L, (lua_Integer)v);   /* 30, not 30.0, on 5.3+ */
  else
    lua_pushnumber(L, (lua_Number)v);
  lua_setfield(L, -2, key);
}

static void push_limits(lua_State *L) {
  lua_createtable(L, 0, 9);
  set_number(L, "reference", SOGET_REFERENCE_MAX);
  set_number(L, "spi", SOGET_SPI_MAX);
  set_number(L, "search_value", SOGET_SEARCH_VALUE_MAX);
  set_number(L, "limit", SOGET_LIMIT_MAX);
  set_number(L, "offset", (double)SOGET_OFFSET_MAX);
  set_number(L, "concurrency", SOGET_BULK_MAX);
  set_number(L, "header_value", SOGET_HEADER_VALUE_MAX);
  set_number(L, "token_margin", SOGET_TOKEN_MARGIN);
  set_number(L, "url", SOGET_URL_MAX);
}

static void push_options(lua_State *L) {
  static const char *const types[] = {"string", "number", "boolean", "any"};
  const soget_option *o;
  int i = 0;
  lua_newtable(L);
  for (o = soget_options; o->name; o++) {
    lua_createtable(L, 0, 7);
    lua_pushstring(L, o->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, types[o->type]);
    lua_setfield(L, -2, "type");
    if (o->env) {
      lua_pushstring(L, o->env);
      lua_setfield(L, -2, "env");
    }
    lua_pushboolean(L, o->secret);
    lua_setfield(L, -2, "secret");
    if (o->type == SOGET_OPT_NUMBER) {
      set_number(L, "min", o->min);
      set_number(L, "max", o->max);
      lua_pushboolean(L, o->whole);
      lua_setfield(L, -2, "whole");
    }
    lua_rawseti(L, -2, ++i);
  }
}

static int check_query_raising(lua_State *L) {
  soget_check_query(L, 1, SOGET_QUERY_ANY);
  return 0;
}

/* soget.check_query(query) -> true | nil, message: the check
 * client:handling_units makes before any request (the same function, so
 * the same rules and messages), without raising. */
static int facts_check_query(lua_State *L) {
  int rc;
  soget_check_nargs(L, 1, SOGET_QUERY_ARGS_HINT);
  lua_settop(L, 1);
  lua_pushcfunction(L, check_query_raising);
  lua_pushvalue(L, 1);
  rc = lua_pcall(L, 1, 0, 0);
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (rc != LUA_ERRRUN || lua_type(L, -1) != LUA_TSTRING)
    return lua_error(L);   /* out of memory and the like: not an answer */
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

void soget_facts_open(lua_State *L) {
  push_limits(L);
  lua_setfield(L, -2, "limits");
  push_options(L);
  lua_setfield(L, -2, "options");
  soget_decode_push_array_fields(L);
  lua_setfield(L, -2, "array_fields");
  lua_pushcfunction(L, facts_check_query);
  lua_setfield(L, -2, "check_query");
  /* the libcurl the module runs with (for a program's --version) */
  lua_pushstring(L, soget_libcurl_version());
  lua_setfield(L, -2, "libcurl_version");
}
