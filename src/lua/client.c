/* soget.Client: options, the blocking driver of the core's call steps
 * (core/call.h) over the libcurl transport, soget.Call (the same steps
 * for drivers written in Lua), and the Lua methods. */
#define _POSIX_C_SOURCE 200809L
#include "soget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/auth.h"
#include "core/buf.h"
#include "core/call.h"
#include "core/http1.h"
#include "core/request.h"
#include "core/sha256.h"
#include "exact.h"
#include "io/transport.h"

#define DEFAULT_TIMEOUT 10.0
#define DEFAULT_CONNECT_TIMEOUT 5.0
#define DEFAULT_RETRIES 2
#define MAX_RETRIES 10
#define DEFAULT_MAX_RESPONSE (8u * 1024u * 1024u)

/* A thread's hook as it was when a wait began (hook_asked). */
typedef struct hook_watch {
  lua_State *T;   /* NULL: nothing watched */
  lua_Hook hook;
  int mask, count;
} hook_watch;

struct soget_client {
  soget_engine eng;            /* configuration, token state, counters */
  soget_transport *tr;
  char *ca_file, *user_agent;
  int verify_tls, gzip;
  /* SOGET_SEARCH_BASE_URL was left out, not on the host of the base_url
   * given: a search raises (soget_need_api) */
  int search_foreign;
  size_t max_response;
  soget_http1_cache url_cache;   /* call:request_bytes(): the last URL sent to */
  int closed;
  /* Lua can run in the middle of a call (any allocation can run a
   * finalizer, any call a hook), and a finalizer can call close(): while
   * a call holds the client, close() only marks it, and the last release
   * frees. `in_transport`: a blocking or bulk call is using the transport
   * (its handles and response buffer), which a nested one must not touch. */
  int holds, close_pending, in_transport;
  /* Ctrl-C (hook_asked): the thread whose hook tells, NULL when
   * Lua 5.1 cannot tell (then the calling one); while a call takes the
   * transport, the thread watched and its hook when the call began. */
  lua_State *main;
  hook_watch watch;
  soget_stop stop;   /* the transport's (soget_transport_set_stop) */
};
/* ---- lifecycle ---------------------------------------------------------- */

static void client_cleanup(soget_client *c) {
  soget_transport_free(c->tr);
  c->tr = NULL;
  soget_engine_free(&c->eng);
  free(c->ca_file);
  free(c->user_agent);
  c->ca_file = c->user_agent = NULL;
  soget_http1_cache_free(&c->url_cache);
  c->closed = 1;
  c->close_pending = 0;
}

soget_client *soget_checkclient(lua_State *L, int i) {
  soget_client *c = luaL_checkudata(L, i, SOGET_CLIENT_T);
  if (c->closed || c->close_pending) luaL_error(L, "attempt to use a closed client");
  return c;
}

void soget_client_hold(soget_client *c) {
  c->holds++;
}

void soget_client_release(soget_client *c) {
  if (c->holds > 0 && --c->holds == 0 && c->close_pending) client_cleanup(c);
}

/* Ctrl-C in the standalone interpreter (lua.c, luajit.c) sets a hook on
 * the main thread, with every event and a count of 1, that raises
 * "interrupted!" at the next instruction: while soget waits in C (a
 * request out, a retry's sleep), nothing would run it until the call
 * ended. So a call looks, whenever libcurl steps a transfer or a signal
 * wakes a wait, at whether such a hook (a count of 1) was set since the
 * call began, and stops: it returns at once, and the hook raises. A hook
 * set before the call (a debugger's, a profiler's) never stops it. */
static void hook_watch_start(hook_watch *w, lua_State *T) {
  w->T = T;
  w->hook = lua_gethook(T);
  w->mask = lua_gethookmask(T);
  w->count = lua_gethookcount(T);
}

static int hook_asked(void *ud) {   /* a soget_stop's asked: ud a hook_watch */
  const hook_watch *w = ud;
  int mask, count;
  if (!w->T) return 0;
  mask = lua_gethookmask(w->T);
  count = lua_gethookcount(w->T);
  return (mask & LUA_MASKCOUNT) && count == 1 &&
         (lua_gethook(w->T) != w->hook || mask != w->mask || count != w->count);
}

/* soget._sleep(seconds) -> true, or false when Ctrl-C ended it (the
 * interpreter's hook then raises at the next instruction): the soget
 * command's waits (watch). A `sleep` child that os.execute runs leaves
 * SIGINT ignored in the caller (system()), so a SIGINT sent to the
 * process alone, not to its group, was lost; this one wakes the wait. */
int soget_sleep_lua(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  lua_State *main;
  hook_watch w;
  soget_stop stop;
  luaL_argcheck(L, s >= 0 && s <= 86400, 1, "must be a number of seconds from 0 to 86400");
  lua_settop(L, 1);
  main = soget_push_main_thread(L);   /* 2: kept on the stack for the wait */
  hook_watch_start(&w, main ? main : L);
  stop.asked = hook_asked;
  stop.ud = &w;
  lua_pushboolean(L, soget_sleep(s, &stop) == 0);
  return 1;
}

int soget_client_take_transport(lua_State *L, soget_client *c) {
  if (c->in_transport) return -1;
  c->in_transport = 1;
  hook_watch_start(&c->watch, c->main ? c->main : L);
  return 0;
}

/* Lua code the call ran itself (handling_units_many's on_result) may set
 * a hook of its own: taken for the one present since. (Ctrl-C's hook, set
 * while that code ran, raised in it at its next instruction.) */
void soget_client_rewatch(soget_client *c) {
  if (c->watch.T) hook_watch_start(&c->watch, c->watch.T);
}

void soget_client_give_transport(soget_client *c) {
  c->in_transport = 0;
  c->watch.T = NULL;
}

const soget_stop *soget_client_stop(const soget_client *c) {
  return &c->stop;
}

struct soget_transport *soget_client_transport(soget_client *c) {
  return c->tr;
}

soget_engine *soget_client_engine(soget_client *c) {
  return &c->eng;
}

/* client:close(): at once, or when the calls that hold the client end. */
static int meth_close(lua_State *L) {
  soget_client *c = luaL_checkudata(L, 1, SOGET_CLIENT_T);
  if (c->holds > 0) c->close_pending = 1;
  else client_cleanup(c);
  return 0;
}

/* __gc: nothing runs on a client the collector finalizes but at a
 * lua_close amid a call, whose frames never resume: freed whole. A script
 * can also call it, through getmetatable, from a finalizer amid a call:
 * then it is close(), and frees nothing under the running call. */
static int meth_gc(lua_State *L) {
  soget_client *c = luaL_checkudata(L, 1, SOGET_CLIENT_T);
  if (c->holds > 0 && soget_gc_amid_code(L)) c->close_pending = 1;
  else client_cleanup(c);
  return 0;
}

static int meth_tostring(lua_State *L) {
  soget_client *c = luaL_checkudata(L, 1, SOGET_CLIENT_T);
  if (c->closed || c->close_pending)
    lua_pushliteral(L, SOGET_CLIENT_T " (closed)");
  else
    lua_pushfstring(L, SOGET_CLIENT_T " (%p)", (void *)c);
  return 1;
}

/* ---- options ------------------------------------------------------------ */

enum {   /* soget_options' entries */
  OPT_CLIENT_ID, OPT_CLIENT_SECRET, OPT_ACCESS_TOKEN, OPT_API_KEY, OPT_BASE_URL,
  OPT_TOKEN_URL, OPT_SEARCH_BASE_URL, OPT_SEARCH_API_KEY, OPT_CA_FILE, OPT_VERIFY_TLS, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT,
  OPT_RETRIES, OPT_USER_AGENT, OPT_MAX_RESPONSE_SIZE, OPT_GZIP, OPT_PROXY, OPT_NO_PROXY,
  OPT_COUNT
};

/* `header`: also refuses what cannot go into a header; the others refuse
 * a NUL byte (they become C strings). */
#define STR(n, e, is_secret, header)                                      \
  {.name = n, .type = SOGET_OPT_STRING, .env = e, .secret = is_secret,    \
   .check = (header) ? SOGET_OPT_CHECK_HEADER : SOGET_OPT_CHECK_NUL}
/* A URL: no NUL, and at most SOGET_URL_MAX bytes. */
#define URL(n, e, is_secret)                                              \
  {.name = n, .type = SOGET_OPT_STRING, .env = e, .secret = is_secret,    \
   .check = SOGET_OPT_CHECK_NUL, .max_bytes = SOGET_URL_MAX}
#define NUM(n, lo, hi, is_whole) \
  {.name = n, .type = SOGET_OPT_NUMBER, .min = lo, .max = hi, .whole = is_whole}
#define BOOL(n) {.name = n, .type = SOGET_OPT_BOOLEAN}
const soget_option soget_options[] = {
    [OPT_CLIENT_ID] = STR("client_id", "SOGET_CLIENT_ID", 0, 0),
    [OPT_CLIENT_SECRET] = STR("client_secret", "SOGET_CLIENT_SECRET", 1, 0),
    [OPT_ACCESS_TOKEN] = STR("access_token", "SOGET_ACCESS_TOKEN", 1, 1),
    [OPT_API_KEY] = STR("api_key", "SOGET_API_KEY", 1, 1),
    [OPT_BASE_URL] = URL("base_url", "SOGET_BASE_URL", 0),
    [OPT_TOKEN_URL] = URL("token_url", "SOGET_TOKEN_URL", 0),
    [OPT_SEARCH_BASE_URL] = URL("search_base_url", "SOGET_SEARCH_BASE_URL", 0),
    [OPT_SEARCH_API_KEY] = STR("search_api_key", "SOGET_SEARCH_API_KEY", 1, 1),
    [OPT_CA_FILE] = STR("ca_file", "SOGET_CA_FILE", 0, 0),
    [OPT_VERIFY_TLS] = BOOL("verify_tls"),
    [OPT_TIMEOUT] = NUM("timeout", 0.001, 86400, 0),
    [OPT_CONNECT_TIMEOUT] = NUM("connect_timeout", 0.001, 86400, 0),
    [OPT_RETRIES] = NUM("retries", 0, MAX_RETRIES, 1),
    [OPT_USER_AGENT] = STR("user_agent", NULL, 0, 1),
    [OPT_MAX_RESPONSE_SIZE] = NUM("max_response_size", 1024, 1073741824.0, 1),
    [OPT_GZIP] = BOOL("gzip"),
    /* A proxy URL may hold a user and a password; the environment's
     * proxy variables are read by libcurl's rules (io/curl_easy.c), not
     * through a SOGET_* variable. */
    [OPT_PROXY] = URL("proxy", NULL, 1),
    [OPT_NO_PROXY] = STR("no_proxy", NULL, 0, 0),
    [OPT_COUNT] = {.name = NULL}};
#undef STR
#undef URL
#undef NUM
#undef BOOL

static const soget_opt_reader client_reader = {
    .opts = soget_options,
    .who = "soget.client",
    .label = "option ",
    SOGET_OPT_MESSAGES,
    .nil_ok = 1,
    .range = "between %.15g and %.15g",   /* 1073741824, not 1.07374e+09 */
    .fraction = "must be an integer"};

