/* soget.Client: options, credentials, the call loop (token, retries,
 * redirects, status mapping) and the Lua methods. */
#define _POSIX_C_SOURCE 200809L
#include "soget.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "buf.h"
#include "request.h"
#include "transport.h"

#define DEFAULT_TIMEOUT 10.0
#define DEFAULT_CONNECT_TIMEOUT 5.0
#define DEFAULT_RETRIES 2
#define MAX_RETRIES 10
#define DEFAULT_MAX_RESPONSE (8u * 1024u * 1024u)
#define RETRY_AFTER_MAX 60.0     /* never wait longer than this for a server */
#define BACKOFF_BASE 0.1
#define BACKOFF_MAX 2.0
#define MAX_REDIRECTS 5

struct soget_client {
  soget_transport *tr;
  char *client_id, *client_secret, *api_key, *base_url, *token_url;
  char *ca_file, *user_agent;
  double timeout, connect_timeout;
  int retries, verify_tls;
  size_t max_response;
  soget_auth auth;
  unsigned long rng;
  long api_requests, token_requests, retries_done;
  int closed;
  soget_buf url, redirect, scratch;
};

/* ---- time --------------------------------------------------------------- */

double soget_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void soget_sleep(double seconds) {
  struct timespec ts;
  if (!(seconds > 0)) return;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- lifecycle ---------------------------------------------------------- */

static void free_secret(char **p) {
  if (*p) {
    soget_wipe(*p, strlen(*p));
    free(*p);
    *p = NULL;
  }
}

static void client_cleanup(soget_client *c) {
  soget_transport_free(c->tr);
  c->tr = NULL;
  free_secret(&c->client_secret);
  free_secret(&c->api_key);
  free(c->client_id);
  free(c->base_url);
  free(c->token_url);
  free(c->ca_file);
  free(c->user_agent);
  c->client_id = c->base_url = c->token_url = c->ca_file = c->user_agent = NULL;
  soget_auth_free(&c->auth);
  c->auth.is_static = 0;
  if (c->scratch.data) soget_wipe(c->scratch.data, c->scratch.cap);
  soget_buf_free(&c->scratch);
  soget_buf_free(&c->url);
  soget_buf_free(&c->redirect);
  c->closed = 1;
}

soget_client *soget_checkclient(lua_State *L, int i) {
  soget_client *c = luaL_checkudata(L, i, SOGET_CLIENT_T);
  if (c->closed) luaL_error(L, "attempt to use a closed client");
  return c;
}

static int meth_close(lua_State *L) {
  soget_client *c = luaL_checkudata(L, 1, SOGET_CLIENT_T);
  client_cleanup(c);
  return 0;
}

static int meth_tostring(lua_State *L) {
  soget_client *c = luaL_checkudata(L, 1, SOGET_CLIENT_T);
  if (c->closed)
    lua_pushliteral(L, SOGET_CLIENT_T " (closed)");
  else
    lua_pushfstring(L, SOGET_CLIENT_T " (%p)", (void *)c);
  return 1;
}

/* ---- options ------------------------------------------------------------ */

static const char *const option_names[] = {
    "client_id", "client_secret", "access_token", "api_key",   "base_url",
    "token_url", "timeout",       "connect_timeout", "retries", "verify_tls",
    "ca_file",   "user_agent",    "max_response_size", NULL};

/* A string option from the table at 1, or from the environment. Raises on
 * a wrong type; `header` also refuses what cannot go into a header. */
static const char *opt_string(lua_State *L, const char *name, const char *env,
                              int header, size_t *len) {
  const char *s = NULL;
  int from_env = 0;
  lua_getfield(L, 1, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "soget.client: option '%s' must be a string, got %s", name,
                 luaL_typename(L, -1));
    s = lua_tolstring(L, -1, len);
  } else if (env) {
    s = getenv(env);
    if (s) *len = strlen(s);
    if (s && *len == 0) s = NULL;
    from_env = s != NULL;
  }
  lua_pop(L, 1);  /* the string stays reachable from the options table */
  if (s) {
    const char *why = header ? soget_header_value_problem(s, *len)
                             : (strlen(s) != *len ? "contains a NUL byte" : NULL);
    if (why)
      luaL_error(L, "soget.client: option '%s'%s %s", name,
                 from_env ? " (from the environment)" : "", why);
  }
  return s;
}

