/* client:handling_units_many(queries[, {concurrency = n}]): many calls at
 * once over libcurl's multi interface.
 *
 * Each query runs the same call state machine as client:handling_units
 * (call.h); this file only drives several of them: up to `concurrency`
 * easy handles in one multi handle (HTTP/2 streams over one connection
 * when the server offers it, else several connections), retry waits as
 * per-call timers, and one token fetch for the whole batch.
 *
 * Ownership. The multi handle, its easy handles and a share handle (TLS
 * sessions, DNS) form the pool, which the client's transport owns
 * (soget_transport_attach): it outlives batches, so later batches reuse
 * its connections, and client:close() or __gc frees it. A batch's own
 * state (one soget_call per slot: URL, credential headers) lives in a
 * userdata with __gc, so a Lua error raised mid-batch (out of memory,
 * raised as Lua's own memory error whether Lua or a step ran out) still
 * wipes the credentials and takes the handles out of the multi.
 *
 * Token. A call whose next request is the token request becomes the
 * batch's leader; no other call asks for its next request until the token
 * is in, so the batch fetches one token however many calls need it. A 401
 * answered to a request sent with a token the batch has replaced since
 * (or is replacing) is sent again with the new one instead of dropping
 * it, and a batch renews after a 401 at most once: when the renewed token
 * is refused too, the calls it was refused to fail with kind "auth" (as a
 * single call fails after its one renewal). When the token request
 * fails (other than by timing out), the calls that needed it fail with
 * the same error rather than each asking again. */
#define _POSIX_C_SOURCE 200809L
#include "soget.h"

#include <curl/curl.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "call.h"
#include "core/request.h"
#include "io/transport.h"

#define BULK_DEFAULT 8
#define BULK_MAX SOGET_BULK_MAX
#define POLL_MAX_MS 1000   /* longest single wait; timers and curl wake earlier */

/* ---- the pool: owned by the client's transport --------------------------- */

typedef struct pool {
  CURLM *multi;
  CURLSH *share;
  int n;                            /* easy handles made */
  soget_xfer *x[BULK_MAX];
  unsigned char in_multi[BULK_MAX];
} pool;

/* Takes handle i out of the multi and wipes a request it still holds. */
static void pool_detach(pool *p, int i) {
  if (p->in_multi[i]) {
    curl_multi_remove_handle(p->multi, soget_xfer_handle(p->x[i]));
    p->in_multi[i] = 0;
  }
  soget_xfer_abort(p->x[i]);
}

static void pool_release(void *ud) {
  pool *p = ud;
  int i;
  if (!p) return;
  for (i = 0; i < p->n; i++) {
    pool_detach(p, i);
    soget_xfer_free(p->x[i]);   /* before the share and the multi they use */
  }
  if (p->multi) curl_multi_cleanup(p->multi);
  if (p->share) curl_share_cleanup(p->share);
  free(p);
}

/* The transport's pool with at least n easy handles; NULL on no memory
 * (what was made stays with the transport). */
static pool *pool_get(soget_transport *t, int n) {
  pool *p = soget_transport_attached(t);
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->multi = curl_multi_init();
    p->share = curl_share_init();
    if (!p->multi || !p->share ||
        curl_multi_setopt(p->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX) != CURLM_OK ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
      pool_release(p);
      return NULL;
    }
    soget_transport_attach(t, p, pool_release);
  }
  while (p->n < n) {
    soget_xfer *x = soget_xfer_new(t);
    CURL *easy;
    CURLcode rc = CURLE_OK;
    if (!x) return NULL;
    easy = soget_xfer_handle(x);
    rc |= curl_easy_setopt(easy, CURLOPT_SHARE, p->share);
    rc |= curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (rc != CURLE_OK) {
      soget_xfer_free(x);
      return NULL;
    }
    p->x[p->n++] = x;
  }
  /* Keep as many idle connections as the widest batch used. */
  curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)p->n);
  return p;
}

/* ---- a batch -------------------------------------------------------------- */

