/* luaopen_soget: assembles the module from the files in src/ (see the
 * README's Architecture section): the classes, the module's functions and
 * facts. Nothing else lives here. */
#include "include/soget.h"   /* the public declaration, checked here */
#include "io/transport.h"
#include "lua/privfile.h"
#include "lua/soget.h"

SOGET_EXPORT int luaopen_soget(lua_State *L);

SOGET_EXPORT int luaopen_soget(lua_State *L) {
  if (soget_curl_global_init() != 0)   /* once per process, whatever the threads */
    return luaL_error(L, "soget: libcurl could not be initialized");
  soget_private_open(L);
  soget_error_open(L);
  soget_decode_open(L);
  soget_client_open(L);
  soget_paging_open(L);
  soget_bulk_open(L);
  soget_http_open(L);
#if LUA_VERSION_NUM >= 502
  luaL_checkversion(L);   /* as luaL_newlib does */
#endif
  lua_newtable(L);
  luaL_setfuncs(L, soget_module_functions, 0);
  soget_module_default_calls(L);     /* handling_units, handling_units_search */
  lua_pushcfunction(L, soget_http_parser_new);
  lua_setfield(L, -2, "http_parser");
  soget_facts_open(L);               /* limits, options, array_fields, check_query */
  soget_arrays_open(L);              /* array_mt */
  soget_events_open(L);              /* events_in_order, instant */
  soget_encode_open(L);              /* encode */
  soget_privfile_push(L);            /* for the soget command only */
  lua_setfield(L, -2, "_privfile");
  lua_pushcfunction(L, soget_client_credentials);   /* for soget.ngx only */
  lua_setfield(L, -2, "_credentials");
  lua_pushcfunction(L, soget_token_invalid_lua);    /* for soget.ngx only */
  lua_setfield(L, -2, "_token_invalid");
  lua_pushcfunction(L, soget_sleep_lua);            /* for the soget command only */
  lua_setfield(L, -2, "_sleep");
  lua_pushcfunction(L, soget_total_given_lua);
  lua_setfield(L, -2, "total_given");
  lua_pushliteral(L, SOGET_NAME);
  lua_setfield(L, -2, "_NAME");
  lua_pushliteral(L, SOGET_NAME " " SOGET_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