static char *dup_or_raise(lua_State *L, soget_client *c, const char *s) {
  char *d;
  size_t n;
  if (!s) return NULL;
  n = strlen(s);
  d = malloc(n + 1);
  if (!d) {
    client_cleanup(c);
    luaL_error(L, "soget.client: not enough memory");
  }
  memcpy(d, s, n + 1);
  return d;
}

static double opt_number(lua_State *L, const char *name, double dflt, double lo,
                         double hi) {
  double v = dflt;
  lua_getfield(L, 1, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "soget.client: option '%s' must be a number, got %s", name,
                 luaL_typename(L, -1));
    v = lua_tonumber(L, -1);
    if (!(v >= lo && v <= hi)) {
      char range[64];
      snprintf(range, sizeof range, "between %g and %g", lo, hi);
      luaL_error(L, "soget.client: option '%s' must be %s", name, range);
    }
  }
  lua_pop(L, 1);
  return v;
}

static int opt_bool(lua_State *L, const char *name, int dflt) {
  int v = dflt;
  lua_getfield(L, 1, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      luaL_error(L, "soget.client: option '%s' must be a boolean, got %s", name,
                 luaL_typename(L, -1));
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static int is_http_url(const char *s) {
  return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* soget.client{...}: every option is checked before anything is made. */
int soget_client_new(lua_State *L) {
  soget_client *c;
  const char *id, *secret, *token, *key, *base, *turl, *ca, *ua;
  size_t idl = 0, sl = 0, tl = 0, kl = 0, bl = 0, ul = 0, cl = 0, ual = 0;
  double retries, max_resp;
  soget_transport_opts topts;

  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int i, known = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      for (i = 0; option_names[i]; i++)
        if (strcmp(option_names[i], lua_tostring(L, -1)) == 0) known = 1;
    if (!known) {
      if (lua_type(L, -1) == LUA_TSTRING)
        return luaL_error(L, "soget.client: unknown option '%s'", lua_tostring(L, -1));
      return luaL_error(L, "soget.client: option names must be strings, got %s",
                        luaL_typename(L, -1));
    }
  }

  id = opt_string(L, "client_id", "SOGET_CLIENT_ID", 0, &idl);
  secret = opt_string(L, "client_secret", "SOGET_CLIENT_SECRET", 0, &sl);
  token = opt_string(L, "access_token", "SOGET_ACCESS_TOKEN", 1, &tl);
  key = opt_string(L, "api_key", "SOGET_API_KEY", 1, &kl);
  base = opt_string(L, "base_url", "SOGET_BASE_URL", 0, &bl);
  turl = opt_string(L, "token_url", "SOGET_TOKEN_URL", 0, &ul);
  ca = opt_string(L, "ca_file", "SOGET_CA_FILE", 0, &cl);
  ua = opt_string(L, "user_agent", NULL, 1, &ual);
  if (!base) base = SOGET_DEFAULT_BASE_URL;
  if (!turl) turl = SOGET_DEFAULT_TOKEN_URL;
  if (!is_http_url(base))
    return luaL_error(L, "soget.client: base_url must start with http:// or https://");
  if (!is_http_url(turl))
    return luaL_error(L, "soget.client: token_url must start with http:// or https://");
  if (!key)
    return luaL_error(L, "soget.client: no API key: give api_key (or set SOGET_API_KEY)");
  /* A token given in the options wins over client credentials from the
   * environment, and explicit credentials win over an environment token. */
  if (!token && !(id && secret))
    return luaL_error(L, "soget.client: no credentials: give client_id and "
                         "client_secret, or access_token (or set SOGET_CLIENT_ID "
                         "and SOGET_CLIENT_SECRET, or SOGET_ACCESS_TOKEN)");

  c = soget_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  c->closed = 1;  /* until fully built: __gc frees whatever was made */
  soget_auth_init(&c->auth);
  soget_buf_init(&c->url, 0);
  soget_buf_init(&c->scratch, 0);
  soget_buf_init(&c->redirect, 0);
  luaL_setmetatable(L, SOGET_CLIENT_T);
  lua_newtable(L);
  soget_setuv(L, -2);

  c->timeout = opt_number(L, "timeout", DEFAULT_TIMEOUT, 0.001, 86400);
  c->connect_timeout = opt_number(L, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, 0.001, 86400);
  retries = opt_number(L, "retries", DEFAULT_RETRIES, 0, MAX_RETRIES);
  if (retries != floor(retries))
    return luaL_error(L, "soget.client: option 'retries' must be an integer");
  c->retries = (int)retries;
  max_resp = opt_number(L, "max_response_size", DEFAULT_MAX_RESPONSE, 1024, 1073741824.0);
  c->max_response = (size_t)max_resp;
  c->verify_tls = opt_bool(L, "verify_tls", 1);

  /* Client credentials, when given, renew the token; a token given alone
   * is static (never renewed). Given both, the token is used first. */
  if (id && secret) {
    c->client_id = dup_or_raise(L, c, id);
    c->client_secret = dup_or_raise(L, c, secret);
  }
  if (token && soget_auth_set(&c->auth, token, tl, 0, soget_now(), !(id && secret)) != 0) {
    client_cleanup(c);
    return luaL_error(L, "soget.client: not enough memory");
  }
  c->api_key = dup_or_raise(L, c, key);
  c->base_url = dup_or_raise(L, c, base);
  c->token_url = dup_or_raise(L, c, turl);
  c->ca_file = dup_or_raise(L, c, ca);
  c->user_agent = dup_or_raise(L, c, ua);
  c->rng = (unsigned long)time(NULL) ^ (unsigned long)(size_t)c;

  topts.verify_tls = c->verify_tls;
  topts.ca_file = c->ca_file;
  topts.user_agent = c->user_agent;
  topts.max_body = c->max_response;
  c->tr = soget_transport_new(&topts);
  if (!c->tr) {
    client_cleanup(c);
    return luaL_error(L, "soget.client: cannot set up libcurl");
  }
  c->closed = 0;
  return 1;
}

/* ---- queries ------------------------------------------------------------ */

static const char *const query_names[] = {"reference", "spi", "desc", "limit",
                                          "offset", NULL};

static void check_text(lua_State *L, int i, const char *name, size_t max) {
  size_t len;
  const char *s, *why;
  if (lua_type(L, i) != LUA_TSTRING)
    luaL_error(L, "handling_units: '%s' must be a string, got %s", name,
               luaL_typename(L, i));
  s = lua_tolstring(L, i, &len);
  if (soget_utf8_len(s, len) > max)
    luaL_error(L, "handling_units: '%s' is longer than %d characters", name, (int)max);
  why = soget_query_value_problem(s, len);
  if (why) luaL_error(L, "handling_units: '%s' %s", name, why);
}

static lua_Number check_whole(lua_State *L, int i, const char *name,
                              lua_Number lo, lua_Number hi) {
  lua_Number v;
  if (lua_type(L, i) != LUA_TNUMBER)
    luaL_error(L, "handling_units: '%s' must be a number, got %s", name,
               luaL_typename(L, i));
  v = lua_tonumber(L, i);
  if (v != v || v != floor(v))
    luaL_error(L, "handling_units: '%s' must be a whole number", name);
  if (v < lo || v > hi) {
    char range[64];
    snprintf(range, sizeof range, "between %.0f and %.0f", (double)lo, (double)hi);
    luaL_error(L, "handling_units: '%s' must be %s", name, range);
  }
  return v;
}

void soget_check_query(lua_State *L, int i) {
  int q, has_ref = 0, has_spi = 0;
  i = lua_absindex(L, i);
  if (lua_type(L, i) == LUA_TSTRING) {  /* client:handling_units("CGMU...") */
    check_text(L, i, "reference", SOGET_REFERENCE_MAX);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, i);
    lua_setfield(L, -2, "reference");
    if (lua_rawlen(L, i) == 0) luaL_error(L, "handling_units: give a reference or an spi");
    return;
  }
  if (lua_type(L, i) != LUA_TTABLE)
    luaL_error(L, "handling_units: query must be a table or a reference string, got %s",
               luaL_typename(L, i));
  lua_newtable(L);
  q = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, i)) {
    int k, which = -1;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (k = 0; query_names[k]; k++)
        if (strcmp(query_names[k], lua_tostring(L, -2)) == 0) which = k;
    if (which < 0) {
      if (lua_type(L, -2) == LUA_TSTRING)
        luaL_error(L, "handling_units: unknown query key '%s'", lua_tostring(L, -2));
      luaL_error(L, "handling_units: query keys must be strings, got %s",
                 luaL_typename(L, -2));
    }
    switch (which) {
      case 0: check_text(L, -1, "reference", SOGET_REFERENCE_MAX);
              has_ref = lua_rawlen(L, -1) > 0; break;
      case 1: check_text(L, -1, "spi", SOGET_SPI_MAX);
              has_spi = lua_rawlen(L, -1) > 0; break;
      case 2:
        if (lua_type(L, -1) != LUA_TBOOLEAN)
          luaL_error(L, "handling_units: 'desc' must be a boolean, got %s",
                     luaL_typename(L, -1));
        break;
      case 3: check_whole(L, -1, "limit", 1, SOGET_LIMIT_MAX); break;
      case 4: check_whole(L, -1, "offset", 0, (lua_Number)SOGET_OFFSET_MAX); break;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, q);
  }
  if (!has_ref && !has_spi)
    luaL_error(L, "handling_units: give a reference or an spi");
}

