/* soget.http_parser: the core's HTTP/1.1 response parser (core/http1.h) for
 * drivers written in Lua that move the bytes themselves (soget.ngx over
 * nginx's cosockets). The request's bytes come from call:request_bytes()
 * (client.c).
 *
 *   local p = soget.http_parser(max_response_size)
 *   p:feed(bytes)  -> "more" | "done" | "bad"   (as the bytes arrive)
 *   p:eof()        -> "done" | "bad"            (the connection closed)
 *   p:response()   -> status, body, retry_after, location, keep_alive,
 *                     www_authenticate (after "done")
 *   p:error()      -> message, kind, retryable  (after "bad")
 *   p:received()   -> bytes fed;  p:decoded() -> the body's bytes so far,
 *                     once undone (a driver paces a compressed body by it)
 */
#include <math.h>
#include <stdlib.h>

#include "soget.h"

#include "core/http1.h"

#define SOGET_HTTP_PARSER_T "soget.HttpParser"
#define DEFAULT_MAX (8u * 1024u * 1024u)

/* The parser's state (about 1 KB) is malloc'd: a driver makes one per
 * response and closes it, so it stays out of the garbage Lua collects. It
 * lives until __gc. While response() copies the body and headers out
 * (busy: a count, as a finalizer run by one of its allocations may call
 * response() again), a close() run by such a finalizer (Lua 5.1 and
 * LuaJIT collect before they copy a string) only marks it closed; what it
 * holds is freed when the last response() is done. */
typedef struct lparser {
  soget_http1 *h;
  int open;
  int busy;
  int close_pending;
} lparser;

static const char *const state_names[] = {"more", "done", "bad"};

static lparser *checkparser(lua_State *L) {
  lparser *p = luaL_checkudata(L, 1, SOGET_HTTP_PARSER_T);
  if (!p->open) luaL_error(L, SOGET_HTTP_PARSER_T ": used after close()");
  return p;
}

/* The state, or Lua's memory error when the parser ran out of memory. */
static int push_state(lua_State *L, lparser *p, int st) {
  if (st == SOGET_HTTP1_BAD && p->h->err.nomem) {
    soget_http1_free(p->h);   /* what it holds is of no use */
    p->open = 0;
    return soget_nomem(L);
  }
  lua_pushstring(L, state_names[st]);
  return 1;
}

/* soget.http_parser([max_response_size]) -> parser */
static int parser_new(lua_State *L) {
  lua_Number max = DEFAULT_MAX;
  lparser *p;
  soget_check_nargs(L, 1, NULL);
  if (!lua_isnoneornil(L, 1)) {
    /* a number, not a string that converts to one (as options take them) */
    if (lua_type(L, 1) != LUA_TNUMBER)
      return luaL_argerror(L, 1, lua_pushfstring(L, "number expected, got %s",
                                                 luaL_typename(L, 1)));
    max = lua_tonumber(L, 1);
  }
  luaL_argcheck(L, max >= 1 && max <= 9007199254740992.0 && max == floor(max), 1,
                "must be a whole, positive number of bytes");
  p = soget_newuserdata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, SOGET_HTTP_PARSER_T);
  p->h = malloc(sizeof *p->h);
  if (p->h == NULL) return soget_nomem(L);
  soget_http1_init(p->h, (size_t)max);
  p->open = 1;
  return 1;
}

/* parser:feed(bytes) -> "more" | "done" | "bad" */
static int parser_feed(lua_State *L) {
  lparser *p;
  size_t len;
  /* (converting a number may run a finalizer that closes the parser: it
   * is checked open after) */
  const char *s = (luaL_checkudata(L, 1, SOGET_HTTP_PARSER_T), luaL_checklstring(L, 2, &len));
  p = checkparser(L);
  return push_state(L, p, soget_http1_feed(p->h, s, len));
}

/* parser:eof() -> "done" | "bad" */
static int parser_eof(lua_State *L) {
  lparser *p = checkparser(L);
  return push_state(L, p, soget_http1_eof(p->h));
}

/* parser:state() -> "more" | "done" | "bad" */
static int parser_state(lua_State *L) {
  lparser *p = checkparser(L);
  return push_state(L, p, p->h->state);
}

/* Pushes the response's six values (lua_pcall'ed by parser:response()). */
static int push_response(lua_State *L) {
  soget_http1 *h = lua_touserdata(L, 1);
  lua_pushinteger(L, (lua_Integer)h->status);
  lua_pushlstring(L, h->body.data ? h->body.data : "", h->body.len);
  if (h->retry_after.len) lua_pushlstring(L, h->retry_after.data, h->retry_after.len);
  else lua_pushnil(L);
  if (h->location.len) lua_pushlstring(L, h->location.data, h->location.len);
  else lua_pushnil(L);
  lua_pushboolean(L, h->keep_alive);
  if (h->www_authenticate.len)
    lua_pushlstring(L, h->www_authenticate.data, h->www_authenticate.len);
  else
    lua_pushnil(L);
  return 6;
}