static char *dup_or_raise(lua_State *L, soget_client *c, const char *s) {
  char *d;
  size_t n;
  if (!s) return NULL;
  n = strlen(s);
  d = malloc(n + 1);
  if (!d) {
    client_cleanup(c);
    soget_nomem(L);
  }
  memcpy(d, s, n + 1);
  return d;
}

/* NULL when s is an absolute http(s) URL soget can send requests to, else
 * why not: a base URL (is_base: paths and queries are appended to it, so it
 * holds no query or fragment) or the token URL (no fragment, which would
 * never be sent). Checked when the client is made, not at its first call. */
static const char *url_problem(const char *s, int is_base) {
  const char *p;
  if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
    return "must start with http:// or https://";
  for (p = s; *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
      return "contains a space, a line break or another control character";
  if (is_base && strpbrk(s, "?#")) return "must hold no query (?) or fragment (#)";
  if (strchr(s, '#')) return "must hold no fragment (#)";
  if (!soget_url_valid(s)) return "is not a valid URL";
  /* libcurl would send them as Basic credentials in one driver and not in
   * another, and they would be one more secret to keep out of errors */
  if (soget_url_has_userinfo(s))
    return "must hold no user or password (user:password@): the credentials are client_id "
           "and client_secret";
  return NULL;
}

/* The URL of another of SOGET's endpoints taken when none is given, from
 * the base URL given (NULL when none: the defaults' own, dflt): beside a
 * base URL whose path ends in TRACING_PATH, the same prefix followed by
 * tail (pushed, it stays on the stack until the client is made); else
 * NULL, also when it would be longer than a URL may be given. SOGET's
 * platforms (and the sandbox) put the in-mass API and the token endpoint
 * so beside the tracing API. */
#define TRACING_PATH "/api-tracing-code/v1"
#define IN_MASS_PATH "/api-tracing-code-in-mass/v1"
#define TOKEN_PATH "/soget-connect/v1/openid-connect/token"
static const char *url_beside(lua_State *L, const char *base, const char *tail,
                              const char *dflt) {
  size_t n, tl = sizeof TRACING_PATH - 1;
  const char *sep, *path;
  if (!base) return dflt;
  n = strlen(base);
  if (n > 0 && base[n - 1] == '/') n--;
  if (n < tl || memcmp(base + n - tl, TRACING_PATH, tl) != 0) return NULL;
  /* in the path: https://api-tracing-code/v1 is another host's */
  sep = strstr(base, "://");
  path = sep ? strchr(sep + 3, '/') : NULL;
  if (!path || base + n - tl < path) return NULL;
  if (n - tl + strlen(tail) > SOGET_URL_MAX) return NULL;   /* too long to give */
  lua_pushlstring(L, base, n - tl);
  lua_pushstring(L, tail);
  lua_concat(L, 2);
  return lua_tostring(L, -1);
}

void soget_need_api(lua_State *L, const soget_client *c, int qi, const char *who, int index) {
  int search;
  if (c->eng.search_base_url && c->eng.api_key) return;
  search = soget_query_params(L, qi);
  lua_pop(L, 1);
  if (search ? c->eng.search_base_url != NULL : c->eng.api_key != NULL) return;
  if (index > 0) lua_pushfstring(L, "%s: query %d", who, index);
  else lua_pushstring(L, who);
  if (!search)
    luaL_error(L, "%s: no API key for lookups (the client has a search_api_key only): give "
                  "api_key, or set SOGET_API_KEY", lua_tostring(L, -1));
  if (c->search_foreign)
    luaL_error(L, "%s: SOGET_SEARCH_BASE_URL (from the environment) is not on base_url's "
                  "host, and the token and API key would go there: give search_base_url, or "
                  "unset SOGET_SEARCH_BASE_URL (beside a base_url whose path ends in "
                  "/api-tracing-code/v1 it is taken from base_url)", lua_tostring(L, -1));
  luaL_error(L, "%s: no search_base_url for this base_url (it is taken beside a base_url "
                "whose path ends in /api-tracing-code/v1, when it fits in %d bytes): give "
                "search_base_url, or set SOGET_SEARCH_BASE_URL", lua_tostring(L, -1),
                SOGET_URL_MAX);
}

/* NULL when s can be the proxy option ("" for none, or an http:// URL
 * with a host), else why not. Other kinds of proxies (https://, SOCKS)
 * come from the environment only. The value is never quoted: it may
 * hold a password. */
static const char *proxy_problem(const char *s) {
  const char *p;
  if (!*s) return NULL;
  if (strncmp(s, "http://", 7) != 0) return "must be \"\" (none) or start with http://";
  for (p = s; *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
      return "contains a space, a line break or another control character";
  if (!soget_url_valid(s)) return "is not a valid URL";
  /* (an '@' in a path or a query would read as the end of a password) */
  if (!soget_url_is_origin(s))
    return "has a path, a query or a fragment: a proxy URL is http://[user:password@]host:port";
  return NULL;
}

/* The longest string libcurl takes as an option (CURL_MAX_INPUT_LENGTH). */
#define CURL_STRING_MAX 8000000

/* NULL when s is a list of hosts libcurl can read as no_proxy. */
static const char *no_proxy_problem(const char *s) {
  if (strlen(s) > CURL_STRING_MAX) return "is longer than libcurl takes (8000000 bytes)";
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
      return "contains a line break or another control character";
  return NULL;
}

/* NULL when s may name a CA bundle. One that does not exist yet is left
 * to the first connection (a TLS error then, as for a file that is not
 * PEM). What exists must be a regular file: the TLS library opens it at
 * each new connection, and a FIFO would block that open until a writer
 * came, past every timeout and Ctrl-C; a device would never end. */
static const char *ca_file_problem(const char *s) {
  struct stat st;
  /* (the environment's empty variable counts as unset; an empty option
   * named no file, which the first connection then failed to open) */
  if (!*s) return "is empty: leave it out to trust the system's store";
  if (strlen(s) > CURL_STRING_MAX) return "is longer than libcurl takes (8000000 bytes)";
  if (stat(s, &st) == 0 && !S_ISREG(st.st_mode))
    return S_ISDIR(st.st_mode) ? "is a directory, not a CA bundle (a PEM file)"
                               : "is not a regular file (a PEM file)";
  return NULL;
}

static double number_or(const soget_optval *v, double dflt) {
  return v->given ? v->n : dflt;
}

static int boolean_or(const soget_optval *v, int dflt) {
  return v->given ? v->b : dflt;
}

/* Whether url, option o's, is a URL of the environment beside a base_url
 * (base) the script (or a CLI profile) gave, on another origin: one left
 * in the shell from another environment, which would get this client's
 * secrets. Both from the environment, or o given as an option, are the
 * caller's choice. */
static int env_url_foreign(const soget_optval *v, int o, const char *url, const char *base) {
  return v[o].from_env && v[OPT_BASE_URL].s && !v[OPT_BASE_URL].from_env &&
         soget_same_origin(url, base) != 1;
}

/* soget.client{...}: every option is checked before anything is made. */
int soget_client_new(lua_State *L) {
  soget_client *c;
  lua_State *main;
  soget_optval v[OPT_COUNT];
  const char *id, *secret, *token, *key, *base, *turl, *sbase, *why;
  int search_foreign, turl_foreign = 0;
  soget_transport_opts topts;

  soget_check_nargs(L, 1, "every option goes in the one table");
  lua_settop(L, 1);
  /* The strings given stay on the stack until the client is made. */
  soget_opt_read(L, 1, &client_reader, 0, v);
  /* (a value the script never gave is named as the environment's, as the
   * options' own checks name it) */
#define FROM_ENV(o) (v[o].from_env ? " (from the environment)" : "")
  id = v[OPT_CLIENT_ID].s;
  secret = v[OPT_CLIENT_SECRET].s;
  token = v[OPT_ACCESS_TOKEN].s;
  key = v[OPT_API_KEY].s;
  base = v[OPT_BASE_URL].s;
  turl = v[OPT_TOKEN_URL].s;
  if (!base) base = SOGET_DEFAULT_BASE_URL;
  sbase = v[OPT_SEARCH_BASE_URL].s;
  if ((why = url_problem(base, 1)) != NULL)
    return luaL_error(L, "soget.client: base_url%s %s", FROM_ENV(OPT_BASE_URL), why);
  if (sbase && (why = url_problem(sbase, 1)) != NULL)
    return luaL_error(L, "soget.client: search_base_url%s %s", FROM_ENV(OPT_SEARCH_BASE_URL),
                      why);
  /* Not given: the in-mass API beside the tracing API, as SOGET's platforms
   * (and the sandbox) have it; else none, and a search raises (see
   * soget_need_api): the default one would get the token of
   * another environment. */
  if (!sbase)
    sbase = url_beside(L, v[OPT_BASE_URL].s, IN_MASS_PATH, SOGET_DEFAULT_SEARCH_BASE_URL);
  /* The same for the token endpoint: the client secret goes there, and the
   * default one is another environment's. */
  if (!turl) turl = url_beside(L, v[OPT_BASE_URL].s, TOKEN_PATH, SOGET_DEFAULT_TOKEN_URL);
  if (turl && (why = url_problem(turl, 0)) != NULL)
    return luaL_error(L, "soget.client: token_url%s %s", FROM_ENV(OPT_TOKEN_URL), why);
  if (v[OPT_PROXY].s && (why = proxy_problem(v[OPT_PROXY].s)) != NULL)
    return luaL_error(L, "soget.client: proxy%s %s", FROM_ENV(OPT_PROXY), why);
  if (v[OPT_NO_PROXY].s && (why = no_proxy_problem(v[OPT_NO_PROXY].s)) != NULL)
    return luaL_error(L, "soget.client: no_proxy%s %s", FROM_ENV(OPT_NO_PROXY), why);
  if (v[OPT_CA_FILE].s && (why = ca_file_problem(v[OPT_CA_FILE].s)) != NULL)
    return luaL_error(L, "soget.client: ca_file%s %s", FROM_ENV(OPT_CA_FILE), why);
  /* (sent in the token form, which takes an empty value: refused as the
   * header options are, rather than sent to be refused by the server) */
  if (id && !*id) return luaL_error(L, "soget.client: option 'client_id' is empty");
  if (secret && !*secret) return luaL_error(L, "soget.client: option 'client_secret' is empty");
  /* (a client with a search key alone searches; its lookups raise:
   * soget_need_api) */
  if (!key && !v[OPT_SEARCH_API_KEY].s)
    return luaL_error(L, "soget.client: no API key: give api_key (or set SOGET_API_KEY)");
  /* A token given in the options wins over client credentials from the
   * environment, and explicit credentials win over an environment token. */
  if (token && v[OPT_ACCESS_TOKEN].from_env && id && secret &&
      !v[OPT_CLIENT_ID].from_env && !v[OPT_CLIENT_SECRET].from_env)
    token = NULL;   /* a stray SOGET_ACCESS_TOKEN does not beat explicit credentials */
  if (!token && !(id && secret))
    return luaL_error(L, "soget.client: no credentials: give client_id and "
                         "client_secret, or access_token (or set SOGET_CLIENT_ID "
                         "and SOGET_CLIENT_SECRET, or SOGET_ACCESS_TOKEN)");
  /* A SOGET_TOKEN_URL beside a base_url the script (or a CLI profile)
   * gives is used only on that base_url's host (env_url_foreign). (A
   * SOGET_SEARCH_BASE_URL so is refused by the first search:
   * soget_need_api.) */
  if (turl && env_url_foreign(v, OPT_TOKEN_URL, turl, base)) {
    turl = NULL;
    turl_foreign = 1;
  }
  /* Client credentials need a token URL (a static token none: no token is
   * ever asked for). Those of the environment beside a token given in the
   * options, with none to go to, are left out: the token is used alone,
   * as it would be with no such variables. */
  if (id && secret && !turl) {
    if (token && !v[OPT_ACCESS_TOKEN].from_env && v[OPT_CLIENT_ID].from_env &&
        v[OPT_CLIENT_SECRET].from_env) {
      id = secret = NULL;
    } else if (turl_foreign) {
      return luaL_error(L, "soget.client: SOGET_TOKEN_URL (from the environment) is not on "
                           "base_url's host, and the client secret would go there: give "
                           "token_url, or unset SOGET_TOKEN_URL (beside a base_url whose path "
                           "ends in " TRACING_PATH " it is taken from base_url)");
    } else {
      return luaL_error(L, "soget.client: no token_url for this base_url%s (it is taken beside "
                           "a base_url whose path ends in " TRACING_PATH ", when it fits in %d "
                           "bytes), and client credentials%s need one: give token_url, or set "
                           "SOGET_TOKEN_URL",
                        FROM_ENV(OPT_BASE_URL), SOGET_URL_MAX,
                        v[OPT_CLIENT_ID].from_env && v[OPT_CLIENT_SECRET].from_env
                          ? " (from the environment)" : "");
    }
  }
  search_foreign = sbase && env_url_foreign(v, OPT_SEARCH_BASE_URL, sbase, base);
  if (search_foreign) sbase = NULL;
#undef FROM_ENV

  main = soget_push_main_thread(L);
  c = soget_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  c->closed = 1;  /* until fully built: __gc frees whatever was made */
  c->main = main;
  soget_engine_init(&c->eng);
  luaL_setmetatable(L, SOGET_CLIENT_T);
  lua_createtable(L, 1, 0);
  lua_pushvalue(L, -3);     /* the main thread, kept as long as the client */
  lua_rawseti(L, -2, 1);
  soget_setuv(L, -2);
  lua_remove(L, -2);

  c->eng.timeout = number_or(&v[OPT_TIMEOUT], DEFAULT_TIMEOUT);
  c->eng.connect_timeout = number_or(&v[OPT_CONNECT_TIMEOUT], DEFAULT_CONNECT_TIMEOUT);
  c->eng.retries = (int)number_or(&v[OPT_RETRIES], DEFAULT_RETRIES);
  c->max_response = (size_t)number_or(&v[OPT_MAX_RESPONSE_SIZE], DEFAULT_MAX_RESPONSE);
  c->verify_tls = boolean_or(&v[OPT_VERIFY_TLS], 1);
  c->gzip = boolean_or(&v[OPT_GZIP], 1);
  c->search_foreign = search_foreign;

  /* Client credentials, when given, renew the token; a token given alone
   * is static (never renewed). Given both, the token is used first. */
  if (id && secret) {
    c->eng.client_id = dup_or_raise(L, c, id);
    c->eng.client_secret = dup_or_raise(L, c, secret);
  }
  if (token && soget_auth_set(&c->eng.auth, token, v[OPT_ACCESS_TOKEN].len, 0, soget_now(),
                             !(id && secret)) != 0) {
    client_cleanup(c);
    return soget_nomem(L);
  }
  c->eng.api_key = dup_or_raise(L, c, key);
  c->eng.base_url = dup_or_raise(L, c, base);
  c->eng.token_url = dup_or_raise(L, c, turl);
  c->eng.search_base_url = dup_or_raise(L, c, sbase);
  c->eng.search_api_key = dup_or_raise(L, c, v[OPT_SEARCH_API_KEY].s);
  c->ca_file = dup_or_raise(L, c, v[OPT_CA_FILE].s);
  c->user_agent = dup_or_raise(L, c, v[OPT_USER_AGENT].s);
  c->eng.rng = (unsigned long)time(NULL) ^ (unsigned long)(size_t)c;

  topts.verify_tls = c->verify_tls;
  topts.ca_file = c->ca_file;
  topts.user_agent = c->user_agent;
  topts.max_body = c->max_response;
  topts.gzip = c->gzip;
  topts.proxy = v[OPT_PROXY].s;        /* copied by the transport */
  topts.no_proxy = v[OPT_NO_PROXY].s;
  c->tr = soget_transport_new(&topts);
  if (!c->tr) {
    client_cleanup(c);
    return luaL_error(L, "soget.client: cannot set up libcurl");
  }
  if ((why = soget_transport_problem(c->tr)) != NULL) {
    lua_pushstring(L, why);   /* (the transport's, freed with the client) */
    client_cleanup(c);
    return luaL_error(L, "soget.client: %s", lua_tostring(L, -1));
  }
  c->stop.asked = hook_asked;
  c->stop.ud = &c->watch;
  soget_transport_set_stop(c->tr, &c->stop);
  {   /* the proxies' secrets, scrubbed from every error of the client */
    const soget_buf *m = soget_transport_masked(c->tr);
    const char *p = m->data, *end = p ? p + m->len : NULL;
    for (; p && p < end; p += strlen(p) + 1)
      if (soget_engine_mask(&c->eng, p, strlen(p)) != 0) {
        client_cleanup(c);
        soget_nomem(L);
      }
  }
  c->closed = 0;
  return 1;
}

/* ---- queries ------------------------------------------------------------ */

enum { Q_REFERENCE, Q_SPI, Q_DESC, Q_LIMIT, Q_OFFSET, Q_EXACT, Q_COUNT };

#define TEXT(n, most)                                                 \
  {.name = n, .type = SOGET_OPT_STRING, .check = SOGET_OPT_CHECK_QUERY, \
   .max_chars = most}
#define WHOLE(n, lo, hi) \
  {.name = n, .type = SOGET_OPT_NUMBER, .min = lo, .max = hi, .whole = 1}
static const soget_option query_options[] = {
    [Q_REFERENCE] = TEXT("reference", SOGET_REFERENCE_MAX),
    [Q_SPI] = TEXT("spi", SOGET_SPI_MAX),
    [Q_DESC] = {.name = "desc", .type = SOGET_OPT_BOOLEAN},
    [Q_LIMIT] = WHOLE("limit", 1, SOGET_LIMIT_MAX),
    [Q_OFFSET] = WHOLE("offset", 0, (double)SOGET_OFFSET_MAX),
    [Q_EXACT] = {.name = "exact", .type = SOGET_OPT_BOOLEAN},
    [Q_COUNT] = {.name = NULL}};
#undef TEXT
#undef WHOLE

/* How the query readers word a number's problems. */
#define QUERY_NUMBER_MESSAGES              \
  .range = "between %.0f and %.0f",        \
  .fraction = "must be a whole number",    \
  .whole_first = 1

static const soget_opt_reader query_reader = {
    .opts = query_options,
    .who = "handling_units",
    .label = "",
    .unknown = "%s: unknown query key '%s'",
    .badkey = "%s: query keys must be strings, got %s",
    .nottable = "%s: query must be a table or a reference string, got %s",
    .raw = 1,   /* one pass: the query is copied as lua_next sees it */
    QUERY_NUMBER_MESSAGES};

/* begin(query, offset)'s offset, checked as a query's. */
static const soget_opt_reader begin_reader = {
    .opts = query_options, .who = "begin", .label = "", QUERY_NUMBER_MESSAGES};

static void check_lookup(lua_State *L, int i) {
  soget_optval v[Q_COUNT];
  if (lua_type(L, i) == LUA_TSTRING) {  /* client:handling_units("CGMU...") */
    soget_opt_check(L, &query_reader, &query_options[Q_REFERENCE], i, &v[Q_REFERENCE]);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, i);
    lua_setfield(L, -2, "reference");
    if (v[Q_REFERENCE].len == 0) luaL_error(L, "handling_units: give a reference or an spi");
    return;
  }
  lua_newtable(L);   /* the normalized copy */
  soget_opt_read(L, i, &query_reader, -1, v);
  if (!(v[Q_REFERENCE].given && v[Q_REFERENCE].len > 0) &&
      !(v[Q_SPI].given && v[Q_SPI].len > 0))
    luaL_error(L, "handling_units: give a reference or an spi");
  if (v[Q_EXACT].given && v[Q_EXACT].b && v[Q_OFFSET].given)
    luaL_error(L, "handling_units: 'offset' does not apply to an exact lookup (it answers "
                  "every match at once)");
}

/* The search's query keys are the in-mass API's own parameter names, in
 * soget_search_endpoint's order, then desc, limit and offset; each value
 * valid UTF-8 as a lookup's is (a raw byte such as 0x9B, C1's CSI, would
 * otherwise be sent percent-encoded), and at most SOGET_SEARCH_VALUE_MAX
 * bytes (a longer one failed at the server or in libcurl, each its own
 * way: a reset stream, a closed connection, "out of memory"). */
enum { S_DOCUMENT, S_VOYAGE_REF, S_VOYAGE_ID, S_CUSTOMS, S_AGENT, S_DESC, S_LIMIT,
       S_OFFSET, S_COUNT };
#define SEARCH_TEXT(n)                                                           \
  {.name = n, .type = SOGET_OPT_STRING, .check = SOGET_OPT_CHECK_QUERY,          \
   .utf8 = 1, .max_bytes = SOGET_SEARCH_VALUE_MAX}
static const soget_option search_options[] = {
    [S_DOCUMENT] = SEARCH_TEXT("documentReference"),
    [S_VOYAGE_REF] = SEARCH_TEXT("voyageAgentReference"),
    [S_VOYAGE_ID] = SEARCH_TEXT("voyageAgentId"),
    [S_CUSTOMS] = SEARCH_TEXT("customsFlag"),
    [S_AGENT] = SEARCH_TEXT("freightAgent"),
    [S_DESC] = {.name = "desc", .type = SOGET_OPT_BOOLEAN},
    [S_LIMIT] = {.name = "limit", .type = SOGET_OPT_NUMBER, .min = 1, .max = SOGET_LIMIT_MAX,
                 .whole = 1},
    [S_OFFSET] = {.name = "offset", .type = SOGET_OPT_NUMBER, .min = 0,
                  .max = (double)SOGET_OFFSET_MAX, .whole = 1},
    [S_COUNT] = {.name = NULL}};
#undef SEARCH_TEXT

static const soget_opt_reader search_reader = {
    .opts = search_options,
    .who = "handling_units_search",
    .label = "",
    .unknown = "%s: unknown query key '%s'",
    .badkey = "%s: query keys must be strings, got %s",
    .nottable = "%s: query must be a table or a document reference string, got %s",
    .raw = 1,
    QUERY_NUMBER_MESSAGES};

/* The CustomsFlag enum of the API's model. */
static const char *const customs_flags[] = {"Unknown", "Import", "Export", "Transhipment",
                                            "Transit", NULL};

/* Pushes the normalized search of the value at i: {search = {...}}. */
static void check_search(lua_State *L, int i) {
  soget_optval v[S_COUNT];
  int k;
  lua_createtable(L, 0, 1);   /* the wrapper */
  if (lua_type(L, i) == LUA_TSTRING) {  /* a document reference */
    soget_opt_check(L, &search_reader, &search_options[S_DOCUMENT], i, &v[S_DOCUMENT]);
    if (v[S_DOCUMENT].len == 0)
      luaL_error(L, "handling_units_search: give a documentReference, a "
                    "voyageAgentReference or a voyageAgentId");
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, i);
    lua_setfield(L, -2, "documentReference");
  } else {
    lua_newtable(L);   /* the normalized copy */
    soget_opt_read(L, i, &search_reader, -1, v);
    if (!(v[S_DOCUMENT].given && v[S_DOCUMENT].len > 0) &&
        !(v[S_VOYAGE_REF].given && v[S_VOYAGE_REF].len > 0) &&
        !(v[S_VOYAGE_ID].given && v[S_VOYAGE_ID].len > 0))
      luaL_error(L, "handling_units_search: give a documentReference, a "
                    "voyageAgentReference or a voyageAgentId");
    if (v[S_CUSTOMS].given) {
      for (k = 0; customs_flags[k]; k++)
        if (v[S_CUSTOMS].len == strlen(customs_flags[k]) &&
            memcmp(v[S_CUSTOMS].s, customs_flags[k], v[S_CUSTOMS].len) == 0)
          break;
      if (!customs_flags[k])
        luaL_error(L, "handling_units_search: customsFlag must be one of Unknown, Import, "
                      "Export, Transhipment, Transit");
    }
  }
  lua_setfield(L, -2, "search");
}