/* Fills a soget_query from the normalized query table at qi; the strings
 * stay owned by that table. */
static void read_query(lua_State *L, int qi, soget_query *q, long offset) {
  soget_query_init(q);
  lua_getfield(L, qi, "reference");
  if (lua_type(L, -1) == LUA_TSTRING) q->reference = lua_tolstring(L, -1, &q->reference_len);
  lua_getfield(L, qi, "spi");
  if (lua_type(L, -1) == LUA_TSTRING) q->spi = lua_tolstring(L, -1, &q->spi_len);
  lua_getfield(L, qi, "desc");
  if (lua_type(L, -1) == LUA_TBOOLEAN) q->desc = lua_toboolean(L, -1);
  lua_getfield(L, qi, "limit");
  if (lua_type(L, -1) == LUA_TNUMBER) q->limit = (int)lua_tonumber(L, -1);
  lua_getfield(L, qi, "offset");
  if (lua_type(L, -1) == LUA_TNUMBER) q->offset = (long)lua_tonumber(L, -1);
  lua_pop(L, 5);
  if (offset >= 0) q->offset = offset;
}

/* ---- the call loop ------------------------------------------------------ */

static double rand01(soget_client *c) {
  c->rng = c->rng * 6364136223846793005UL + 1442695040888963407UL;
  return (double)((c->rng >> 11) & 0xFFFFF) / (double)0x100000;
}

