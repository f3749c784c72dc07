/* Types and functions shared between soget's C files. Everything here is
 * hidden from the shared object's symbol table (visibility.h); only
 * luaopen_soget is exported, declared SOGET_EXPORT. */
#ifndef SOGET_H
#define SOGET_H

#include <stddef.h>
#include <string.h>
#include "compat.h"
#include "core/clock.h"
#include "core/error.h"
#include "options.h"
#include "core/version.h"
#include "core/visibility.h"

SOGET_HIDDEN_BEGIN

#define SOGET_NAME "soget"

#define SOGET_CLIENT_T "soget.Client"
#define SOGET_PAGER_T "soget.Pager"
#define SOGET_ERROR_T "soget.Error"
#define SOGET_PAGE_T "soget.Page"
#define SOGET_CALL_T "soget.Call"
#define SOGET_BULK_T "soget.Bulk"

#define SOGET_DEFAULT_BASE_URL \
  "https://soget-api-integration.azure-api.net/api-tracing-code/v1"
#define SOGET_DEFAULT_SEARCH_BASE_URL \
  "https://soget-api-integration.azure-api.net/api-tracing-code-in-mass/v1"
#define SOGET_DEFAULT_TOKEN_URL \
  "https://soget-api-integration.azure-api.net/soget-connect/v1/openid-connect/token"

/* Is the value at i the string `name`? By length and bytes: a key with a
 * NUL byte inside ("limit\0x") is not "limit". */
static inline int soget_key_is(lua_State *L, int i, const char *name) {
  size_t n;
  const char *s;
  if (lua_type(L, i) != LUA_TSTRING) return 0;
  s = lua_tolstring(L, i, &n);
  return n == strlen(name) && memcmp(s, name, n) == 0;
}

/* ---- class.c ----------------------------------------------------------- */

/* Registers the class `name`: its metatable (luaL_newmetatable's, in the
 * registry) with the metamethods `meta`, __index a table of `methods`
 * (either may be NULL) and __name. Stack unchanged. */
void soget_class(lua_State *L, const char *name, const luaL_Reg *methods,
                 const luaL_Reg *meta);

/* ---- error.c: soget.Error objects -------------------------------------- */

void soget_push_error(lua_State *L, const soget_err *e);   /* +1 */
int soget_fail(lua_State *L, const soget_err *e);          /* nil, err: 2 */
/* Raises Lua's own memory error ("not enough memory"), as an allocation
 * of the interpreter's would: out of memory is never a soget.Error. */
int soget_nomem(lua_State *L);
void soget_error_open(lua_State *L);

/* ---- private registry table (lcurl style) ------------------------------ */

/* ---- module.c: the module's functions and its private table ----------- */

/* Pushes the module's private table (page contexts, the default client...). */
void soget_private(lua_State *L);
void soget_private_open(lua_State *L);   /* makes it, once per state */
/* soget.client, soget.handling_units, soget.decode, soget.printable,
 * soget.check_container_number */
extern const luaL_Reg soget_module_functions[];
/* Sets soget.handling_units and soget.handling_units_search (on a default
 * client) on the module table at the top of the stack. */
void soget_module_default_calls(lua_State *L);
#define SOGET_PRIV_PAGECTX "pagectx"    /* weak: page -> {client, query} */
#define SOGET_PRIV_DEFAULT "default"    /* default client */
#define SOGET_PRIV_NOTOTAL "nototal"    /* weak: page -> true, its total
                                         * filled in by the decoder */

/* ---- decode.c: bodies to native tables --------------------------------- */

void soget_decode_open(lua_State *L);
/* Decodes a call's HandlingUnitItemsResponseModel. On success pushes the
 * page (a plain table: drivers give it the soget.Page metatable) and
 * returns 1; otherwise fills e, pushes nothing and returns 0. `offset`
 * fills a missing `first`; `limit` is the query's (0: not sent, then the
 * API's largest page): a page with more items fails, before they are
 * built. On Lua 5.1 to 5.3 (see decode.c) it ends at the call's deadline
 * (soget_now() time; timeout: the call's, for the message) with a timeout
 * error. */
int soget_decode_page_until(lua_State *L, const char *body, size_t len, long offset,
                            int limit, soget_err *e, double deadline, double timeout);
/* The most units a page may hold when the query sends no limit: the API's
 * largest page (request.h's SOGET_LIMIT_MAX; its default is 5). */
#define SOGET_PAGE_MAX 10
/* For soget.decode (no deadline), with a choice of parser: simdjson
 * with libyajl for what it refuses (AUTO), or one of them alone; a page
 * both give is the same page. */
enum { SOGET_PARSE_AUTO, SOGET_PARSE_YAJL, SOGET_PARSE_SIMDJSON };
int soget_decode_page_by(lua_State *L, const char *body, size_t len, long offset,
                         soget_err *e, int parser);
/* Pushes the set of the schema's array fields ({events = true, ...}):
 * always tables in a decoded page, whatever the body held. */
void soget_decode_push_array_fields(lua_State *L);

/* ---- arrays.c, events.c, encode.c --------------------------------------- */

/* Pushes the metatable decoded arrays carry: lua-cjson's cjson.array_mt
 * when lua-cjson is loaded and has one, else soget.array_mt. */
void soget_push_array_mt(lua_State *L);
/* Pushes a new table for n array elements, with that metatable. */
void soget_push_array(lua_State *L, int n);
/* Set on the module table at the top of the stack: soget.array_mt;
 * soget.events_in_order; soget.encode. */
