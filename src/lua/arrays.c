/* The metatable decoded arrays carry, so that a JSON encoder can tell an
 * empty array from an empty object when a page is written out again:
 *   - OpenResty's lua-cjson (2.1.0.5 and later) writes a table with its
 *     cjson.array_mt as an array, empty or not: when lua-cjson is loaded
 *     (package.loaded.cjson, looked up at each decode: soget never loads
 *     it) and has one, decoded arrays carry it;
 *   - otherwise they carry soget.array_mt, {__jsontype = "array"}, which
 *     lua-dkjson honours. Debian's lua-cjson 2.1.0 has no such marker: it
 *     writes an empty table as {} whatever its metatable, so use
 *     soget.encode there.
 * soget.encode writes the schema's array fields as arrays in any case. */
#include "soget.h"

#define PRIV_ARRAY_MT "arraymt"

void soget_push_array_mt(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_getfield(L, -1, "cjson");
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_getfield(L, -1, "array_mt");
      if (lua_type(L, -1) == LUA_TTABLE) {
        lua_replace(L, -3);
        lua_pop(L, 1);
        return;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  soget_private(L);
  lua_getfield(L, -1, PRIV_ARRAY_MT);
  lua_remove(L, -2);
}

void soget_push_array(lua_State *L, int n) {
  lua_createtable(L, n > 0 ? n : 0, 0);
  soget_push_array_mt(L);
  lua_setmetatable(L, -2);
}

/* Makes soget.array_mt (kept in the private table too) and sets it in the
 * module table at the top. */
void soget_arrays_open(lua_State *L) {
  soget_private(L);
  lua_getfield(L, -1, PRIV_ARRAY_MT);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__jsontype");
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, PRIV_ARRAY_MT);
  }
  lua_setfield(L, -3, "array_mt");
  lua_pop(L, 1);
}