static void scrub(soget_client *c, soget_err *e) {
  const char *secrets[4];
  secrets[0] = c->client_secret;
  secrets[1] = c->api_key;
  secrets[2] = c->auth.token;
  secrets[3] = NULL;
  soget_err_scrub(e, secrets, 3);
}

static long ms_left(double deadline) {
  double left = deadline - soget_now();
  return left <= 0 ? 0 : (long)ceil(left * 1000.0);
}

/* Sleeps before retry number `attempt` (0-based) unless that would pass
 * the deadline. `hint` is the server's Retry-After (< 0: none). */
static int wait_before_retry(soget_client *c, int attempt, double hint,
                             double deadline) {
  double d;
  if (hint >= 0) {
    d = hint > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : hint;
  } else {
    d = BACKOFF_BASE * (double)(1L << (attempt > 10 ? 10 : attempt));
    if (d > BACKOFF_MAX) d = BACKOFF_MAX;
    d = d / 2 + d / 2 * rand01(c);   /* jitter */
  }
  if (soget_now() + d >= deadline) return 0;
  soget_sleep(d);
  c->retries_done++;
  return 1;
}

static int status_retryable(long s) {
  return s == 408 || s == 429 || s == 502 || s == 503 || s == 504;
}

/* Fetches a token (POST, never retried). 0, or -1 with e filled. */
static int fetch_token(lua_State *L, soget_client *c, double deadline, soget_err *e) {
  const char *headers[3];
  soget_http_request rq;
  soget_http_response rs;
  double expires_in;
  size_t tl;
  const char *tok;

  if (!c->client_id || !c->client_secret) {
    soget_err_set(e, "auth", 401, 0, "the access token was refused and no "
                  "client credentials were given to get another");
    return -1;
  }
  soget_buf_reset(&c->scratch);
  if (soget_request_token_form(&c->scratch, c->client_id, c->client_secret) != 0) {
    soget_err_set(e, "network", 0, 0, "out of memory building the token request");
    return -1;
  }
  headers[0] = "Content-Type: application/x-www-form-urlencoded";
  headers[1] = "Accept: application/json";
  headers[2] = NULL;
  rq.post = 1;
  rq.url = c->token_url;
  rq.headers = headers;
  rq.body = c->scratch.data;
  rq.body_len = c->scratch.len;
  rq.timeout_ms = ms_left(deadline);
  rq.connect_timeout_ms = (long)(c->connect_timeout * 1000);
  if (rq.connect_timeout_ms > rq.timeout_ms) rq.connect_timeout_ms = rq.timeout_ms;
  if (rq.timeout_ms <= 0) {
    soget_err_set(e, "timeout", 0, 1, "timeout reached before the token request");
    return -1;
  }
  c->token_requests++;
  if (soget_transport_perform(c->tr, &rq, &rs, e) != 0) {
    static const char prefix[] = "token request: ";
    size_t n = sizeof prefix - 1;
    soget_wipe(c->scratch.data, c->scratch.len);
    memmove(e->message + n, e->message, sizeof e->message - n - 1);
    e->message[sizeof e->message - 1] = '\0';
    memcpy(e->message, prefix, n);
    return -1;
  }
  soget_wipe(c->scratch.data, c->scratch.len);
  if (rs.status != 200) {
    char code[64], msg[256];
    int known = soget_decode_error_fields(L, rs.body->data, rs.body->len, "error",
                                          code, sizeof code, "error_description",
                                          msg, sizeof msg);
    if (rs.status == 400 || rs.status == 401 || rs.status == 403)
      soget_err_set(e, "auth", rs.status, 0, "token request refused: %s%s%s",
                    known && code[0] ? code : "the client credentials were not accepted",
                    msg[0] ? ": " : "", msg);
    else
      soget_err_set(e, "http", rs.status, status_retryable(rs.status),
                    "token request failed with HTTP %ld%s%s", rs.status,
                    msg[0] ? ": " : "", msg);
    return -1;
  }
  expires_in = soget_decode_token(L, rs.body->data, rs.body->len, e);
  if (expires_in < 0) return -1;
  tok = lua_tolstring(L, -1, &tl);
  if (soget_header_value_problem(tok, tl)) {
    lua_pop(L, 1);
    soget_err_set(e, "auth", 0, 0, "token response has an access_token that "
                  "cannot be sent in a header");
    return -1;
  }
  if (soget_auth_set(&c->auth, tok, tl, expires_in, soget_now(), 0) != 0) {
    lua_pop(L, 1);
    soget_err_set(e, "network", 0, 0, "out of memory storing the token");
    return -1;
  }
  lua_pop(L, 1);
  return 0;
}