void soget_arrays_open(lua_State *L);
void soget_events_open(lua_State *L);
void soget_encode_open(lua_State *L);

/* ---- client.c / paging.c ----------------------------------------------- */

/* The number field k of the page at t (dflt when not a number), clamped to
 * the API's int32 range: NaN or a huge value never overflows a long. */
long soget_page_int(lua_State *L, int t, const char *k, long dflt);
/* The total of the page at t for the cursor (core/cursor.h), or
 * SOGET_CURSOR_NO_TOTAL when the server gave none. */
long soget_page_total(lua_State *L, int t);
int soget_total_given_lua(lua_State *L);      /* soget.total_given(page) */

typedef struct soget_client soget_client;

/* The client's options, in the order soget.client documents them, ending
 * with a NULL name: soget.client reads them by this list, soget.options
 * shows it to programs built on the module (facts.c). */
extern const soget_option soget_options[];

void soget_client_open(lua_State *L);
soget_client *soget_checkclient(lua_State *L, int i);
/* Validates a query table at index i and pushes its normalized copy. Raises
 * on a bad argument. */
void soget_check_query(lua_State *L, int i, int kind);
/* Raises (who: the method, for the message; index > 0: the query's index in
 * a list) when the normalized query at qi is a search and the client c has
 * no search base URL, or a lookup and c has no API key (a search key
 * alone). */
void soget_need_api(lua_State *L, const soget_client *c, int qi, const char *who, int index);
enum {   /* soget_check_query's kind */
  SOGET_QUERY_LOOKUP,   /* handling_units' query (or reference string) */
  SOGET_QUERY_SEARCH,   /* handling_units_search's (or document reference) */
  SOGET_QUERY_ANY       /* a lookup's, or {search = query} */
};
/* Performs the query (normalized table at qi) at `offset` (-1: the query's
 * own) on the client c at index ci. Pushes the page and returns 1, or fills
 * e and returns 0. Raises when c was closed meanwhile, and out of memory. */
int soget_client_fetch(lua_State *L, soget_client *c, int ci, int qi, long offset,
                       soget_err *e);
/* Lua code can run in the middle of a call (any allocation can run a
 * finalizer), and a finalizer may close the client: code that keeps using
 * the client's memory across Lua calls holds it, and close() then takes
 * effect at the last release. Check the client is open (soget_checkclient)
 * right before holding, with no Lua call in between. */
void soget_client_hold(soget_client *c);
void soget_client_release(soget_client *c);
/* Drivers that use the client's transport (its easy handle and response
 * buffer, or the bulk pool) take it for the whole call: 0, or -1 when a
 * call already uses it (a finalizer or hook calling the client again).
 * L: the caller's thread. */
int soget_client_take_transport(lua_State *L, soget_client *c);
void soget_client_give_transport(soget_client *c);
/* The hook of the transport's thread now is the one a Ctrl-C is told from
 * (after Lua code the call itself ran). */
void soget_client_rewatch(soget_client *c);
/* The client's stop (core/clock.h): asked while a call that took the
 * transport (L: the caller's thread) waits, on Ctrl-C in the standalone
 * interpreter (client.c: hook_asked). */
const soget_stop *soget_client_stop(const soget_client *c);
int soget_client_new(lua_State *L);     /* soget.client{...} */
int soget_client_credentials(lua_State *L);   /* soget._credentials(client) */
int soget_token_invalid_lua(lua_State *L);    /* soget._token_invalid(www_authenticate) */
int soget_sleep_lua(lua_State *L);            /* soget._sleep(seconds) */
/* The client's transport (NULL once closed): bulk.c keeps its handles there. */
struct soget_transport *soget_client_transport(soget_client *c);
/* The client's share of the call core: configuration, token state, counters. */
struct soget_engine *soget_client_engine(soget_client *c);
/* Fills q from a normalized query table (soget_check_query's) at qi; the
 * strings stay owned by that table. offset >= 0 replaces the query's own. */
struct soget_query;
void soget_read_query(lua_State *L, int qi, struct soget_query *q, long offset);
/* Pushes the table that holds the parameters of the normalized query at
 * qi: a search's `search` table, else the query itself. Returns 1 for a
 * search's. */
int soget_query_params(lua_State *L, int qi);

/* ---- http.c: soget.http_parser, the core's HTTP/1.1 response parser ---- */
void soget_http_open(lua_State *L);        /* the soget.HttpParser class */
int soget_http_parser_new(lua_State *L);   /* soget.http_parser([max]) */

/* ---- bulk.c: client:handling_units_many(queries[, options]) ------------- */
#define SOGET_BULK_MAX 64   /* the largest concurrency */
int soget_client_handling_units_many(lua_State *L);
void soget_bulk_open(lua_State *L);   /* the soget.Bulk class */

/* ---- facts.c: soget.limits, soget.options, soget.array_fields and
 * soget.check_query, set on the module table at the top of the stack ---- */
void soget_facts_open(lua_State *L);

void soget_paging_open(lua_State *L);
/* Sets the soget.Page metatable and records its client and query (the
 * values at ci and qi, ci may be 0 for none) for page:iter(). */
void soget_page_attach(lua_State *L, int page, int ci, int qi);
/* Pushes an empty page {total=0, returned=0, first=offset, items={}},
 * a soget.Page: what nothing found (R001) answers. */
void soget_push_empty_page(lua_State *L, long offset);

SOGET_HIDDEN_END

#endif
