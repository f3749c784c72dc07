/* The call state machine (call.h). One API call is: maybe fetch a token,
 * send the GET, then act on the answer (a page to decode, retry after a
 * wait, renew the token once on a 401, follow a same-origin redirect, or
 * fail). The steps below decide; they never wait on the network and never
 * decode a page: drivers do both. */
#include "call.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "clock.h"
#include "http.h"

/* ---- the engine ---------------------------------------------------------- */

void soget_engine_init(soget_engine *g) {
  int i;
  memset(g, 0, sizeof *g);
  soget_auth_init(&g->auth);
  soget_err_clear(&g->failed_err);
  for (i = 0; i < SOGET_API_COUNT; i++) soget_buf_init(&g->cred[i], 0);
  soget_url_cache_init(&g->url);
  soget_buf_init(&g->masked, 0);
}

int soget_engine_mask(soget_engine *g, const char *s, size_t n) {
  if (n < SOGET_SECRET_MIN) return 0;
  if (memchr(s, '\0', n)) return 0;   /* (cannot be in a message) */
  return soget_buf_add(&g->masked, s, n) == 0 && soget_buf_add(&g->masked, "", 1) == 0 ? 0
                                                                                       : -1;
}

/* The credential lines built for a token that is no longer the engine's
 * are wiped at once (the next API request builds them again). */
static void forget_credentials(soget_engine *g) {
  int i;
  for (i = 0; i < SOGET_API_COUNT; i++) {
    if (g->cred[i].data) soget_wipe(g->cred[i].data, g->cred[i].cap);
    soget_buf_reset(&g->cred[i]);
    g->cred_built[i] = 0;
  }
}

static void free_secret(char **p) {
  if (*p) {
    soget_wipe(*p, strlen(*p));
    free(*p);
    *p = NULL;
  }
}

void soget_engine_free(soget_engine *g) {
  int i;
  forget_credentials(g);
  for (i = 0; i < SOGET_API_COUNT; i++) soget_buf_free(&g->cred[i]);
  soget_url_cache_free(&g->url);
  soget_buf_free_wiped(&g->masked);
  free_secret(&g->client_secret);
  free_secret(&g->api_key);
  free_secret(&g->search_api_key);
  free(g->client_id);
  free(g->base_url);
  free(g->token_url);
  free(g->search_base_url);
  g->client_id = g->base_url = g->token_url = g->search_base_url = NULL;
  soget_auth_free(&g->auth);
  g->auth.is_static = 0;
  g->lease = 0;
  soget_err_clear(&g->failed_err);
}

/* The secrets to scrub: the engine's (its masked list, its token and the
 * ones before it that it keeps), and every
 * token the call k (may be NULL) sent, which may have been replaced since
 * (a call can send many: retries, renewals, resends), taken a batch at a
 * time. */
#define SCRUB_BATCH 16
_Static_assert(4 + SOGET_TOKENS_RETIRED <= SCRUB_BATCH, "the engine's secrets fit one batch");
static void scrub_all_of(const soget_engine *g, const soget_call *k, soget_err *e) {
  const char *secrets[SCRUB_BATCH];
  const soget_buf *lists[2];
  const char *p, *end;
  int n = 0, l = 0, i;
  lists[0] = &g->masked;
  lists[1] = k ? &k->sent : NULL;
  p = end = NULL;
  secrets[n++] = g->client_secret;
  secrets[n++] = g->api_key;
  secrets[n++] = g->search_api_key;
  secrets[n++] = g->auth.token;
  for (i = 0; i < SOGET_TOKENS_RETIRED && g->auth.retired[i]; i++)
    secrets[n++] = g->auth.retired[i];   /* may still be valid */
  for (;;) {
    while (n < SCRUB_BATCH) {
      if (p && p < end) {
        secrets[n++] = p;
        p += strlen(p) + 1;
      } else if (l < 2) {   /* the next list */
        const soget_buf *b = lists[l++];
        p = b && b->data ? b->data : NULL;
        end = p ? p + b->len : NULL;
      } else {
        break;
      }
    }
    soget_err_scrub(e, secrets, n);
    if (e->nomem || ((!p || p >= end) && l >= 2)) return;
    n = 0;
  }
}

/* Scrubs again while a pass replaced something: one secret's mask can
 * complete another secret that begins or ends with '*'. Each replacement
 * shortens the text, so the passes end. */
static void scrub_settled(const soget_engine *g, const soget_call *k, soget_err *e) {
  size_t before;
  do {
    before = strlen(e->message) + strlen(e->code);
    scrub_all_of(g, k, e);
  } while (!e->nomem && strlen(e->message) + strlen(e->code) < before);
}