void soget_check_query(lua_State *L, int i, int kind) {
  i = lua_absindex(L, i);
  if (kind == SOGET_QUERY_SEARCH) {
    check_search(L, i);
    return;
  }
  if (kind == SOGET_QUERY_ANY && lua_type(L, i) == LUA_TTABLE) {
    int is_search;
    lua_pushliteral(L, "search");
    lua_rawget(L, i);
    is_search = !lua_isnil(L, -1);
    if (is_search) {
      int keys = 0;
      lua_pushnil(L);
      while (lua_next(L, i)) {
        lua_pop(L, 1);
        keys++;
      }
      if (keys != 1)
        luaL_error(L, "handling_units: a search is {search = query}, with no other key");
      check_search(L, lua_gettop(L));
      lua_remove(L, -2);
      return;
    }
    lua_pop(L, 1);
  }
  check_lookup(L, i);
}

/* Fills a soget_query from the normalized query table at qi (a lookup's,
 * or a search's {search = {...}}); the strings stay owned by that table.
 * offset >= 0 replaces the query's own. */
/* 1 when the string key k (kl bytes) is name. */
static int key_is(const char *k, size_t kl, const char *name) {
  return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

int soget_query_params(lua_State *L, int qi) {
  qi = lua_absindex(L, qi);
  lua_pushliteral(L, "search");
  lua_rawget(L, qi);
  if (lua_type(L, -1) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  lua_pushvalue(L, qi);
  return 0;
}

void soget_read_query(lua_State *L, int qi, soget_query *q, long offset) {
  int top = lua_gettop(L), i, exact = 0;
  const soget_endpoint *ep =
      soget_query_params(L, qi) ? &soget_search_endpoint : &soget_lookup_endpoint;
  qi = lua_gettop(L);
  soget_query_init(q, ep);
  /* One raw pass over the keys present (a query has one to eight) rather
   * than a lookup of every key it could have. */
  lua_pushnil(L);
  while (lua_next(L, qi)) {
    size_t kl;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
    if (k) switch (lua_type(L, -1)) {
      case LUA_TSTRING:
        for (i = 0; i < SOGET_QUERY_TEXTS && ep->texts[i]; i++)
          if (key_is(k, kl, ep->texts[i])) {
            size_t len;
            const char *v = lua_tolstring(L, -1, &len);
            soget_query_set(q, i, v, len);
            break;
          }
        break;
      case LUA_TBOOLEAN:
        if (key_is(k, kl, "desc")) q->desc = lua_toboolean(L, -1);
        else if (key_is(k, kl, "exact")) exact = lua_toboolean(L, -1);
        break;
      case LUA_TNUMBER: {
        /* Checked when the query was normalized; but a manual pager hands
         * that table out, and a script may have changed it since: a value
         * out of range is left out (the default) rather than cast. */
        lua_Number v = lua_tonumber(L, -1);
        if (key_is(k, kl, "limit")) {
          if (v >= 1 && v <= SOGET_LIMIT_MAX) q->limit = (int)v;
        } else if (key_is(k, kl, "offset")) {
          if (v >= 0 && v <= SOGET_OFFSET_MAX) q->offset = (long)v;
        }
        break;
      }
      default:
        break;
    }
    lua_pop(L, 1);
  }
  if (exact) {   /* the walk reads the listing in the server's order, */
    q->desc = -1;   /* ascending; full pages by default */
    if (q->limit <= 0) q->limit = SOGET_LIMIT_MAX;
  }
  lua_settop(L, top);   /* the strings stay anchored by the query table */
  if (offset >= 0) q->offset = offset;
}

/* A call's state lives in a soget.Call userdata, even for the blocking
 * driver: a Lua error raised while it runs (out of memory, or lua.c's
 * "interrupted!" on Ctrl-C, which can fire at any Lua call) never leaks its
 * buffers, its hold on the client or the transport. The blocking driver
 * frees them at once (its steps run protected, see drive_call); __gc is
 * the net for the rest. The uservalue keeps the client alive as long as
 * the call. */
/* A call's uservalue: {client, query} (query: soget.Call's only), by
 * index, as cheap to make and read as a table gets. */
enum { CALL_UV_CLIENT = 1, CALL_UV_QUERY = 2, CALL_UV_EXACT = 3 };

typedef struct lcall {
  soget_call k;
  soget_exact x;   /* an exact lookup's walk (x.on) */
  soget_client *c;
  int open;
  int held;        /* holds c: see soget_client_hold */
  int transport;   /* took c's transport (the blocking driver) */
  int stepping;    /* soget.Call steps running (call_step), or the blocking
                    * driver's call, which is one step from push_call to
                    * drop_call */
  int close_pending;   /* close() asked for by a finalizer amid a step */
  int handing;     /* a request is out, being handed over: an error raised
                    * now (out of memory) ends the call (call_step) */
} lcall;

static void lcall_hold(lcall *lc) {
  if (!lc->held) {
    lc->held = 1;
    soget_client_hold(lc->c);
  }
}

static void lcall_release(lcall *lc) {
  if (lc->transport) {
    lc->transport = 0;
    soget_client_give_transport(lc->c);
  }
  if (lc->held) {
    lc->held = 0;
    soget_client_release(lc->c);
  }
}

/* Holds the client for one step of lc, or raises when it was closed: the
 * check and the hold are made with no Lua code in between. */
static void lcall_enter(lua_State *L, lcall *lc) {
  if (lc->c->closed || lc->c->close_pending) luaL_error(L, "attempt to use a closed client");
  lcall_hold(lc);
}

/* A call of the blocking driver for the client at ci: holds the client
 * and takes its transport. Raises when the client was closed (by a
 * finalizer, say), or when another call on this client is using the
 * transport (only a finalizer or a hook run in the middle of a call can
 * call the client again then). */
static lcall *push_call(lua_State *L, soget_client *c, int ci) {
  lcall *lc;
  ci = lua_absindex(L, ci);
  lc = soget_newuserdata(L, sizeof *lc);
  memset(lc, 0, sizeof *lc);
  soget_call_init(&lc->k);
  lc->k.state = SOGET_CALL_DONE;
  lc->c = c;
  lc->open = 1;
  luaL_setmetatable(L, SOGET_CALL_T);
  lua_createtable(L, 1, 0);
  lua_pushvalue(L, ci);
  lua_rawseti(L, -2, CALL_UV_CLIENT);
  soget_setuv(L, -2);
  /* Every allocation above could run a finalizer: check only now. */
  if (c->in_transport)
    luaL_error(L, "this client is in the middle of a call (called again from a "
                  "finalizer, a hook or on_result): use another client there");
  lcall_enter(L, lc);
  soget_client_take_transport(L, c);
  lc->transport = 1;
  /* Reachable from Lua (debug.getlocal in a hook): its methods raise as
   * amid a step, and its close() waits for drop_call. */
  lc->stepping = 1;
  lc->k.group = soget_engine_group(&c->eng);   /* runs alone to its end */
  return lc;
}

/* Frees the call pushed at index i, releases the client (which a close()
 * asked for meanwhile may free) and removes the call from the stack. */
static void drop_call(lua_State *L, int i) {
  lcall *lc = lua_touserdata(L, i);
  soget_call_free(&lc->c->eng, &lc->k);
  lc->open = 0;
  lc->stepping = 0;
  lc->close_pending = 0;   /* done now */
  lcall_release(lc);
  lua_remove(L, i);
}

/* The blocking driver: libcurl, and nanosleep between retries. The
 * response body is parsed in place from the transport's buffer: the hold
 * and the transport taken by push_call keep both alive and untouched
 * until drop_call, whatever Lua code runs meanwhile.
 *
 * The steps run in a protected call: when Lua raises in the middle (out of
 * memory in the page builder, say, or a hook's error), drop_call wipes and
 * frees the call and gives the client back at once, not at the next
 * collection, and the error goes on as it was. A step that runs out of
 * memory itself (SOGET_STEP_NOMEM) raises Lua's memory error the same way,
 * after drop_call. */
typedef struct drive {
  soget_client *c;
  soget_call *k;
  soget_err *e;
  soget_exact *x;           /* an exact lookup's walk, or NULL */
  long offset;              /* the first request's (-1: the query's own) */
  int token_only;   /* client:token(): the token step alone */
  int step;
  double left;      /* token_only: the token's seconds left (-1: static) */
  double expiry;    /* and before it expires */
} drive;

/* After SOGET_STEP_PAGE: pushes the page (decoded from body, or empty
 * when nothing was found) and returns SOGET_STEP_PAGE, or fills e with
 * the decode error and returns SOGET_STEP_FAIL. Every caller attaches the
 * page to its client and query next (soget_page_attach), which sets its
 * metatable too. */
static int push_page(lua_State *L, soget_client *c, soget_call *k, const char *body,
                     size_t len, soget_err *e) {
  if (k->empty) {
    soget_push_empty_page(L, k->offset);
    return SOGET_STEP_PAGE;
  }
  if (soget_decode_page_until(L, body, len, k->offset, k->limit, e, k->deadline,
                              c->eng.timeout))
    return SOGET_STEP_PAGE;
  soget_engine_scrub(&c->eng, k, e);
  return e->nomem ? SOGET_STEP_NOMEM : SOGET_STEP_FAIL;
}

/* After SOGET_STEP_PAGE of an exact lookup, the page at pi and the walk's
 * state at si: the answer replaces the page (SOGET_STEP_PAGE), or the
 * call is begun again for the next page of the listing, within the first
 * request's deadline (SOGET_STEP_AGAIN), or the walk failed (e); the page
 * is gone but for the answer. qi: the lookup's query table, read as the
 * next request begins. */
static int exact_step(lua_State *L, soget_client *c, soget_call *k, soget_exact *x, int si,
                      int pi, int qi, soget_err *e) {
  soget_query next;
  double deadline = k->deadline;
  pi = lua_absindex(L, pi);
  switch (soget_exact_take(L, x, si, pi, e)) {
    case SOGET_EXACT_DONE:
      lua_replace(L, pi);
      return SOGET_STEP_PAGE;
    case SOGET_EXACT_FAIL:
      lua_remove(L, pi);
      return SOGET_STEP_FAIL;
  }
  lua_remove(L, pi);   /* (above qi) */
  /* The query's strings are read now, and copied by the call with no Lua
   * allocation between: one could run a finalizer that changes the query
   * table (through the debug library) and frees a string read before. */
  soget_read_query(L, qi, &next, x->requested);
  if (soget_call_begin(&c->eng, k, &next, SOGET_CALL_NEXT_PAGE, e) != 0)
    return SOGET_STEP_NOMEM;
  k->deadline = deadline;
  return SOGET_STEP_AGAIN;
}

/* A token's seconds left before its renewal (0: due), -1 for a static one. */
static double token_left(const soget_auth *a, double now) {
  double left;
  if (a->is_static) return -1;
  left = a->renew_at - now;
  return left > 0 ? left : 0;
}

/* And its seconds left before it expires (0: expired), -1 for a static
 * one: past its renewal time, calls go on with it when a renewal fails
 * (soget_auth_keep). Never less than token_left's of the same moment
 * (left), so that the two go back to set_token as they are. */
static double token_expiry(const soget_auth *a, double left, double now) {
  double exp;
  if (a->is_static) return -1;
  exp = a->expires_at - now;
  if (exp < left) exp = left;
  return exp > 0 ? exp : 0;
}

/* soget._credentials(client) -> 64 hex digits, token_url | nil: the
 * SHA-256 of what the client fetches tokens with (its token URL, client id
 * and secret), for a token cache shared between clients (soget.ngx, the
 * CLI's) to tell whose token it holds, and the token URL (given, or taken
 * beside the base URL); nil for a client with no credentials (a static
 * token). A digest, not the secret; and not an API (types_spec leaves it
 * out). */
int soget_client_credentials(lua_State *L) {
  soget_client *c = soget_checkclient(L, 1);
  const soget_engine *g = &c->eng;
  char hex[65], url[SOGET_URL_MAX + 1];
  soget_buf b;
  int r;
  if (!g->client_id || !g->client_secret) {
    lua_pushnil(L);
    return 1;
  }
  /* (copied before anything is pushed: a finalizer that a push runs may
   * close the client, freeing its URL) */
  snprintf(url, sizeof url, "%s", g->token_url ? g->token_url : "");
  soget_buf_init(&b, 0);
  r = soget_buf_adds(&b, "soget credentials 1\n") ||
      soget_buf_adds(&b, g->token_url ? g->token_url : "") || soget_buf_add(&b, "\n", 1) ||
      soget_buf_adds(&b, g->client_id) || soget_buf_add(&b, "\n", 1) ||
      soget_buf_adds(&b, g->client_secret) ||
      soget_sha256_hex(b.data, b.len, hex) != 0;
  soget_buf_free_wiped(&b);
  if (r) return soget_nomem(L);
  lua_pushlstring(L, hex, 64);
  lua_pushstring(L, url);
  return 2;
}

/* Pushes the token a holds, and returns its seconds left (token_left), or
 * pushes nothing and returns -2 when it holds none. Pushing can run a
 * finalizer that replaces the token, freeing it (Lua 5.1 and LuaJIT
 * collect before they copy a string): the token is read and copied with
 * no Lua allocation between, and the copy is wiped and freed even when
 * the push raises (out of memory). */
static double push_token_copy(lua_State *L, const soget_auth *a, double *expiry) {
  char *copy;
  size_t n;
  double left, now;
  int status;
  soget_cbytes_prepare(L);   /* may run a finalizer: a read after */
  if (!a->token) {
    lua_pop(L, 1);
    return -2;
  }
  copy = malloc(a->token_len + 1);
  if (copy == NULL) {
    lua_pop(L, 1);
    soget_nomem(L);
    return -2;
  }
  n = a->token_len;
  memcpy(copy, a->token, n);
  now = soget_now();
  left = token_left(a, now);
  *expiry = token_expiry(a, left, now);
  status = soget_cbytes_push(L, copy, n);   /* may run a finalizer */
  soget_wipe(copy, n);
  free(copy);
  if (status != 0) lua_error(L);
  return left;
}

/* One request and its answer, or the step that sent none. */
static int drive_one(lua_State *L, drive *d) {
  soget_client *c = d->c;
  soget_call *k = d->k;
  soget_http_response rs;
  int step = soget_call_next(&c->eng, k, d->e);
  if (step != SOGET_STEP_SEND) return step;
  if (soget_transport_perform(c->tr, &k->rq, &rs, d->e) != 0) {
    /* a body cut short or over the cap (a token answer's part) let go too */
    soget_transport_done(c->tr);
    return soget_call_failed(&c->eng, k, d->e);
  }
  step = soget_call_response(&c->eng, k, rs.status, rs.body->data, rs.body->len,
                             rs.retry_after, rs.redirect, rs.token_invalid, d->e);
  if (step == SOGET_STEP_PAGE) step = push_page(L, c, k, rs.body->data, rs.body->len, d->e);
  /* (a raise in push_page leaves it to the next exchange or close()) */
  soget_transport_done(c->tr);
  if (step == SOGET_STEP_PAGE && d->x)   /* its state at 3, the query at 2: see drive_steps */
    step = exact_step(L, c, k, d->x, 3, lua_gettop(L), 2, d->e);
  return step;
}

/* The steps to the call's end; a retry's wait ends early, and the call
 * with it, when asked to stop (hook_asked). */
static void drive_loop(lua_State *L, drive *d) {
  for (;;) {
    d->step = drive_one(L, d);
    if (d->step == SOGET_STEP_WAIT) {
      if (soget_sleep(d->k->wait, &d->c->stop)) {
        d->step = soget_call_stop(&d->c->eng, d->k, d->e);
        return;
      }
    } else if (d->step != SOGET_STEP_AGAIN) {
      return;
    }
  }
}

/* lua_pcall'ed with the drive and the query table (nil for token_only):
 * pushes the page (or token_only, the token), or returns nothing. */
static int drive_steps(lua_State *L) {
  drive *d = lua_touserdata(L, 1);
  soget_client *c = d->c;
  soget_query q;
  if (d->token_only) {
    soget_call_begin_token(&c->eng, d->k);
    drive_loop(L, d);
    if (d->step != SOGET_STEP_TOKEN) return 0;
    d->left = push_token_copy(L, &c->eng.auth, &d->expiry);
    return d->left > -2;
  }
  /* The query's strings are read here, and copied by the call with no Lua
   * allocation between (see exact_step). */
  soget_read_query(L, 2, &q, d->offset);
  if (soget_call_begin(&c->eng, d->k, &q, 0, d->e) != 0) return soget_nomem(L);
  if (d->x) soget_exact_push_state(L);   /* 3 */
  drive_loop(L, d);
  return d->step == SOGET_STEP_PAGE ? 1 : 0;
}

/* Runs d for the call at ki (push_call's), with drive_steps at fi below
 * it and the query table at qi (0: none), then drops the call and
 * removes drive_steps. Leaves the page or token on the stack and returns
 * 1, or returns 0 (e filled). Raises what the steps raised, and out of
 * memory. Nothing between push_call and the protected call allocates: a
 * raise there would leave the client's transport taken for good (the
 * function pushed before push_call, which a C closure allocates on Lua
 * 5.1 and LuaJIT). */
static int drive_call(lua_State *L, int fi, int ki, int qi, drive *d) {
  int status;
  lua_pushvalue(L, fi);
  lua_pushlightuserdata(L, d);
  if (qi) lua_pushvalue(L, qi);
  else lua_pushnil(L);
  status = lua_pcall(L, 2, 1, 0);
  drop_call(L, ki);   /* the result moves down into its slot */
  lua_remove(L, fi);
  if (status != 0) lua_error(L);
  if (d->e->nomem) soget_nomem(L);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* The call of the query table at qi from offset (-1: the query's own);
 * an exact lookup's walk when `exact`. What may allocate (and so raise)
 * comes before push_call takes the client's transport, and the query's
 * strings are read in the protected steps (drive_steps). */
static int client_call(lua_State *L, soget_client *c, int ci, int qi, long offset, int exact,
                       soget_err *e) {
  soget_exact x;
  lcall *lc;
  int fi, ki;
  drive d;
  memset(&x, 0, sizeof x);
  if (exact) soget_exact_init(L, &x, qi);
  lua_pushcfunction(L, drive_steps);
  fi = lua_gettop(L);
  lc = push_call(L, c, ci);
  ki = lua_gettop(L);
  lc->x = x;
  memset(&d, 0, sizeof d);
  d.c = c;
  d.k = &lc->k;
  d.e = e;
  d.offset = offset;
  if (lc->x.on) d.x = &lc->x;
  return drive_call(L, fi, ki, qi, &d);
}

int soget_client_fetch(lua_State *L, soget_client *c, int ci, int qi, long offset,
                       soget_err *e) {
  qi = lua_absindex(L, qi);
  ci = lua_absindex(L, ci);
  /* An exact lookup is walked from its first page only (its answer is
   * complete: a pager never fetches after it). */
  return client_call(L, c, ci, qi, offset, offset < 0, e);
}

/* Whether the normalized query at qi is an exact lookup. */
static int is_exact(lua_State *L, int qi) {
  int on;
  lua_getfield(L, qi, "exact");
  on = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return on;
}

/* ---- Lua methods -------------------------------------------------------- */

/* client:handling_units(query) -> page | nil, err */
static int fetch_first(lua_State *L, int kind) {
  soget_client *c = soget_checkclient(L, 1);
  soget_err e;
  soget_check_nargs(L, 2, kind == SOGET_QUERY_SEARCH ? SOGET_SEARCH_ARGS_HINT
                                                     : SOGET_QUERY_ARGS_HINT);
  lua_settop(L, 2);
  soget_check_query(L, 2, kind);   /* 3: normalized query */
  c = soget_checkclient(L, 1);     /* (its allocations may have run a finalizer that closed it) */
  soget_need_api(L, c, 3, kind == SOGET_QUERY_SEARCH ? "handling_units_search" : "handling_units",
                 0);
  soget_err_clear(&e);
  if (!soget_client_fetch(L, c, 1, 3, -1, &e)) return soget_fail(L, &e);
  if (is_exact(L, 3))   /* complete: page:iter() has nothing to fetch */
    soget_page_attach(L, lua_gettop(L), 0, 0);
  else
    soget_page_attach(L, lua_gettop(L), 1, 3);
  return 1;
}

static int meth_handling_units(lua_State *L) {
  return fetch_first(L, SOGET_QUERY_LOOKUP);
}

/* client:handling_units_search(query) -> page | nil, err: the in-mass
 * API's search (by document reference or voyage). */
static int meth_handling_units_search(lua_State *L) {
  return fetch_first(L, SOGET_QUERY_SEARCH);
}

/* client:stats() -> {api_requests, token_requests, retries, connections} */
static int meth_stats(lua_State *L) {
  soget_client *c = soget_checkclient(L, 1);
  /* read before any allocation: a finalizer it runs may close c */
  lua_Integer api = (lua_Integer)c->eng.api_requests, token = (lua_Integer)c->eng.token_requests,
              retries = (lua_Integer)c->eng.retries_done,
              conns = (lua_Integer)soget_transport_connections(c->tr);
  soget_check_nargs(L, 1, NULL);   /* (allocates only as it raises) */
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, api);
  lua_setfield(L, -2, "api_requests");
  lua_pushinteger(L, token);
  lua_setfield(L, -2, "token_requests");
  lua_pushinteger(L, retries);
  lua_setfield(L, -2, "retries");
  lua_pushinteger(L, conns);
  lua_setfield(L, -2, "connections");
  return 1;
}

/* Runs the token step alone (blocking) for the client at index 1, then
 * pushes the token and returns its seconds left (-1 for a static token),
 * those before its expiry in *expiry; returns -2 with e filled when there
 * is no token. */
static double push_token(lua_State *L, soget_client *c, soget_err *e, double *expiry) {
  lcall *lc;
  int fi;
  drive d;
  lua_pushcfunction(L, drive_steps);   /* (allocates on 5.1: before push_call) */
  fi = lua_gettop(L);
  lc = push_call(L, c, 1);
  memset(&d, 0, sizeof d);
  d.c = c;
  d.k = &lc->k;
  d.e = e;
  d.token_only = 1;
  if (!drive_call(L, fi, lua_gettop(L), 0, &d)) {
    if (d.step == SOGET_STEP_TOKEN)
      soget_err_set(e, "auth", 0, 0, "no token: the client was closed meanwhile");
    return -2;
  }
  *expiry = d.expiry;
  return d.left;
}

/* client:token([{fetch = false}]) -> token, seconds_left, expires_in
 * | nil, err
 * The current bearer token, fetched first when needed, its seconds left
 * before renewal and before expiry: for callers that share tokens (a
 * cache file, an nginx shared dict; set_token takes the three). With
 * fetch = false, never any I/O: the token the client holds and its
 * seconds left before renewal (0: due) and before expiry, or nil when it
 * holds none (a driver that fetched the token itself, soget.ngx, reads it
 * so). */
static const soget_option token_options[] = {
    {.name = "fetch", .type = SOGET_OPT_BOOLEAN}, {.name = NULL}};

static const soget_opt_reader token_reader = {
    .opts = token_options,
    .who = "token",
    .label = "",
    SOGET_OPT_MESSAGES,
    .nottable = "%s: options must be a table, got %s",
    .nil_ok = 1};

/* Seconds left: -1 (a static token) and 0 (due) as the README writes
 * them, integers on 5.3+ (not -1.0, 0.0). */
static void push_seconds_left(lua_State *L, double left) {
  if (left == -1 || left == 0) lua_pushinteger(L, (lua_Integer)left);
  else lua_pushnumber(L, left);
}

static int meth_token(lua_State *L) {
  soget_client *c = soget_checkclient(L, 1);
  soget_err e;
  double left, expiry = -1;
  soget_optval fetch;
  soget_check_nargs(L, 2, NULL);
  soget_opt_read(L, 2, &token_reader, 0, &fetch);   /* no strings: nothing left */
  lua_settop(L, 1);
  c = soget_checkclient(L, 1);   /* (an __index of the options may have closed it) */
  if (fetch.given && !fetch.b) {
    left = push_token_copy(L, &c->eng.auth, &expiry);
    if (left < -1) {
      lua_pushnil(L);
      return 1;
    }
  } else {
    soget_err_clear(&e);
    left = push_token(L, c, &e, &expiry);
    if (left < -1) return soget_fail(L, &e);
  }
  push_seconds_left(L, left);
  push_seconds_left(L, expiry);
  return 3;
}

/* client:set_token(token, seconds_left[, expires_in]): use a token
 * obtained elsewhere (renewed as usual when it expires or is refused,
 * given credentials); expires_in, from seconds_left up, the seconds before
 * it expires, which a renewal that fails goes on to (client:token()'s
 * third value). */
static int meth_set_token(lua_State *L) {
  soget_client *c;
  size_t tl;
  const char *tok, *why;
  lua_Number ttl, exp;
  luaL_checkudata(L, 1, SOGET_CLIENT_T);
  soget_check_nargs(L, 4, NULL);
  /* a string and numbers as given: no number read as a token, no numeric
   * string as seconds (the options refuse them too) */
  luaL_checktype(L, 2, LUA_TSTRING);
  luaL_checktype(L, 3, LUA_TNUMBER);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TNUMBER);
  tok = lua_tolstring(L, 2, &tl);
  ttl = lua_tonumber(L, 3);
  exp = lua_isnoneornil(L, 4) ? ttl : lua_tonumber(L, 4);
  why = soget_header_value_problem(tok, tl);
  c = soget_checkclient(L, 1);
  if (why) return luaL_argerror(L, 2, lua_pushfstring(L, "the token %s", why));
  /* (at most 1e9, as a token answer's expires_in: inf would never renew;
   * 0 or less: due for renewal at once, and expired at 0 or less, as a
   * cached token's times read back after they passed) */
  luaL_argcheck(L, ttl >= -1e9 && ttl <= 1e9, 3,
                "must be a number of seconds from -1e9 to 1e9 (0 or less: due now)");
  luaL_argcheck(L, exp >= ttl && exp <= 1e9, 4,
                "must be a number of seconds from seconds_left to 1e9");
  if (soget_engine_set_token(&c->eng, tok, tl, ttl > 0 ? ttl : 0, exp > 0 ? exp : 0) != 0)
    return soget_nomem(L);
  return 0;
}

/* ---- soget.Call: the steps of one call, for drivers written in Lua ----- */

/* The client of the call at i. lc->c points into the client's userdata,
 * which the call's uservalue keeps alive; Lua code can replace that
 * uservalue (debug.setuservalue, debug.setfenv on 5.1), and the client can
 * then be collected and freed under the call. So the call reads lc->c only
 * while its uservalue still holds that client: else it forgets lc->c
 * (NULL) and never touches that memory again. Between its steps a
 * soget.Call holds nothing of its client, so nothing is left held (the
 * blocking driver's calls, which hold it throughout, never reach Lua code:
 * they stay on the driver's stack, beside the client). Pushes what the
 * uservalue holds as the client (nil when nothing) and allocates nothing
 * (no finalizer runs). */
static soget_client *push_call_client(lua_State *L, int i, lcall *lc) {
  soget_getuv(L, i);
  if (lua_istable(L, -1)) lua_rawgeti(L, -1, CALL_UV_CLIENT);
  else lua_pushnil(L);
  lua_remove(L, -2);
  if (lc->c && luaL_testudata(L, -1, SOGET_CLIENT_T) != (void *)lc->c) {
    /* Amid a step, whose stack holds the client until it ends and whose C
     * code goes on with lc->c: forgotten only then (at the next access),
     * seen as gone from here. */
    if (!lc->stepping) lc->c = NULL;
    return NULL;
  }
  return lc->c;
}

static soget_client *call_client(lua_State *L, int i, lcall *lc) {
  soget_client *c = push_call_client(L, i, lc);
  lua_pop(L, 1);
  return c;
}

/* Raises unless the call at 1 has its client, open. keep: leaves that
 * client's userdata on the stack (call_step's anchor). */
static lcall *checkcall_as(lua_State *L, int keep) {
  lcall *lc = luaL_checkudata(L, 1, SOGET_CALL_T);
  soget_client *c = push_call_client(L, 1, lc);
  if (!c && lc->open)
    luaL_error(L, "soget.Call: its client is gone (the call's uservalue was replaced)");
  if (!c || c->closed || c->close_pending) luaL_error(L, "attempt to use a closed client");
  if (!keep) lua_pop(L, 1);
  return lc;
}
#define checkcall(L) checkcall_as((L), 0)

/* A step of the call asked for out of turn (SOGET_STEP_MISUSE): a bug in
 * the driver, raised as Lua's own libraries raise on a closed file. */
static int call_misuse(lua_State *L, lcall *lc, const char *method) {
  if (!lc->open || lc->k.state == SOGET_CALL_DONE)
    return luaL_error(L, "soget.Call: %s() on a call that is over", method);
  if (lc->k.state == SOGET_CALL_READY)
    return luaL_error(L, "soget.Call: %s() with no request out (call request() first)",
                      method);
  return luaL_error(L, "soget.Call: %s() while its request waits for response() or "
                       "failed()", method);
}

/* Out of memory in a step (SOGET_STEP_NOMEM): the call is over; its
 * buffers are wiped and freed at once, then Lua's memory error raised. */
static int call_nomem(lua_State *L, lcall *lc) {
  soget_call_free(&lc->c->eng, &lc->k);
  lc->open = 0;
  return soget_nomem(L);
}

/* client:begin(query[, offset]) -> call */
static int meth_begin(lua_State *L) {
  soget_client *c = soget_checkclient(L, 1);
  soget_query q;
  soget_err e;
  lcall *lc;
  long offset = -1;
  soget_check_nargs(L, 3, SOGET_QUERY_ARGS_HINT);
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) {
    soget_optval ov;
    soget_opt_check(L, &begin_reader, &query_options[Q_OFFSET], 3, &ov);
    offset = (long)ov.n;
  }
  soget_check_query(L, 2, SOGET_QUERY_ANY);    /* 4 */
  c = soget_checkclient(L, 1);     /* (its allocations may have run a finalizer that closed it) */
  soget_need_api(L, c, 4, "begin", 0);
  if (offset >= 0 && is_exact(L, 4))
    luaL_error(L, "begin: an exact lookup takes no offset (it reads the listing from its "
                  "start)");
  if (offset >= 0) {   /* in the query the page keeps: page:iter() reads it there */
    soget_query_params(L, 4);
    lua_pushinteger(L, (lua_Integer)offset);
    lua_setfield(L, -2, "offset");
    lua_pop(L, 1);
  }
  lc = soget_newuserdata(L, sizeof *lc);       /* 5 */
  memset(lc, 0, sizeof *lc);
  soget_call_init(&lc->k);
  lc->k.state = SOGET_CALL_DONE;
  luaL_setmetatable(L, SOGET_CALL_T);
  soget_exact_init(L, &lc->x, 4);
  lua_createtable(L, 3, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, CALL_UV_CLIENT);
  lua_pushvalue(L, 4);
  lua_rawseti(L, -2, CALL_UV_QUERY);
  if (lc->x.on) {                              /* the walk's state */
    soget_exact_push_state(L);
    lua_rawseti(L, -2, CALL_UV_EXACT);
  }
  soget_setuv(L, 5);
  lc->c = c;
  lc->open = 1;
  soget_read_query(L, 4, &q, offset);
  soget_err_clear(&e);
  lcall_enter(L, lc);   /* the allocations above could have closed c */
  if (soget_call_begin(&c->eng, &lc->k, &q, 0, &e) != 0) {   /* out of memory */
    lcall_release(lc);
    return call_nomem(L, lc);
  }
  lcall_release(lc);
  return 1;
}

/* A step that has no request to send (lc held): nil, nil, wait while
 * another call fetches the token, else the call's end or misuse. */
static int not_sent(lua_State *L, lcall *lc, int step, soget_err *e, const char *method) {
  lcall_release(lc);
  if (step == SOGET_STEP_MISUSE) return call_misuse(L, lc, method);
  if (step == SOGET_STEP_NOMEM) return call_nomem(L, lc);
  if (step == SOGET_STEP_WAIT) {   /* another call is fetching the token */
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushnumber(L, lc->k.wait);
    return 3;
  }
  return soget_fail(L, e);
}

/* What a driver's own HTTP client needs to send a request as soget would,
 * set into the table at t: the client's max_response_size, verify_tls and
 * ca_file (when it has one). The caller holds the client. */
static void set_send_options(lua_State *L, int t, const soget_client *c) {
  lua_pushinteger(L, (lua_Integer)c->max_response);
  lua_setfield(L, t, "max_response_size");
  lua_pushboolean(L, c->verify_tls);
  lua_setfield(L, t, "verify_tls");
  if (c->ca_file) {
    lua_pushstring(L, c->ca_file);
    lua_setfield(L, t, "ca_file");
  }
}

/* call:request() -> {kind, method, url, headers, body, timeout,
 * connect_timeout, max_response_size, verify_tls, ca_file} | nil, err */
static int call_request_as(lua_State *L, const char *method) {
  lcall *lc = lua_touserdata(L, 1);   /* checked by call_request */
  soget_err e;
  const char *const *h;
  int step;
  soget_err_clear(&e);
  /* Held while the request is copied out: its URL can be the client's own
   * token_url, and every allocation below can run a finalizer. */
  lcall_enter(L, lc);
  step = soget_call_next(&lc->c->eng, &lc->k, &e);
  if (step != SOGET_STEP_SEND) return not_sent(L, lc, step, &e, method);
  lc->handing = 1;
  /* The credential lines are the engine's: a finalizer run by an
   * allocation below could step another call of the client and rebuild
   * them. The call's own copy first. */
  if (soget_call_own_headers(&lc->k) != 0) {
    lc->handing = 0;
    lcall_release(lc);
    return call_nomem(L, lc);
  }
  lua_createtable(L, 0, 10);
  lua_pushstring(L, lc->k.state == SOGET_CALL_TOKEN_SENT ? "token" : "api");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, lc->k.rq.post ? "POST" : "GET");
  lua_setfield(L, -2, "method");
  lua_pushstring(L, lc->k.rq.url);
  lua_setfield(L, -2, "url");
  lua_newtable(L);
  for (h = lc->k.rq.headers; h && *h; h++) {
    const char *colon = strchr(*h, ':');
    if (!colon) continue;
    lua_pushlstring(L, *h, (size_t)(colon - *h));
    lua_pushstring(L, colon + 2);
    lua_rawset(L, -3);
  }
  lua_setfield(L, -2, "headers");
  if (lc->k.rq.post) {
    lua_pushlstring(L, lc->k.rq.body, lc->k.rq.body_len);
    lua_setfield(L, -2, "body");
  }
  lua_pushnumber(L, (lua_Number)lc->k.rq.timeout_ms / 1000.0);
  lua_setfield(L, -2, "timeout");
  lua_pushnumber(L, (lua_Number)lc->k.rq.connect_timeout_ms / 1000.0);
  lua_setfield(L, -2, "connect_timeout");
  set_send_options(L, lua_gettop(L), lc->c);   /* held until lcall_release */
  lcall_release(lc);
  return 1;   /* still handing: until call_step has it back */
}