enum {            /* slot.phase */
  SLOT_IDLE = 0,  /* no query */
  SLOT_READY,     /* ask the call for its next step at once */
  SLOT_SENT,      /* its request is in the multi */
  SLOT_TIMER,     /* a retry waits until `wake` */
  SLOT_TOKEN      /* waits for the leader's token request */
};

typedef struct slot {
  soget_call k;
  int q;          /* 1-based index of its query, 0 when idle */
  int phase;
  int epoch;      /* the batch's token epoch when its API request went out */
  double wake;
} slot;

typedef struct batch {
  soget_client *c;   /* kept alive by the uservalue */
  int held;          /* holds c and its transport (soget_client_hold) */
  pool *p;
  int live;          /* calls initialized, not yet cleaned up */
  int n;             /* slots */
  int nq, next, done;
  int qt, rt;        /* stack indices: normalized queries, results */
  int leader;        /* slot whose token request is out, or -1 */
  int epoch;         /* tokens this batch has stored */
  int renewed;       /* renewed after a 401 once already */
  int token_failed;
  soget_err token_err;
  long ok, failed;
  slot s[1];         /* n of them */
} batch;

/* Wipes and frees every call; takes the handles out of the multi unless
 * the client was closed meanwhile (its transport freed the pool). Safe to
 * run twice: at the end of a batch, and from __gc after a raised error. */
static void batch_end(batch *b) {
  int i;
  if (b->live) {
    b->live = 0;
    for (i = 0; i < b->n; i++) soget_call_free(&b->s[i].k);
    if (soget_client_transport(b->c) && b->p) {
      for (i = 0; i < b->n; i++) pool_detach(b->p, i);
    }
  }
  if (b->held) {   /* last: a close() asked for meanwhile frees the pool */
    b->held = 0;
    soget_client_give_transport(b->c);
    soget_client_release(b->c);
  }
}

static int batch_gc(lua_State *L) {
  batch_end(luaL_checkudata(L, 1, SOGET_BULK_T));
  return 0;
}

/* The slot's query is over: its page (on the stack top when `page`) or
 * the error e goes to results[q]; the slot becomes idle. */
static void slot_result(lua_State *L, batch *b, slot *s, int page, const soget_err *e) {
  if (page) {
    lua_rawgeti(L, b->qt, s->q);
    soget_page_attach(L, -2, 1, -1);
    lua_pop(L, 1);
    b->ok++;
  } else {
    soget_push_error(L, e);
    b->failed++;
  }
  lua_rawseti(L, b->rt, s->q);
  b->done++;
  soget_call_free(&s->k);
  soget_call_init(&s->k);
  s->q = 0;
  s->phase = SLOT_IDLE;
}

/* Acts on a step other than SOGET_STEP_SEND. Out of memory it raises:
 * run's caller cleans up (batch_end). */
static void slot_step(lua_State *L, batch *b, slot *s, int step, const soget_err *e) {
  switch (step) {
    case SOGET_STEP_NOMEM: soget_nomem(L); break;
    case SOGET_STEP_PAGE: slot_result(L, b, s, 1, NULL); break;
    case SOGET_STEP_WAIT:
      s->phase = SLOT_TIMER;
      s->wake = soget_now() + s->k.wait;
      break;
    case SOGET_STEP_AGAIN: s->phase = SLOT_READY; break;
    default: slot_result(L, b, s, 0, e); break;
  }
}

/* The leader's token request ended with `step`. */
static void token_done(batch *b, int step, const soget_err *e) {
  b->leader = -1;
  if (step == SOGET_STEP_AGAIN) {
    b->epoch++;
    b->token_failed = 0;
  } else if (step == SOGET_STEP_FAIL && !(e->kind && strcmp(e->kind, "timeout") == 0)) {
    /* A timeout may be the leader's own deadline: the next call tries. */
    b->token_failed = 1;
    b->token_err = *e;
  }
}