static void body_error(lua_State *L, soget_http_response *rs, soget_err *e,
                       const char *kind, int retryable, const char *what) {
  char code[sizeof e->code], msg[256];
  soget_decode_error_fields(L, rs->body->data, rs->body->len, "code", code,
                            sizeof code, "message", msg, sizeof msg);
  soget_err_set(e, kind, rs->status, retryable, "%s", msg[0] ? msg : what);
  memcpy(e->code, code, sizeof code);
}

/* The whole call: token, request, retries, redirects, status mapping. */
static int client_call(lua_State *L, soget_client *c, const soget_query *q,
                       soget_err *e) {
  double deadline = soget_now() + c->timeout;
  int attempt = 0, renewed = 0, redirects = 0;
  const char *headers[4];
  soget_http_request rq;
  soget_http_response rs;
  char *url;
  soget_buf hdr;

  soget_buf_reset(&c->url);
  if (soget_request_url(&c->url, c->base_url, q) != 0) {
    soget_err_set(e, "network", 0, 0, "out of memory building the URL");
    return 0;
  }
  url = c->url.data;
  soget_buf_init(&hdr, 0);
  for (;;) {
    int r;
    if (soget_auth_needs_token(&c->auth, soget_now())) {
      if (fetch_token(L, c, deadline, e) != 0) break;
    }
    soget_buf_reset(&hdr);
    if (soget_buf_reserve(&hdr, c->auth.token_len + strlen(c->api_key) + 64) != 0) {
      soget_err_set(e, "network", 0, 0, "out of memory building the request");
      break;
    }
    /* Two NUL-separated header lines in one buffer, wiped after use. */
    soget_buf_adds(&hdr, "Authorization: Bearer ");
    soget_buf_add(&hdr, c->auth.token, c->auth.token_len);
    soget_buf_add(&hdr, "", 1);
    {
      size_t second = hdr.len;
      soget_buf_adds(&hdr, "Ocp-Apim-Subscription-Key: ");
      soget_buf_adds(&hdr, c->api_key);
      headers[0] = hdr.data;
      headers[1] = hdr.data + second;
    }
    headers[2] = "Accept: application/json";
    headers[3] = NULL;
    rq.post = 0;
    rq.url = url;
    rq.headers = headers;
    rq.body = NULL;
    rq.body_len = 0;
    rq.timeout_ms = ms_left(deadline);
    rq.connect_timeout_ms = (long)(c->connect_timeout * 1000);
    if (rq.connect_timeout_ms > rq.timeout_ms) rq.connect_timeout_ms = rq.timeout_ms;
    if (rq.timeout_ms <= 0) {
      soget_err_set(e, "timeout", 0, 1, "timeout reached (%.3g s) before the request completed",
                    c->timeout);
      break;
    }
    c->api_requests++;
    r = soget_transport_perform(c->tr, &rq, &rs, e);
    soget_wipe(hdr.data, hdr.len);
    if (r != 0) {
      if (e->retryable && strcmp(e->kind, "network") == 0 && attempt < c->retries &&
          wait_before_retry(c, attempt, -1, deadline)) {
        attempt++;
        continue;
      }
      break;
    }
    if (rs.status == 200) {
      if (soget_decode_page(L, rs.body->data, rs.body->len, q->offset, e)) {
        soget_buf_free(&hdr);
        return 1;
      }
      break;
    }
    if (rs.status == 404) {
      char code[16], msg[128];
      if (soget_decode_error_fields(L, rs.body->data, rs.body->len, "code", code,
                                    sizeof code, "message", msg, sizeof msg) &&
          strcmp(code, "R001") == 0) {
        soget_push_empty_page(L, q->offset);
        soget_buf_free(&hdr);
        return 1;
      }
      body_error(L, &rs, e, "http", 0, "not found (is base_url right?)");
      break;
    }
    if (rs.status == 401) {
      if (!renewed && soget_auth_invalidate(&c->auth)) {
        renewed = 1;
        continue;
      }
      body_error(L, &rs, e, "auth", 0, "the API refused the credentials");
      break;
    }
    if (rs.status == 403) {
      body_error(L, &rs, e, "auth", 0, "the API refused access (forbidden)");
      break;
    }
    if (rs.status >= 300 && rs.status < 400) {
      if (rs.redirect[0] && redirects < MAX_REDIRECTS &&
          soget_same_origin(rs.redirect, c->base_url) == 1) {
        redirects++;
        soget_buf_reset(&c->redirect);
        if (soget_buf_adds(&c->redirect, rs.redirect) != 0) {
          soget_err_set(e, "network", 0, 0, "out of memory following a redirect");
          break;
        }
        url = c->redirect.data;
        continue;
      }
      soget_err_set(e, "http", rs.status, 0, rs.redirect[0]
                    ? (redirects >= MAX_REDIRECTS ? "too many redirects"
                       : "redirect to another host not followed: credentials are "
                         "only sent to the API's own host")
                    : "redirect without a usable Location");
      break;
    }
    if (status_retryable(rs.status)) {
      if (attempt < c->retries && wait_before_retry(c, attempt, rs.retry_after, deadline)) {
        attempt++;
        continue;
      }
      body_error(L, &rs, e, "http", 1, "the service is unavailable");
      if (rs.retry_after >= 0) {
        size_t n = strlen(e->message);
        snprintf(e->message + n, sizeof e->message - n,
                 " (Retry-After %.0f s; %d retr%s made)", rs.retry_after, attempt,
                 attempt == 1 ? "y" : "ies");
      }
      break;
    }
    if (rs.status == 400) {
      body_error(L, &rs, e, "api", 0, "bad request");
      break;
    }
    {
      char what[64];
      snprintf(what, sizeof what, "unexpected HTTP status %ld", rs.status);
      body_error(L, &rs, e, "http", 0, what);
    }
    break;
  }
  soget_wipe(hdr.data, hdr.cap);
  soget_buf_free(&hdr);
  scrub(c, e);
  return 0;
}