static void scrub_call(const soget_engine *g, const soget_call *k, soget_err *e) {
  scrub_settled(g, k, e);
  soget_err_printable(e);
  scrub_settled(g, k, e);
}

void soget_engine_scrub(const soget_engine *g, const soget_call *k, soget_err *e) {
  scrub_call(g, k, e);
}

/* Scrubs a field read from a body (a C string in sz bytes) on its own,
 * before it is put into a message: cut to its buffer, it may end in the
 * start of a secret, which only the end of a text is searched for. */
static void scrub_field(const soget_engine *g, const soget_call *k, char *s, size_t sz) {
  soget_err t;
  soget_err_clear(&t);
  soget_err_set(&t, "x", 0, 0, "%s", s);
  t.cut = strlen(s) + 1 >= sz;   /* filled its buffer: it may have been cut */
  scrub_settled(g, k, &t);
  if (t.nomem) {
    s[0] = '\0';
    return;
  }
  {
    size_t len = strlen(t.message);   /* "***" is shorter than any secret */
    if (len >= sz) len = sz - 1;
    memcpy(s, t.message, len);
    s[len] = '\0';
  }
}

int soget_engine_set_token(soget_engine *g, const char *tok, size_t len,
                           double seconds_left, double expires_left) {
  double now = soget_now();
  forget_credentials(g);
  if (soget_auth_set(&g->auth, tok, len, 0, now, !(g->client_id && g->client_secret)) != 0)
    return -1;
  /* renew_at = now + seconds_left: the caller's figure already has a
   * margin; and no expiry to go on to past it unless told */
  g->auth.renew_at = now + seconds_left;
  g->auth.expires_at = now + (expires_left > seconds_left ? expires_left : seconds_left);
  return 0;
}

/* The base URL and API key of calls to the API `api` (SOGET_API_*). */
static const char *base_of(const soget_engine *g, int api) {
  return api == SOGET_API_IN_MASS && g->search_base_url ? g->search_base_url : g->base_url;
}

static const char *key_of(const soget_engine *g, int api) {
  return api == SOGET_API_IN_MASS && g->search_api_key ? g->search_api_key : g->api_key;
}

static double rand01(soget_engine *g) {
  g->rng = g->rng * 6364136223846793005UL + 1442695040888963407UL;
  return (double)((g->rng >> 11) & 0xFFFFF) / (double)0x100000;
}

/* ---- the token lease ------------------------------------------------------
 *
 * One token request at a time per engine: the call that needs a token
 * first takes the lease and sends the token request; others that need one
 * meanwhile wait (SOGET_STEP_WAIT, k->lease_wait) and then use the token
 * it brought. When that request fails, the calls begun before the failure
 * fail with the same error rather than each asking again, until a token
 * comes; calls begun later ask again. A request that timed out at its
 * holder's own deadline fails only the calls of the holder's group (a
 * batch's, which all count as begun with the batch): any other call with
 * more time left may still get a token (lease_release). A lease whose holder went away ends at the holder's
 * deadline. A call of a drive that runs alone (a blocking call, a batch)
 * never waits for a lease held outside its drive: nothing else runs until
 * the drive returns, so that holder (a soget.Call its driver left waiting,
 * in a coroutine say) could only give it back at the deadline. It takes
 * the lease over and sends a token request of its own. */

unsigned long soget_engine_group(soget_engine *g) {
  return ++g->next_id;
}

/* A token request's timeout this long before its call's deadline was not
 * that deadline's: the token host did not answer in its own time (the
 * connection not made within connect_timeout). */
#define SOGET_OWN_TIMEOUT_SLACK 0.1

static void lease_release(soget_engine *g, soget_call *k, int failed, const soget_err *e) {
  double now;
  if (g->lease != k->id) return;
  g->lease = 0;
  if (!failed || !e || e->nomem) return;
  now = soget_now();
  /* Nor is a stop asked of the holder's driver (soget_call_stop). */
  if (e->kind && strcmp(e->kind, SOGET_KIND_INTERRUPTED) == 0) return;
  /* A timeout at the holder's deadline is the holder's drive's: a call
   * with more time left elsewhere may still get a token. The calls of a
   * batch fail with it, as with any other failure: begun with the batch,
   * each would otherwise send a token request of its own in turn, every
   * one to a host that held the last for a whole timeout. Any other
   * failure is the token host's, and every call waiting for the token
   * fails with it. */
  if (e->kind && strcmp(e->kind, "timeout") == 0 && now > k->deadline - SOGET_OWN_TIMEOUT_SLACK) {
    if (k->group == 0) return;   /* (the failure before, if any, stands as it was) */
    g->failed_group = k->group;
  } else {
    g->failed_group = 0;
  }
  g->failed_at = now;
  g->failed_err = *e;
}

