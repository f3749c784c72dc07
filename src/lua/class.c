/* soget_class: registers one of the module's classes. */
#include "soget.h"

void soget_class(lua_State *L, const char *name, const luaL_Reg *methods,
                 const luaL_Reg *meta) {
  luaL_newmetatable(L, name);
  if (meta) luaL_setfuncs(L, meta, 0);
  if (methods) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_pushstring(L, name);   /* 5.1 and 5.2's luaL_newmetatable do not */
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}