static int call_request_body(lua_State *L) {
  return call_request_as(L, "request");
}

/* The call's uservalue, reachable from Lua through the debug library,
 * no longer holds what an exact walk reads raw: the call ends, raising. */
static int call_state_changed(lua_State *L, lcall *lc) {
  soget_call_free(&lc->c->eng, &lc->k);   /* (call_step releases the hold) */
  lc->open = 0;
  return luaL_error(L, "soget.Call: its state was changed (through the debug library)");
}

static int step_result(lua_State *L, lcall *lc, int step, soget_err *e,
                       const char *method) {
  switch (step) {
    case SOGET_STEP_MISUSE:
      return call_misuse(L, lc, method);
    case SOGET_STEP_NOMEM:
      return call_nomem(L, lc);
    case SOGET_STEP_PAGE:
      if (lc->x.on) {   /* complete: page:iter() has nothing to fetch */
        soget_page_attach(L, -1, 0, 0);
        return 1;
      }
      soget_getuv(L, 1);
      if (lua_type(L, -1) != LUA_TTABLE) {   /* taken from it (debug library): */
        lua_pop(L, 1);                        /* a page with no client to fetch with */
        soget_page_attach(L, -1, 0, 0);
        return 1;
      }
      lua_rawgeti(L, -1, CALL_UV_CLIENT);
      lua_rawgeti(L, -2, CALL_UV_QUERY);
      soget_page_attach(L, -4, -2, -1);
      lua_pop(L, 3);
      return 1;
    case SOGET_STEP_WAIT:
    case SOGET_STEP_AGAIN:
      lua_pushnil(L);
      lua_pushnil(L);
      lua_pushnumber(L, step == SOGET_STEP_WAIT ? lc->k.wait : 0);
      return 3;
    default:
      return soget_fail(L, e);
  }
}