/* ---- calls ---------------------------------------------------------------- */

static long ms_left(double deadline) {
  double left = deadline - soget_now();
  return left <= 0 ? 0 : (long)ceil(left * 1000.0);
}

static int status_retryable(long s) {
  return s == 408 || s == 429 || s == 502 || s == 503 || s == 504;
}

void soget_call_init(soget_call *k) {
  memset(k, 0, sizeof *k);
  soget_buf_init(&k->url, 0);
  soget_buf_init(&k->body, 0);
  soget_buf_init(&k->own, 0);
  soget_buf_init(&k->sent, 0);
  k->state = SOGET_CALL_DONE;
}

/* The call k is over. If its 401 dropped the token and no token came
 * since, the renewal it asked for ends with it: a token a later call
 * fetches is that call's own, which it may renew once if the API refuses
 * it. (A token that comes while the call waits, whoever fetched it, is the
 * renewal: token_response.) */
static void call_over(soget_engine *g, soget_call *k) {
  if (k->id && g->after_401 == k->id) g->after_401 = 0;
  k->state = SOGET_CALL_DONE;
}

void soget_call_free(soget_engine *g, soget_call *k) {
  if (g && k->id) {
    lease_release(g, k, 0, NULL);
    call_over(g, k);
  }
  soget_buf_free_wiped(&k->url);   /* (a redirect's: the server's words) */
  soget_buf_free_wiped(&k->own);
  soget_buf_free_wiped(&k->body);
  soget_buf_free_wiped(&k->sent);
  k->state = SOGET_CALL_DONE;
}

static void call_start(soget_engine *g, soget_call *k, double began) {
  double now = soget_now();
  call_over(g, k);   /* (an exact walk's next page: the call before) */
  k->id = ++g->next_id;
  if (began != SOGET_CALL_NEXT_PAGE) {   /* (the next page: as the walk began) */
    k->began = began > 0 && began < now ? began : now;
    k->started = now;
  }
  k->deadline = now + g->timeout;
  k->attempt = k->renewed = k->redirects = k->stale = 0;
  k->token_only = k->empty = k->lease_wait = 0;
  k->api = SOGET_API_TRACING;
  k->fresh_gen = 0;
  k->renew_held = 0;
  if (k->sent.data) soget_wipe(k->sent.data, k->sent.cap);
  soget_buf_reset(&k->sent);
  k->sent_gen = 0;   /* (an exact walk's next page begins the call again) */
  k->wait = 0;
  k->state = SOGET_CALL_READY;
}

int soget_call_begin(soget_engine *g, soget_call *k, const soget_query *q, double began,
                     soget_err *e) {
  const char *url;
  size_t n;
  call_start(g, k, began);
  k->offset = q->offset;
  k->limit = q->limit;
  k->api = q->ep->api;
  /* The engine's cached URL, copied: a batch begins all its calls first. */
  url = soget_url_cached(&g->url, base_of(g, k->api), q, &n);
  soget_buf_reset(&k->url);
  if (!url || soget_buf_add(&k->url, url, n) != 0) {
    soget_err_nomem(e, "building the URL");
    k->state = SOGET_CALL_DONE;
    return -1;
  }
  return 0;
}

void soget_call_begin_token(soget_engine *g, soget_call *k) {
  call_start(g, k, 0);
  k->token_only = 1;
}

/* The call ends with e: SOGET_STEP_FAIL, or SOGET_STEP_NOMEM when e is
 * (or scrubbing it ran) out of memory. */
static int call_fail(soget_engine *g, soget_call *k, soget_err *e) {
  scrub_call(g, k, e);
  call_over(g, k);
  return e->nomem ? SOGET_STEP_NOMEM : SOGET_STEP_FAIL;
}

/* Whether the last token request's failure is the call k's too: k was
 * begun before it, and it counts for k's group (lease_release). */
static int shares_failure(const soget_engine *g, const soget_call *k) {
  return g->failed_at > 0 && k->began <= g->failed_at &&
         (g->failed_group == 0 || g->failed_group == k->group);
}

/* The token request, when a token is needed: SOGET_STEP_SEND, a wait for
 * another call's token request, or the end of the call. */