/* Runs slot i's call until it sends a request, waits, or ends. */
static void slot_advance(lua_State *L, batch *b, int i) {
  slot *s = &b->s[i];
  while (s->phase == SLOT_READY) {
    soget_err e;
    int step;
    soget_err_clear(&e);
    if (b->leader >= 0 && soget_now() < s->k.deadline) {
      s->phase = SLOT_TOKEN;
      return;
    }
    if (b->token_failed) {
      slot_result(L, b, s, 0, &b->token_err);
      return;
    }
    step = soget_call_next(b->c, &s->k, &e);
    if (step == SOGET_STEP_SEND) {
      int is_token = s->k.state == SOGET_CALL_TOKEN_SENT;
      CURLMcode mc = CURLM_OK;
      if (is_token) b->leader = i;
      else s->epoch = b->epoch;
      if (soget_xfer_prepare(b->p->x[i], &s->k.rq, &e) == 0) {
        mc = curl_multi_add_handle(b->p->multi, soget_xfer_handle(b->p->x[i]));
        if (mc == CURLM_OK) {
          b->p->in_multi[i] = 1;
          s->phase = SLOT_SENT;
          return;
        }
        soget_xfer_abort(b->p->x[i]);
        if (mc == CURLM_OUT_OF_MEMORY)
          soget_err_nomem(&e, "starting the request");
        else
          soget_err_set(&e, "network", 0, 0, "cannot start the request: %s",
                        curl_multi_strerror(mc));
      }
      step = soget_call_failed(b->c, &s->k, &e);
      if (is_token) token_done(b, step, &e);
    }
    slot_step(L, b, s, step, &e);
  }
}

/* Slot i's transfer ended with CURLcode `result` (already out of the multi). */
static void slot_done(lua_State *L, batch *b, int i, CURLcode result) {
  slot *s = &b->s[i];
  soget_http_response rs;
  soget_err e;
  int step, ok, is_token = s->k.state == SOGET_CALL_TOKEN_SENT;
  soget_err_clear(&e);
  ok = soget_xfer_finish(b->p->x[i], (int)result, &rs, &e) == 0;
  if (ok && rs.status == 401 && s->k.state == SOGET_CALL_API_SENT) {
    if (b->leader >= 0 || s->epoch != b->epoch) {
      /* Sent with a token that is being or has been replaced: send it
       * again with the new one. */
      if (s->k.hdr.data) soget_wipe(s->k.hdr.data, s->k.hdr.cap);
      s->k.state = SOGET_CALL_READY;
      s->phase = SLOT_READY;
      slot_advance(L, b, i);
      return;
    }
    if (b->renewed) s->k.renewed = 1;   /* a renewed token was refused too */
    else if (!s->k.renewed) b->renewed = 1;
  }
  if (ok)
    step = soget_call_response(L, b->c, &s->k, rs.status, rs.body->data, rs.body->len,
                               rs.retry_after, rs.redirect, &e);
  else
    step = soget_call_failed(b->c, &s->k, &e);
  if (is_token) token_done(b, step, &e);
  slot_step(L, b, s, step, &e);
  /* At once: after a 401 this sends the token request, which the 401s
   * still to be read must see going out. */
  if (s->phase == SLOT_READY) slot_advance(L, b, i);
}

/* libcurl itself failed: every request in flight fails with its message. */
static void fail_sent(lua_State *L, batch *b, const char *what) {
  int i;
  for (i = 0; i < b->n; i++) {
    slot *s = &b->s[i];
    soget_err e;
    int is_token;
    if (s->phase != SLOT_SENT) continue;
    is_token = s->k.state == SOGET_CALL_TOKEN_SENT;
    pool_detach(b->p, i);
    soget_err_clear(&e);
    soget_err_set(&e, "network", 0, 0, "libcurl: %s", what);
    soget_call_failed(b->c, &s->k, &e);   /* not retried: not retryable */
    if (is_token) token_done(b, SOGET_STEP_FAIL, &e);
    slot_result(L, b, s, 0, &e);
  }
}

/* Gives idle slots the next queries. */
static void fill(lua_State *L, batch *b) {
  int i;
  for (i = 0; i < b->n; i++) {
    slot *s = &b->s[i];
    while (s->phase == SLOT_IDLE && b->next <= b->nq) {
      soget_query q;
      soget_err e;
      soget_err_clear(&e);
      s->q = b->next++;
      lua_rawgeti(L, b->qt, s->q);
      soget_read_query(L, lua_gettop(L), &q, -1);
      if (soget_call_begin(b->c, &s->k, &q, &e) != 0) soget_nomem(L);
      lua_pop(L, 1);
      s->phase = SLOT_READY;
      slot_advance(L, b, i);
    }
  }
}