/* call:response(status, body[, retry_after[, location[, www_authenticate]]])
 *   -> page | nil, err | nil, nil, seconds_to_wait_then_request_again */
static int call_response_body(lua_State *L) {
  lcall *lc = lua_touserdata(L, 1);   /* the arguments checked by call_response */
  lua_Number status = lua_tonumber(L, 2);
  size_t len = 0, rn = 0;
  const char *body = lua_isnil(L, 3) ? "" : lua_tolstring(L, 3, &len);
  const char *ra = lua_isnil(L, 4) ? NULL : lua_tolstring(L, 4, &rn);
  const char *loc = lua_isnil(L, 5) ? NULL : lua_tostring(L, 5);
  double retry_after = ra ? soget_parse_retry_after(ra, rn) : -1;
  size_t wn = 0;
  const char *www = lua_isnil(L, 6) ? NULL : lua_tolstring(L, 6, &wn);
  int token_invalid = www ? soget_bearer_invalid_token(www, wn) : 0;
  soget_err e;
  int step;
  lua_settop(L, 5);   /* (the page goes at 6) */
  soget_err_clear(&e);
  lcall_enter(L, lc);
  step = soget_call_response(&lc->c->eng, &lc->k, (long)status, body, len, retry_after,
                             loc, token_invalid, &e);
  /* The body is the argument at 3, on the stack for the whole decode. */
  if (step == SOGET_STEP_PAGE) step = push_page(L, lc->c, &lc->k, body, len, &e);
  if (step == SOGET_STEP_PAGE && lc->x.on) {   /* 6: the page */
    soget_getuv(L, 1);                         /* 7 */
    if (lua_type(L, 7) != LUA_TTABLE) call_state_changed(L, lc);
    lua_rawgeti(L, 7, CALL_UV_EXACT);          /* 8: the walk's state */
    lua_rawgeti(L, 7, CALL_UV_QUERY);          /* 9: the query */
    if (lua_type(L, 8) != LUA_TTABLE || lua_type(L, 9) != LUA_TTABLE) call_state_changed(L, lc);
    lua_pushvalue(L, 6);                       /* 10: the page */
    step = exact_step(L, lc->c, &lc->k, &lc->x, 8, 10, 9, &e);
    if (step == SOGET_STEP_PAGE) lua_replace(L, 6);   /* the answer */
    lua_settop(L, step == SOGET_STEP_PAGE ? 6 : 5);
  }
  lcall_release(lc);
  return step_result(L, lc, step, &e, "response");
}