static int next_token(soget_engine *g, soget_call *k, soget_err *e, double now) {
  soget_http_request *rq = &k->rq;
  if (g->lease && g->lease != k->id) {
    if (now < g->lease_until && (k->group == 0 || k->group == g->lease_group)) {
      double w = g->lease_until - now;
      k->lease_wait = 1;
      k->wait = w < SOGET_LEASE_POLL ? w : SOGET_LEASE_POLL;
      return SOGET_STEP_WAIT;
    }
    g->lease = 0;   /* its holder is gone, late, or cannot move meanwhile */
  }
  if (shares_failure(g, k)) {
    *e = g->failed_err;   /* already scrubbed */
    call_over(g, k);
    return SOGET_STEP_FAIL;
  }
  if (!g->client_id || !g->client_secret) {
    soget_err_set(e, "auth", 401, 0, "the access token was refused and no "
                  "client credentials were given to get another");
    return call_fail(g, k, e);
  }
  soget_buf_reset(&k->body);
  if (soget_request_token_form(&k->body, g->client_id, g->client_secret) != 0) {
    soget_err_nomem(e, "building the token request");
    return call_fail(g, k, e);
  }
  k->headers[0] = "Content-Type: application/x-www-form-urlencoded";
  k->headers[1] = "Accept: application/json";
  k->headers[2] = NULL;
  rq->post = 1;
  rq->url = g->token_url;
  rq->body = k->body.data;
  rq->body_len = k->body.len;
  /* A renewal ahead of the expiry of a token the call can go on with
   * (keep_token) has half of the call's time, when the token can still be
   * gone on with at the end of that half: a token host that does not
   * answer leaves the call the other half for the API. Closer to the
   * expiry, it has the whole time, as a renewal that cannot be kept. */
  k->renew_gen = g->auth.gen;
  k->renew_held = g->auth.token != NULL;
  if (k->renew_held && rq->timeout_ms >= 2 &&
      soget_auth_keepable(&g->auth, now + (double)(rq->timeout_ms / 2) / 1000.0)) {
    rq->timeout_ms /= 2;
    if (rq->connect_timeout_ms > rq->timeout_ms) rq->connect_timeout_ms = rq->timeout_ms;
  }
  g->lease = k->id;
  g->lease_group = k->group;
  g->lease_until = k->deadline;
  k->state = SOGET_CALL_TOKEN_SENT;
  g->token_requests++;
  return SOGET_STEP_SEND;
}

/* The credential header lines of calls to the API `api` for the current
 * token, in one buffer with two NUL-separated lines: built when the token
 * (or nothing) was there before. 0, or -1 out of memory. */
static int credentials(soget_engine *g, int api) {
  soget_buf *b = &g->cred[api];
  const char *key = key_of(g, api);
  size_t kl = strlen(key);
  if (g->cred_built[api] && g->cred_gen[api] == g->auth.gen) return 0;
  if (b->data) soget_wipe(b->data, b->cap);
  soget_buf_reset(b);
  g->cred_built[api] = 0;
  if (soget_buf_reserve(b, g->auth.token_len + kl + 64) != 0) return -1;
  soget_buf_adds(b, "Authorization: Bearer ");
  soget_buf_add(b, g->auth.token, g->auth.token_len);
  soget_buf_add(b, "", 1);
  g->cred_second[api] = b->len;
  soget_buf_adds(b, "Ocp-Apim-Subscription-Key: ");
  soget_buf_add(b, key, kl);
  g->cred_gen[api] = g->auth.gen;
  g->cred_built[api] = 1;
  return 0;
}

/* Prepares the next request in k->rq: the token request when a token is
 * needed, else the API request. SOGET_STEP_SEND, SOGET_STEP_WAIT (for
 * another call's token request), SOGET_STEP_TOKEN, SOGET_STEP_FAIL or
 * SOGET_STEP_NOMEM; SOGET_STEP_MISUSE when the call is not ready. */
static void out_of_time(const soget_engine *g, soget_err *e) {
  soget_err_set(e, "timeout", 0, 1, "timeout reached (%.15g s) before the call completed",
                g->timeout);
}