/* Runs the batch: a protected call (client, normalized queries, results,
 * batch), so that its caller cleans up at once when something raises. */
static int run(lua_State *L) {
  batch *b = lua_touserdata(L, 4);
  CURLM *multi = b->p->multi;
  fill(L, b);
  while (b->done < b->nq) {
    CURLMsg *m;
    CURLMcode mc;
    int running, left, i;
    double now, until;
    long ms;

    mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) fail_sent(L, b, curl_multi_strerror(mc));
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
      CURLcode result = m->data.result;
      CURL *easy = m->easy_handle;
      if (m->msg != CURLMSG_DONE) continue;
      for (i = 0; i < b->n; i++)
        if (b->p->in_multi[i] && soget_xfer_handle(b->p->x[i]) == (void *)easy) break;
      if (i == b->n) {
        curl_multi_remove_handle(multi, easy);   /* not ours: never happens */
        continue;
      }
      curl_multi_remove_handle(multi, easy);
      b->p->in_multi[i] = 0;
      slot_done(L, b, i, result);
    }

    /* Timers that are due, and calls the token no longer holds up. */
    now = soget_now();
    for (i = 0; i < b->n; i++) {
      slot *s = &b->s[i];
      if ((s->phase == SLOT_TIMER && now >= s->wake) ||
          (s->phase == SLOT_TOKEN && (b->leader < 0 || now >= s->k.deadline)))
        s->phase = SLOT_READY;
      if (s->phase == SLOT_READY) slot_advance(L, b, i);
    }
    fill(L, b);
    if (b->done >= b->nq) break;

    /* Sleep until the earliest timer or deadline, or until curl has work. */
    now = soget_now();
    until = now + POLL_MAX_MS / 1000.0;
    for (i = 0; i < b->n; i++) {
      slot *s = &b->s[i];
      if (s->phase == SLOT_TIMER && s->wake < until) until = s->wake;
      if (s->phase == SLOT_TOKEN && s->k.deadline < until) until = s->k.deadline;
      if (s->phase == SLOT_READY) until = now;
    }
    ms = until <= now ? 0 : (long)ceil((until - now) * 1000.0);
    mc = curl_multi_poll(multi, NULL, 0, (int)ms, NULL);
    if (mc != CURLM_OK) fail_sent(L, b, curl_multi_strerror(mc));
  }
  return 0;
}

/* ---- arguments ------------------------------------------------------------ */

static int check_one(lua_State *L) {
  soget_check_query(L, 1);
  return 1;
}

#define XSTR(x) #x
#define STR(x) XSTR(x)
static const soget_option bulk_options[] = {
    {.name = "concurrency", .type = SOGET_OPT_NUMBER, .min = 1, .max = BULK_MAX,
     .whole = 1, .bad = "must be a whole number between 1 and " STR(SOGET_BULK_MAX)},
    {.name = NULL}};
#undef STR
#undef XSTR

static const soget_opt_reader bulk_reader = {
    .opts = bulk_options,
    .who = "handling_units_many",
    .label = "",
    .unknown = "%s: unknown option '%s'",
    .badkey = "%s: option names must be strings, got %s",
    .nottable = "%s: options must be a table, got %s",
    .nil_ok = 1};

static int read_options(lua_State *L, int oi) {
  soget_optval v[1];
  soget_opt_read(L, oi, &bulk_reader, 0, v);   /* no strings: nothing left */
  return v[0].given ? (int)v[0].n : BULK_DEFAULT;
}

/* Validates every query (as handling_units does) into a table of
 * normalized copies, pushed; raises naming the index of a bad one. */