/* call:failed(message[, kind[, retryable[, status]]]): the request got no
 * answer (or one a size limit stopped: its status).
 *   -> nil, err | nil, nil, seconds_to_wait */
static const char *const failure_kinds[] = {"network", "timeout", "tls", "http", NULL};

static int call_failed_body(lua_State *L) {
  lcall *lc = lua_touserdata(L, 1);   /* the arguments checked by call_failed */
  const char *msg = lua_tostring(L, 2);
  int kind = (int)lua_tointeger(L, 3);
  int retryable = lua_toboolean(L, 4);
  long status = (long)lua_tointeger(L, 5);
  int step;
  soget_err e;
  soget_err_clear(&e);
  soget_err_set(&e, failure_kinds[kind], status, retryable, "%s", msg);
  lua_settop(L, 1);
  lcall_enter(L, lc);
  step = soget_call_failed(&lc->c->eng, &lc->k, &e);
  lcall_release(lc);
  return step_result(L, lc, step, &e, "failed");
}

/* call:request_bytes([user_agent]): call:request(), for drivers that move
 * the bytes themselves (soget.ngx): the request as HTTP/1.1 bytes built by
 * the core (core/http1.h) with the client's user_agent (else the
 * argument, else the client's default User-Agent) and gzip option, and
 * where they go.
 *   -> {kind, method, url, timeout, connect_timeout, bytes, scheme, host,
 *       port, tls, server_name, max_response_size, verify_tls}
 *    | nil, err | nil, nil, seconds_to_wait (as request()) */