int soget_call_next(soget_engine *g, soget_call *k, soget_err *e) {
  soget_http_request *rq = &k->rq;
  long left = ms_left(k->deadline);
  double now;
  if (k->state != SOGET_CALL_READY) return SOGET_STEP_MISUSE;
  if (left <= 0) {
    if (k->lease_wait && shares_failure(g, k)) {   /* as if it had woken first */
      *e = g->failed_err;   /* already scrubbed */
      call_over(g, k);
      return SOGET_STEP_FAIL;
    }
    out_of_time(g, e);
    if (k->lease_wait)
      soget_err_set(e, "timeout", 0, 1, "timeout reached (%.15g s) before the call "
                    "completed (waiting for the token another call requested)", g->timeout);
    return call_fail(g, k, e);
  }
  memset(rq, 0, sizeof *rq);
  rq->timeout_ms = left;
  rq->connect_timeout_ms = (long)(g->connect_timeout * 1000);
  if (rq->connect_timeout_ms > left) rq->connect_timeout_ms = left;
  rq->headers = k->headers;
  k->owned = 0;
  k->lease_wait = 0;
  now = soget_now();
  /* A token this call fetched is used once, even if it is already due
   * for renewal (a lifetime shorter than the way back here). */
  if (soget_auth_needs_token(&g->auth, now) &&
      !(g->auth.token && k->fresh_gen == g->auth.gen))
    return next_token(g, k, e, now);
  if (k->token_only) {
    k->state = SOGET_CALL_DONE;
    return SOGET_STEP_TOKEN;
  }
  if (!key_of(g, k->api)) {   /* (the binding refuses such a call before it begins) */
    soget_err_set(e, "auth", 0, 0, "no API key for this API");
    return call_fail(g, k, e);
  }
  if (credentials(g, k->api) != 0) {
    soget_err_nomem(e, "building the request");
    return call_fail(g, k, e);
  }
  k->headers[0] = g->cred[k->api].data;
  k->headers[1] = g->cred[k->api].data + g->cred_second[k->api];
  k->headers[2] = "Accept: application/json";
  k->headers[3] = NULL;
  /* Remembered for scrubbing: a server may echo it after it changed. */
  if (k->sent.len == 0 || k->sent_gen != g->auth.gen) {
    if (soget_buf_add(&k->sent, g->auth.token, g->auth.token_len) != 0 ||
        soget_buf_add(&k->sent, "", 1) != 0) {
      soget_err_nomem(e, "building the request");
      return call_fail(g, k, e);
    }
    k->sent_gen = g->auth.gen;
  }
  rq->post = 0;
  rq->url = k->url.data;
  k->token_gen = g->auth.gen;
  k->state = SOGET_CALL_API_SENT;
  g->api_requests++;
  return SOGET_STEP_SEND;
}

/* Wiping what the sent request held. */
static void call_sent(soget_call *k) {
  if (k->body.data) soget_wipe(k->body.data, k->body.len);
  if (k->own.data) soget_wipe(k->own.data, k->own.len);
}

int soget_call_own_headers(soget_call *k) {
  size_t at[sizeof k->headers / sizeof k->headers[0]];
  int i, n;
  if (k->owned) return 0;   /* its lines are the copy already */
  if (k->own.data) soget_wipe(k->own.data, k->own.cap);
  soget_buf_reset(&k->own);
  for (n = 0; n < (int)(sizeof k->headers / sizeof k->headers[0]) - 1 && k->rq.headers &&
              k->rq.headers[n];
       n++) {
    at[n] = k->own.len;
    if (soget_buf_add(&k->own, k->rq.headers[n], strlen(k->rq.headers[n]) + 1) != 0)
      return -1;
  }
  for (i = 0; i < n; i++) k->headers[i] = k->own.data + at[i];
  k->headers[n] = NULL;
  k->rq.headers = k->headers;
  k->owned = 1;
  return 0;
}

/* Schedules retry number k->attempt unless the retries or the time are
 * used up: SOGET_STEP_WAIT with k->wait set, or 0. `hint` is the
 * server's Retry-After (< 0: none). */
static int plan_retry(soget_engine *g, soget_call *k, double hint) {
  double d;
  if (k->state != SOGET_CALL_API_SENT || k->attempt >= g->retries) return 0;
  if (hint >= 0) {
    d = hint > SOGET_RETRY_AFTER_MAX ? SOGET_RETRY_AFTER_MAX : hint;
  } else {
    d = SOGET_BACKOFF_BASE * (double)(1L << (k->attempt > 10 ? 10 : k->attempt));
    if (d > SOGET_BACKOFF_MAX) d = SOGET_BACKOFF_MAX;
    d = d / 2 + d / 2 * rand01(g);   /* jitter */
  }
  if (soget_now() + d >= k->deadline) return 0;
  k->attempt++;
  k->wait = d;
  g->retries_done++;
  k->state = SOGET_CALL_READY;
  return SOGET_STEP_WAIT;
}

/* A timeout the transport reports at the call's deadline is the call's:
 * said as the call says it, the transport's words after it (libcurl
 * counts only the time the last request had: "after 199 milliseconds" in
 * a walk of 3 s). */
static void at_deadline(const soget_engine *g, const soget_call *k, soget_err *e) {
  char was[sizeof e->message];
  int cut = e->cut;
  if (!e->kind || strcmp(e->kind, "timeout") != 0 ||
      soget_now() <= k->deadline - SOGET_OWN_TIMEOUT_SLACK)
    return;
  memcpy(was, e->message, sizeof was);
  soget_err_set(e, "timeout", 0, 1, "timeout reached (%.15g s) before the call completed "
                "(the request out then: %s)", g->timeout, was);
  if (cut) e->cut = 1;
}