int soget_client_fetch(lua_State *L, soget_client *c, int qi, long offset,
                       soget_err *e) {
  soget_query q;
  int ok;
  qi = lua_absindex(L, qi);
  read_query(L, qi, &q, offset);
  /* The strings in q are owned by the query table, which stays on the
   * stack (at qi) for the whole call. */
  ok = client_call(L, c, &q, e);
  return ok;
}

/* ---- Lua methods -------------------------------------------------------- */

/* client:handling_units(query) -> page | nil, err */
static int meth_handling_units(lua_State *L) {
  soget_client *c = soget_checkclient(L, 1);
  soget_err e;
  lua_settop(L, 2);
  soget_check_query(L, 2);   /* 3: normalized query */
  soget_err_clear(&e);
  if (!soget_client_fetch(L, c, 3, -1, &e)) return soget_fail(L, &e);
  soget_page_attach(L, lua_gettop(L), 1, 3);
  return 1;
}

/* client:stats() -> {api_requests, token_requests, retries, connections} */
static int meth_stats(lua_State *L) {
  soget_client *c = soget_checkclient(L, 1);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)c->api_requests);
  lua_setfield(L, -2, "api_requests");
  lua_pushinteger(L, (lua_Integer)c->token_requests);
  lua_setfield(L, -2, "token_requests");
  lua_pushinteger(L, (lua_Integer)c->retries_done);
  lua_setfield(L, -2, "retries");
  lua_pushinteger(L, (lua_Integer)soget_transport_connections(c->tr));
  lua_setfield(L, -2, "connections");
  return 1;
}

static const luaL_Reg client_methods[] = {
    {"handling_units", meth_handling_units},
    {"stats", meth_stats},
    {"close", meth_close},
    {NULL, NULL}};

static const luaL_Reg client_meta[] = {
    {"__gc", meth_close},
    {"__close", meth_close},
    {"__tostring", meth_tostring},
    {NULL, NULL}};

void soget_client_open(lua_State *L) {
  luaL_newmetatable(L, SOGET_CLIENT_T);
  luaL_setfuncs(L, client_meta, 0);
  luaL_newlib(L, client_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