static int call_request_bytes_body(lua_State *L) {
  lcall *lc = lua_touserdata(L, 1);   /* the arguments checked by call_request_bytes */
  const char *ua = lua_isnil(L, 2) ? NULL : lua_tostring(L, 2);
  soget_buf b;
  soget_http1_target t;
  soget_err e;
  int step, status;
  lua_settop(L, 2);
  soget_cbytes_prepare(L);                        /* 3: before the bytes */
  soget_err_clear(&e);
  lcall_enter(L, lc);
  step = soget_call_next(&lc->c->eng, &lc->k, &e);
  if (step != SOGET_STEP_SEND) return not_sent(L, lc, step, &e, "request_bytes");
  lc->handing = 1;
  /* Written before any Lua allocation: the credential lines are the
   * engine's, and a finalizer run by one could step another call of the
   * client and rebuild them (request() copies them first instead). */
  soget_buf_init(&b, 0);
  /* The client's user_agent, else the driver's, else the client's default
   * ("soget/X.Y.Z libcurl/X.Y.Z", as its own requests send). */
  if (soget_http1_request(&b, &lc->k.rq,
                          lc->c->user_agent ? lc->c->user_agent
                          : ua              ? ua
                                            : soget_default_user_agent(),
                          lc->c->gzip, &t, &lc->c->url_cache, &e) != 0) {
    soget_buf_free(&b);   /* wiped by soget_http1_request */
    lc->handing = 0;
    lcall_release(lc);
    if (e.nomem) return call_nomem(L, lc);
    lcall_enter(L, lc);
    step = soget_call_failed(&lc->c->eng, &lc->k, &e);   /* the URL cannot be sent to */
    lcall_release(lc);
    return step_result(L, lc, step, &e, "request_bytes");
  }
  /* The bytes hold the credentials: wiped and freed even when pushing
   * them raises (out of memory). */
  status = soget_cbytes_push(L, b.data, b.len);   /* 3: the bytes */
  soget_buf_free_wiped(&b);
  if (status != 0) {
    lcall_release(lc);
    return lua_error(L);
  }
  /* The URL is the call's, or its client's token_url (held meanwhile). */
  lua_createtable(L, 0, 14);                      /* 4 */
  lua_pushvalue(L, 3);
  lua_setfield(L, 4, "bytes");
  lua_pushstring(L, lc->k.state == SOGET_CALL_TOKEN_SENT ? "token" : "api");
  lua_setfield(L, 4, "kind");
  lua_pushstring(L, lc->k.rq.post ? "POST" : "GET");
  lua_setfield(L, 4, "method");
  lua_pushstring(L, lc->k.rq.url);
  lua_setfield(L, 4, "url");
  lua_pushnumber(L, (lua_Number)lc->k.rq.timeout_ms / 1000.0);
  lua_setfield(L, 4, "timeout");
  lua_pushnumber(L, (lua_Number)lc->k.rq.connect_timeout_ms / 1000.0);
  lua_setfield(L, 4, "connect_timeout");
  set_send_options(L, 4, lc->c);
  lcall_release(lc);
  lua_pushstring(L, t.scheme);
  lua_setfield(L, 4, "scheme");
  lua_pushstring(L, t.host);
  lua_setfield(L, 4, "host");
  lua_pushstring(L, t.name);
  lua_setfield(L, 4, "server_name");
  lua_pushinteger(L, (lua_Integer)t.port);
  lua_setfield(L, 4, "port");
  lua_pushboolean(L, t.tls);
  lua_setfield(L, 4, "tls");
  return 1;   /* still handing: until call_step has it back */
}