/* A token request that failed was a renewal ahead of the expiry of the
 * token held (a token request after a 401 drops it first): the calls go
 * on with that token while it lasts, this one and those waiting for the
 * lease, rather than fail for a token host's blip with a token the API
 * would still take (soget_auth_keep: the renewal is tried again a little
 * later); and when another call brought a new token meanwhile, with that
 * one, whose renewal time stands. Not for a stop asked of the call, nor
 * when memory ran out. This call ends with e when it has no time left
 * (its request may have had half of it: next_token), nothing noted for
 * others.
 * 1 when the failure is so taken (the step in *step), 0 otherwise. */
static int keep_token(soget_engine *g, soget_call *k, soget_err *e, int *step) {
  if (e->nomem || (e->kind && strcmp(e->kind, SOGET_KIND_INTERRUPTED) == 0) ||
      !k->renew_held)
    return 0;
  if (g->auth.gen == k->renew_gen && !soget_auth_keep(&g->auth, soget_now())) return 0;
  lease_release(g, k, 0, NULL);
  if (ms_left(k->deadline) <= 0) {
    *step = call_fail(g, k, e);
  } else {
    k->state = SOGET_CALL_READY;
    *step = SOGET_STEP_AGAIN;
  }
  return 1;
}

static int token_failed(soget_engine *g, soget_call *k, soget_err *e) {
  int r;
  if (keep_token(g, k, e, &r)) return r;
  r = call_fail(g, k, e);
  lease_release(g, k, 1, e);
  return r;
}

static int failed(soget_engine *g, soget_call *k, soget_err *e) {
  int r;
  int was_token = k->state == SOGET_CALL_TOKEN_SENT;
  if (!was_token && k->state != SOGET_CALL_API_SENT) return SOGET_STEP_MISUSE;
  call_sent(k);
  if (was_token) {
    static const char prefix[] = "token request: ";
    size_t n = sizeof prefix - 1;
    if (strlen(e->message) + n + 1 > sizeof e->message) e->cut = 1;
    memmove(e->message + n, e->message, sizeof e->message - n - 1);
    e->message[sizeof e->message - 1] = '\0';
    memcpy(e->message, prefix, n);
    return token_failed(g, k, e);
  }
  if (e->retryable && e->kind && strcmp(e->kind, "network") == 0 &&
      (r = plan_retry(g, k, -1)) != 0)
    return r;
  return call_fail(g, k, e);
}

int soget_call_failed(soget_engine *g, soget_call *k, soget_err *e) {
  if (k->state == SOGET_CALL_TOKEN_SENT || k->state == SOGET_CALL_API_SENT)
    at_deadline(g, k, e);
  return failed(g, k, e);
}

int soget_call_overdue(soget_engine *g, soget_call *k, soget_err *e) {
  soget_err_clear(e);
  out_of_time(g, e);
  return failed(g, k, e);
}

int soget_call_stop(soget_engine *g, soget_call *k, soget_err *e) {
  soget_err_clear(e);
  soget_err_interrupted(e);
  if (k->state == SOGET_CALL_TOKEN_SENT || k->state == SOGET_CALL_API_SENT)
    return failed(g, k, e);
  if (k->state != SOGET_CALL_READY) return SOGET_STEP_MISUSE;
  return call_fail(g, k, e);
}

static void body_error(const soget_engine *g, const soget_call *k, const char *body,
                       size_t len, long status, soget_err *e, const char *kind,
                       int retryable, const char *what) {
  char code[sizeof e->code], msg[256];
  soget_body_error_fields(body, len, "code", code, sizeof code, "message", msg, sizeof msg);
  scrub_field(g, k, code, sizeof code);
  scrub_field(g, k, msg, sizeof msg);
  soget_err_set(e, kind, status, retryable, "%s", msg[0] ? msg : what);
  memcpy(e->code, code, sizeof code);
}