/* parser:response() -> status, body, retry_after|nil, location|nil, keep_alive,
 *   www_authenticate|nil (every WWW-Authenticate, joined with ", ")
 * The values are pushed in a protected call (push_response, the upvalue:
 * getting it allocates nothing), so that busy is given back even when a
 * push runs out of memory. */
static int parser_response(lua_State *L) {
  lparser *p = checkparser(L);
  soget_http1 *h = p->h;
  int status;
  if (h->state != SOGET_HTTP1_DONE)
    return luaL_error(L, SOGET_HTTP_PARSER_T ": response() before the response is complete");
  lua_settop(L, 1);
  luaL_checkstack(L, 8, NULL);
  p->busy++;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushlightuserdata(L, h);
  status = lua_pcall(L, 1, 6, 0);
  if (--p->busy == 0 && p->close_pending) {
    p->close_pending = 0;
    soget_http1_free(h);
  }
  if (status != 0) return lua_error(L);
  return 6;
}

/* soget._token_invalid(www_authenticate) -> boolean: whether a 401's
 * WWW-Authenticate says the bearer token is invalid, as call:response
 * reads it (core/http.h), for soget.ngx to let go of such a token in its
 * shared cache. Not an API (types_spec leaves it out). */
int soget_token_invalid_lua(lua_State *L) {
  size_t n;
  const char *v = luaL_checklstring(L, 1, &n);
  lua_pushboolean(L, soget_bearer_invalid_token(v, n));
  return 1;
}

/* parser:error() -> message, kind, retryable[, status]: the status of the
 * answer a size limit stopped (a 200's too), for call:failed */
static int parser_error(lua_State *L) {
  lparser *p = checkparser(L);
  soget_err e;
  if (p->h->state != SOGET_HTTP1_BAD)
    return luaL_error(L, SOGET_HTTP_PARSER_T ": error() on a response that is not bad");
  e = p->h->err;   /* a copy: a finalizer run by a push below may free p->h */
  lua_pushstring(L, e.message);
  lua_pushstring(L, e.kind ? e.kind : "network");
  lua_pushboolean(L, e.retryable);
  /* (a network failure, whatever status line came before it, has none:
   * the README's rule for status) */
  if (e.status <= 0 || !e.kind || strcmp(e.kind, "http") != 0) return 3;
  lua_pushinteger(L, (lua_Integer)e.status);
  return 4;
}

/* parser:received() -> bytes fed so far */
static int parser_received(lua_State *L) {
  lparser *p = checkparser(L);
  lua_pushnumber(L, (lua_Number)p->h->received);
  return 1;
}

/* parser:decoded() -> the body's bytes so far, once undone */
static int parser_decoded(lua_State *L) {
  lparser *p = checkparser(L);
  lua_pushnumber(L, (lua_Number)p->h->body.len);
  return 1;
}

static int parser_close(lua_State *L) {
  lparser *p = luaL_checkudata(L, 1, SOGET_HTTP_PARSER_T);
  if (p->open) {
    p->open = 0;
    if (p->busy) p->close_pending = 1;   /* response() frees it when done */
    else soget_http1_free(p->h);
  }
  return 0;
}

/* As close(), and then the parser's memory; but called by a script (through
 * getmetatable) amid response(), it is close() alone: the collector calls
 * it again once the parser is unreachable. (At a lua_close amid
 * response(), which never resumes, all is freed.) */
static int parser_gc(lua_State *L) {
  lparser *p = luaL_checkudata(L, 1, SOGET_HTTP_PARSER_T);
  if (p->busy && soget_gc_amid_code(L)) return parser_close(L);
  if (p->open || p->close_pending) soget_http1_free(p->h);
  p->open = p->busy = p->close_pending = 0;
  free(p->h);
  p->h = NULL;
  return 0;
}

static int parser_tostring(lua_State *L) {
  lparser *p = luaL_checkudata(L, 1, SOGET_HTTP_PARSER_T);
  lua_pushfstring(L, SOGET_HTTP_PARSER_T " (%s)",
                  p->open ? state_names[p->h->state] : "closed");
  return 1;
}

static const luaL_Reg parser_methods[] = {{"feed", parser_feed},
                                          {"eof", parser_eof},
                                          {"state", parser_state},
                                          {"error", parser_error},
                                          {"received", parser_received},
                                          {"decoded", parser_decoded},
                                          {"close", parser_close},
                                          {NULL, NULL}};

static const luaL_Reg parser_meta[] = {{"__gc", parser_gc},
                                       {"__close", parser_close},
                                       {"__tostring", parser_tostring},
                                       {NULL, NULL}};

void soget_http_open(lua_State *L) {
  soget_class(L, SOGET_HTTP_PARSER_T, parser_methods, parser_meta);
  luaL_getmetatable(L, SOGET_HTTP_PARSER_T);
  lua_getfield(L, -1, "__index");
  lua_pushcfunction(L, push_response);
  lua_pushcclosure(L, parser_response, 1);
  lua_setfield(L, -2, "response");
  lua_pop(L, 2);
}

int soget_http_parser_new(lua_State *L) {
  return parser_new(L);
}