static void call_close_now(lcall *lc) {
  if (lc->open) {
    soget_call_free(lc->c ? &lc->c->eng : NULL, &lc->k);
    lc->open = 0;
  }
  if (lc->c) lcall_release(lc);   /* (steps give their hold back, even when they raise) */
}

/* A step of soget.Call. Its body reads the call's buffers between
 * allocations, and any allocation can run a finalizer that closes the
 * call (Lua 5.1 and LuaJIT collect even before they copy a string): the
 * body runs in a protected call with the call marked as stepping, a
 * close() asked for meanwhile is made once it is done, and its error, if
 * any, is raised again then. */
static int call_step(lua_State *L, const char *method) {
  lcall *lc = lua_touserdata(L, 1);   /* checked by the method */
  soget_client *c;
  int n = lua_gettop(L), i, status;
  /* A step of this call from a finalizer or a hook run amid one of its
   * steps: the running step reads the call's buffers (its URL, its header
   * lines), which the nested one would free or rebuild under it. The
   * steps come in turn; this one is out of turn, and changes nothing. */
  if (lc->stepping)
    return luaL_error(L, "soget.Call: %s() amid another step of the same call "
                         "(a finalizer or a hook stepping it)", method);
  luaL_checkstack(L, n + 2, NULL);
  /* Checked again (it raises): reading the arguments could run a
   * finalizer. The client's userdata stays at n + 1 for the whole step:
   * whatever Lua code does to the call's uservalue meanwhile, c stays
   * alive under it. */
  c = checkcall_as(L, 1)->c;
  lua_pushvalue(L, lua_upvalueindex(1));   /* the body: made once (soget_client_open) */
  for (i = 1; i <= n; i++) lua_pushvalue(L, i);   /* 1 keeps the call anchored */
  /* A hold of the step's own, whatever the body takes and gives back. */
  soget_client_hold(c);
  lc->stepping++;
  status = lua_pcall(L, n, LUA_MULTRET, 0);
  lc->stepping--;
  if (status == 0) lc->handing = 0;
  if (status != 0 && lc->handing) {
    /* Raised (out of memory, or a hook's error, also at the body's own
     * return) while the request that is out was handed over: the driver
     * never got it, and the call would wait for its answer, holding the
     * client's token lease. The call is over. */
    lc->handing = 0;
    if (lc->open) {
      soget_call_free(&c->eng, &lc->k);
      lc->open = 0;
    }
  }
  if (lc->stepping == 0) {
    if (status != 0) lcall_release(lc);   /* raised mid-step: no hold left behind */
    if (lc->close_pending) {
      lc->close_pending = 0;
      call_close_now(lc);
    }
  }
  soget_client_release(c);   /* may end a client close() asked for meanwhile */
  if (status != 0) return lua_error(L);
  return lua_gettop(L) - n - 1;
}

/* The steps' arguments are checked here, where Lua's messages name the
 * method, and read by their bodies as checked. */
static int call_request(lua_State *L) {
  checkcall(L);
  lua_settop(L, 1);
  return call_step(L, "request");
}

static int call_request_bytes(lua_State *L) {
  size_t len;
  const char *ua;
  checkcall(L);
  ua = luaL_optlstring(L, 2, NULL, &len);
  if (ua) {   /* a misuse raises, and leaves the call as it was */
    const char *why = soget_header_value_problem(ua, len);
    if (why) return luaL_error(L, "soget.Call: request_bytes(): the user agent %s", why);
  }
  lua_settop(L, 2);
  return call_step(L, "request_bytes");
}

static int call_response(lua_State *L) {
  lua_Number status;
  checkcall(L);
  status = luaL_checknumber(L, 2);
  luaL_optlstring(L, 3, "", NULL);
  luaL_optlstring(L, 4, NULL, NULL);
  luaL_optstring(L, 5, NULL);
  luaL_optlstring(L, 6, NULL, NULL);
  /* As a response's status line can give it (soget.http_parser refuses
   * the others); NaN or a huge number would overflow the conversion to long */
  luaL_argcheck(L, status >= 100 && status <= 999 && status == (lua_Number)(long)status, 2,
                "must be an HTTP status: a whole number from 100 to 999");
  lua_settop(L, 6);
  return call_step(L, "response");
}

static int call_failed(lua_State *L) {
  const char *kind;
  size_t kl;
  int i, retryable;
  lua_Integer status = 0;
  checkcall(L);
  luaL_checkstring(L, 2);
  kind = luaL_optlstring(L, 3, "network", &kl);
  for (i = 0; failure_kinds[i] && !(strlen(failure_kinds[i]) == kl &&
                                    memcmp(failure_kinds[i], kind, kl) == 0); i++) {
  }
  luaL_argcheck(L, failure_kinds[i] != NULL, 3, "must be 'network', 'timeout', 'tls' or 'http'");
  /* by default, what the blocking client says of the kind: a connection
   * failure or a timeout may pass; a TLS failure or a size limit will not */
  retryable = lua_isnoneornil(L, 4) ? i < 2 : lua_toboolean(L, 4);
  if (!lua_isnoneornil(L, 5)) {
    lua_Number st = luaL_checknumber(L, 5);
    /* (the README's rule: no status when no answer came) */
    luaL_argcheck(L, strcmp(failure_kinds[i], "http") == 0, 5,
                  "a status goes with the kind 'http' only (a size limit's answer)");
    luaL_argcheck(L, st >= 100 && st <= 999 && st == floor(st), 5,
                  "must be an HTTP status, a whole number from 100 to 999");
    status = (lua_Integer)st;
  }
  lua_settop(L, 2);
  lua_pushinteger(L, i);
  lua_pushboolean(L, retryable);
  lua_pushinteger(L, status);
  return call_step(L, "failed");
}

static int call_close(lua_State *L) {
  lcall *lc = luaL_checkudata(L, 1, SOGET_CALL_T);
  if (lc->stepping) {
    lc->close_pending = 1;   /* a finalizer, amid a step: after it */
  } else {
    call_client(L, 1, lc);
    call_close_now(lc);
  }
  return 0;
}

/* No step runs when the collector finalizes the call (a step's frame holds
 * it) but at a lua_close amid one, which never resumes: freed whole. One
 * runs when a script calls __gc itself amid it: then it is close(). */
static int call_gc(lua_State *L) {
  lcall *lc = luaL_checkudata(L, 1, SOGET_CALL_T);
  if (lc->stepping && soget_gc_amid_code(L)) {
    lc->close_pending = 1;
  } else {
    call_client(L, 1, lc);
    call_close_now(lc);
  }
  return 0;
}

static int call_tostring(lua_State *L) {
  lcall *lc = luaL_checkudata(L, 1, SOGET_CALL_T);
  soget_client *c = call_client(L, 1, lc);
  /* (the blocking driver's call is pending from push_call to drop_call:
   * its first step begins it) */
  lua_pushfstring(L, SOGET_CALL_T " (%s)",
                  !lc->open || (lc->k.state == SOGET_CALL_DONE && !lc->stepping) ? "done"
                  : !c || c->closed || c->close_pending       ? "client closed"
                                                              : "pending");
  return 1;
}

/* call:time_left() -> seconds before the call's deadline (its client's
 * timeout, counted from begin), 0 once it passed or the call is over: for
 * a driver's own waits, which the call's timeout bounds too. */
static int call_time_left(lua_State *L) {
  lcall *lc = luaL_checkudata(L, 1, SOGET_CALL_T);
  double left = 0;
  if (lc->open && lc->k.state != SOGET_CALL_DONE) left = lc->k.deadline - soget_now();
  lua_pushnumber(L, left > 0 ? left : 0);
  return 1;
}

static const luaL_Reg call_methods[] = {{"close", call_close},
                                        {"time_left", call_time_left},
                                        {NULL, NULL}};

/* The steps: each method a closure over its body (see call_step). */
static const struct {
  const char *name;
  lua_CFunction method, body;
} call_steps[] = {{"request", call_request, call_request_body},
                  {"request_bytes", call_request_bytes, call_request_bytes_body},
                  {"response", call_response, call_response_body},
                  {"failed", call_failed, call_failed_body}};

static const luaL_Reg call_meta[] = {{"__gc", call_gc},
                                     {"__close", call_close},
                                     {"__tostring", call_tostring},
                                     {NULL, NULL}};

static const luaL_Reg client_methods[] = {
    {"handling_units", meth_handling_units},
    {"handling_units_search", meth_handling_units_search},
    {"handling_units_many", soget_client_handling_units_many},
    {"stats", meth_stats},
    {"token", meth_token},
    {"set_token", meth_set_token},
    {"begin", meth_begin},
    {"close", meth_close},
    {NULL, NULL}};

static const luaL_Reg client_meta[] = {
    {"__gc", meth_gc},
    {"__close", meth_close},
    {"__tostring", meth_tostring},
    {NULL, NULL}};

void soget_client_open(lua_State *L) {
  soget_note_main_thread(L);
  soget_note_os_exit(L);
  soget_class(L, SOGET_CLIENT_T, client_methods, client_meta);
  soget_class(L, SOGET_CALL_T, call_methods, call_meta);
  luaL_getmetatable(L, SOGET_CALL_T);
  lua_getfield(L, -1, "__index");
  {
    size_t i;
    for (i = 0; i < sizeof call_steps / sizeof call_steps[0]; i++) {
      lua_pushcfunction(L, call_steps[i].body);
      lua_pushcclosure(L, call_steps[i].method, 1);
      lua_setfield(L, -2, call_steps[i].name);
    }
  }
  lua_pop(L, 2);
}