static int token_response(soget_engine *g, soget_call *k, long status,
                          const char *body, size_t len, soget_err *e) {
  double expires_in;
  size_t tl;
  char *tok;
  int r;
  if (status != 200) {
    char code[64], msg[256];
    int known = soget_body_error_fields(body, len, "error", code, sizeof code,
                                        "error_description", msg, sizeof msg);
    scrub_field(g, k, code, sizeof code);
    scrub_field(g, k, msg, sizeof msg);
    if (status == 400 || status == 401 || status == 403)
      soget_err_set(e, "auth", status, 0, "token request refused: %s%s%s",
                    known && code[0] ? code : "the client credentials were not accepted",
                    msg[0] ? ": " : "", msg);
    else   /* retryable as an API answer of that status is (not retried: a POST) */
      soget_err_set(e, "http", status, status >= 500 || status_retryable(status),
                    "token request failed with HTTP %ld%s%s", status,
                    msg[0] ? ": " : "", msg);
    return token_failed(g, k, e);
  }
  expires_in = soget_body_token(body, len, &tok, &tl, e);
  if (expires_in < 0) return token_failed(g, k, e);
  r = 0;
  if (tl > SOGET_HEADER_VALUE_MAX) {
    soget_err_set(e, "http", status, 0, "token response: the access_token is larger than "
                  "%d bytes, the size limit of a header value", SOGET_HEADER_VALUE_MAX);
    r = -1;
  } else if (soget_header_value_problem(tok, tl)) {
    soget_err_set(e, "auth", 0, 0, "token response has an access_token that "
                  "cannot be sent in a header");
    r = -1;
  } else if (soget_auth_set(&g->auth, tok, tl, expires_in, soget_now(), 0) != 0) {
    soget_err_nomem(e, "storing the token");
    r = -1;
  }
  soget_wipe(tok, tl);
  free(tok);
  if (r != 0) return token_failed(g, k, e);
  forget_credentials(g);   /* built for the token replaced */
  k->fresh_gen = g->auth.gen;
  g->failed_at = 0;   /* a token came: an earlier failure no longer counts */
  if (g->after_401) {   /* the token that replaces a refused one */
    g->after_401 = 0;
    g->renewal_gen = g->auth.gen;
    g->renewal_at = soget_now();
  }
  lease_release(g, k, 0, NULL);
  k->state = SOGET_CALL_READY;
  return SOGET_STEP_AGAIN;
}

/* The API answered a page to the token this request carried: when it came
 * as the renewal of a refused one, that renewal worked. */
static void token_accepted(soget_engine *g, const soget_call *k) {
  if (g->renewal_gen != 0 && k->token_gen == g->renewal_gen) g->renewal_gen = 0;
  g->renewals_refused = 0;
  g->refused_at[k->api] = 0;   /* the credentials work there: a 401 may renew again */
}

/* A 401 from the API. A token replaced since this request left (by another
 * call of the engine, or set by the program) is not dropped: the request
 * goes out again with the current one. A refused current token is dropped
 * and renewed, once per call, and not at all for a call started before the
 * current token came as the renewal of a refused one: the credentials were
 * refused twice in a row then. Once the API has answered a page to the
 * renewed token, a later refusal of it is not that (the token was revoked
 * after it worked): the calls started before may renew it again. A call
 * of a batch counts as started when it leaves the batch's queue, not when
 * the batch began (its token failures' rule, shares_failure): a lookup
 * that starts after such a double refusal may renew once, as a blocking
 * call would, where the whole rest of a batch failed; but once
 * SOGET_RENEWALS_REFUSED_MAX renewed tokens in a row were refused so, the
 * lookups of a batch begun before the last renewal no longer renew.
 * A call's renewal refused too by a 401 that does not say the token is at
 * fault (token_invalid: RFC 6750's invalid_token) is most likely not the
 * token's (a wrong API key): for SOGET_RENEWAL_PAUSE, no such 401 of the
 * same API renews (a search key may be wrong alone, its lookups' pages
 * ending nothing), which would cost a token request per call. A 401 that
 * says so may renew as ever: the token was revoked. */
static int unauthorized(soget_engine *g, soget_call *k, const char *body, size_t len,
                        int token_invalid, soget_err *e) {
  int paused, unproven;
  if (k->token_gen != g->auth.gen && k->stale < 3) {
    k->stale++;
    k->state = SOGET_CALL_READY;
    return SOGET_STEP_AGAIN;
  }
  paused = !token_invalid && g->refused_at[k->api] > 0 &&
           soget_now() - g->refused_at[k->api] < SOGET_RENEWAL_PAUSE;
  unproven = g->auth.gen == g->renewal_gen;   /* (k carried the current token) */
  if (unproven && g->refused_gen != g->auth.gen) {
    g->refused_gen = g->auth.gen;
    g->renewals_refused++;
  }
  if (!k->renewed && !paused && !(unproven && k->started <= g->renewal_at) &&
      !(unproven && k->began <= g->renewal_at &&
        g->renewals_refused >= SOGET_RENEWALS_REFUSED_MAX) &&
      soget_auth_invalidate(&g->auth)) {
    forget_credentials(g);
    k->renewed = 1;
    g->after_401 = k->id;
    k->state = SOGET_CALL_READY;
    return SOGET_STEP_AGAIN;
  }
  /* (a call that renewed: its own token request was refused so; the
   * pause counts from the last such, never from a paused call's 401) */
  if (k->renewed && !token_invalid) g->refused_at[k->api] = soget_now();
  body_error(g, k, body, len, 401, e, "auth", 0, "the API refused the credentials");
  return call_fail(g, k, e);
}