static int check_queries(lua_State *L, int qi) {
  size_t len, count = 0, i;
  int t;
  if (lua_type(L, qi) != LUA_TTABLE)
    luaL_error(L, "handling_units_many: queries must be a table (a list), got %s",
               luaL_typename(L, qi));
  len = lua_rawlen(L, qi);
  lua_pushnil(L);
  while (lua_next(L, qi)) {
    lua_pop(L, 1);
    count++;
  }
  if (count != len)
    luaL_error(L, "handling_units_many: queries must be a list (keys 1 to n only)");
  if (len > INT_MAX / 2) luaL_error(L, "handling_units_many: too many queries");
  lua_createtable(L, (int)len, 0);
  t = lua_gettop(L);
  for (i = 1; i <= len; i++) {
    lua_pushcfunction(L, check_one);
    lua_rawgeti(L, qi, (lua_Integer)i);
    if (lua_pcall(L, 1, 1, 0) != 0) {
      const char *msg = lua_tostring(L, -1);
      static const char prefix[] = "handling_units: ";
      if (!msg) lua_error(L);   /* not a message (out of memory): as it is */
      if (strncmp(msg, prefix, sizeof prefix - 1) == 0) msg += sizeof prefix - 1;
      luaL_error(L, "handling_units_many: query %d: %s", (int)i, msg);
    }
    lua_rawseti(L, t, (lua_Integer)i);
  }
  return (int)len;
}

/* client:handling_units_many(queries[, {concurrency = n}])
 *   -> results, {ok = n, failed = n}
 * results[i] is queries[i]'s page (as handling_units returns it) or its
 * soget.Error. */
int soget_client_handling_units_many(lua_State *L) {
  soget_client *c = soget_checkclient(L, 1);
  int concurrency, nq, n, i, status;
  long ok = 0, failed = 0;
  pool *p;
  batch *b;

  lua_settop(L, 3);
  concurrency = read_options(L, 3);
  nq = check_queries(L, 2);          /* 4: normalized queries */
  lua_createtable(L, nq, 0);         /* 5: results */
  n = nq < concurrency ? nq : concurrency;
  if (n > 0) {
    lua_pushcfunction(L, run);                                                 /* 6 */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 4);
    lua_pushvalue(L, 5);
    b = soget_newuserdata(L, offsetof(batch, s) + (size_t)n * sizeof(slot));   /* 10 */
    memset(b, 0, offsetof(batch, s) + (size_t)n * sizeof(slot));
    luaL_setmetatable(L, SOGET_BULK_T);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "client");
    soget_setuv(L, -2);
    b->c = c;
    /* Every allocation since the check at the top could have run a
     * finalizer: check again, then hold with no Lua call in between. */
    soget_checkclient(L, 1);
    if (soget_client_take_transport(c) != 0)
      return luaL_error(L, "handling_units_many: this client is in the middle of a "
                           "call (called again from a finalizer or a hook)");
    soget_client_hold(c);
    b->held = 1;                     /* from here on, __gc releases */
    p = pool_get(soget_client_transport(c), n);
    if (!p) {
      batch_end(b);
      return soget_nomem(L);
    }
    b->p = p;
    b->n = n;
    b->nq = nq;
    b->next = 1;
    b->qt = 2;   /* run's own stack */
    b->rt = 3;
    b->leader = -1;
    for (i = 0; i < n; i++) soget_call_init(&b->s[i].k);
    for (i = 0; i < p->n; i++) pool_detach(p, i);
    b->live = 1;                     /* from here on, __gc cleans up too */
    lua_pushvalue(L, -1);
    lua_replace(L, 3);               /* 3: the batch, kept for after the call */
    status = lua_pcall(L, 4, 0, 0);
    batch_end(b);
    if (status != 0) return lua_error(L);
    ok = b->ok;
    failed = b->failed;
  }
  lua_pushvalue(L, 5);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)ok);
  lua_setfield(L, -2, "ok");
  lua_pushinteger(L, (lua_Integer)failed);
  lua_setfield(L, -2, "failed");
  return 2;
}

static const luaL_Reg bulk_meta[] = {{"__gc", batch_gc}, {NULL, NULL}};

void soget_bulk_open(lua_State *L) {
  soget_class(L, SOGET_BULK_T, NULL, bulk_meta);
}