static int redirected(soget_engine *g, soget_call *k, long status, const char *redirect,
                      soget_err *e) {
  /* One rule for every driver: a relative Location is resolved against
   * the URL it answers (libcurl gives the blocking driver an absolute
   * one, OpenResty passes the header as it came). */
  soget_buf to;
  int usable;
  soget_buf_init(&to, 0);
  usable = redirect && redirect[0] && strlen(redirect) <= SOGET_LOCATION_MAX &&
           soget_url_resolve(&to, k->url.data, redirect) == 0 && to.len <= SOGET_LOCATION_MAX;
  if (usable && k->redirects < SOGET_MAX_REDIRECTS &&
      soget_same_origin(to.data, base_of(g, k->api)) == 1) {
    k->redirects++;
    soget_buf_free_wiped(&k->url);
    k->url = to;
    k->state = SOGET_CALL_READY;
    return SOGET_STEP_AGAIN;
  }
  soget_buf_free_wiped(&to);
  soget_err_set(e, "http", status, 0, "%s",
                !usable ? "redirect without a usable Location"
                : k->redirects >= SOGET_MAX_REDIRECTS ? "too many redirects"
                : "redirect to another host not followed: credentials are only "
                  "sent to the API's own host");
  return call_fail(g, k, e);
}

int soget_call_response(soget_engine *g, soget_call *k, long status,
                        const char *body, size_t len, double retry_after,
                        const char *redirect, int token_invalid, soget_err *e) {
  int r;
  if (k->state == SOGET_CALL_TOKEN_SENT) {
    call_sent(k);
    return token_response(g, k, status, body, len, e);
  }
  if (k->state != SOGET_CALL_API_SENT) return SOGET_STEP_MISUSE;
  call_sent(k);
  if (status == 200) {
    token_accepted(g, k);
    call_over(g, k);
    k->empty = 0;
    return SOGET_STEP_PAGE;
  }
  if (status == 404) {
    char code[16], msg[128];
    if (soget_body_error_fields(body, len, "code", code, sizeof code, "message", msg,
                                sizeof msg) &&
        strcmp(code, "R001") == 0) {
      token_accepted(g, k);
      call_over(g, k);
      k->empty = 1;
      return SOGET_STEP_PAGE;
    }
    body_error(g, k, body, len, status, e, "http", 0, "not found (is base_url right?)");
    return call_fail(g, k, e);
  }
  if (status == 401) return unauthorized(g, k, body, len, token_invalid, e);
  if (status == 403) {
    body_error(g, k, body, len, status, e, "auth", 0, "the API refused access (forbidden)");
    return call_fail(g, k, e);
  }
  if (status == 304) {   /* no redirect: an answer to a conditional request, which soget never sends */
    soget_err_set(e, "http", status, 0, "HTTP 304 (not modified) to a request that was not conditional");
    return call_fail(g, k, e);
  }
  if (status >= 300 && status < 400) return redirected(g, k, status, redirect, e);
  if (status_retryable(status)) {
    if ((r = plan_retry(g, k, retry_after)) != 0) return r;
    body_error(g, k, body, len, status, e, "http", 1,
               status == 408   ? "the server timed out waiting for the request"
               : status == 429 ? "too many requests"
                               : "the service is unavailable");
    if (retry_after >= 0) {
      size_t n = strlen(e->message);
      e->retry_after = retry_after < SOGET_RETRY_AFTER_CAP ? retry_after : SOGET_RETRY_AFTER_CAP;
      if (retry_after >= SOGET_RETRY_AFTER_CAP)
        snprintf(e->message + n, sizeof e->message - n,
                 " (Retry-After of a day or more; %d retr%s made)", k->attempt,
                 k->attempt == 1 ? "y" : "ies");
      else
        snprintf(e->message + n, sizeof e->message - n,
                 " (Retry-After %.0f s; %d retr%s made)", retry_after, k->attempt,
                 k->attempt == 1 ? "y" : "ies");
    }
    return call_fail(g, k, e);
  }
  if (status == 400) {
    body_error(g, k, body, len, status, e, "api", 0, "bad request");
    return call_fail(g, k, e);
  }
  {
    char what[64];
    snprintf(what, sizeof what, "unexpected HTTP status %ld", status);
    body_error(g, k, body, len, status, e, "http", status >= 500, what);
  }
  return call_fail(g, k, e);
}
