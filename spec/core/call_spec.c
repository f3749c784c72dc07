/* src/core/call.c through the scripted back end (src/io/scripted.c): the
 * exact request bytes, status and body to the next step, Retry-After and
 * backoff waits, redirects, the token lease and the 401 policy, secrets
 * scrubbed, steps out of turn. No socket, no libcurl transfer, no Lua. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "memscan.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/body.h"
#include "core/call.h"
#include "core/clock.h"
#include "core/request.h"
#include "io/scripted.h"

#define BASE "https://api.example.test/v1"
#define TOKEN_URL "https://auth.example.test/token"
#define SECRET "client-secret-ABCDEFGH"
#define KEY "KEY-0123456789abcdef"
#define TOKEN_FORM "grant_type=client_credentials&client_id=cid&client_secret=" SECRET
#define TOK_OK "{\"access_token\":\"tok-0001\",\"expires_in\":300}"
#define TOK_OK2 "{\"access_token\":\"tok-0002\",\"expires_in\":300}"
#define PAGE "{\"total\":1,\"returned\":1,\"first\":0,\"items\":[{\"reference\":\"X\"}]}"

static char *dup_str(const char *s) {
  char *d = malloc(strlen(s) + 1);
  if (d) strcpy(d, s);
  return d;
}

static void engine(soget_engine *g, int retries, int with_credentials) {
  soget_engine_init(g);
  if (with_credentials) {
    g->client_id = dup_str("cid");
    g->client_secret = dup_str(SECRET);
  }
  g->api_key = dup_str(KEY);
  g->base_url = dup_str(BASE);
  g->token_url = dup_str(TOKEN_URL);
  g->timeout = 10;
  g->connect_timeout = 5;
  g->retries = retries;
  g->rng = 42;
}

/* Runs k to its end over io, as the blocking driver does (waits are not
 * slept: they are summed). Returns the final step. */
static int run(soget_engine *g, soget_call *k, soget_io io, soget_err *e, double *waited) {
  int step;
  for (;;) {
    soget_http_response rs;
    step = soget_call_next(g, k, e);
    if (step == SOGET_STEP_SEND) {
      if (io.ops->perform(io.self, &k->rq, &rs, e) != 0)
        step = soget_call_failed(g, k, e);
      else
        step = soget_call_response(g, k, rs.status, rs.body->data, rs.body->len,
                                   rs.retry_after, rs.redirect, rs.token_invalid, e);
    }
    if (step == SOGET_STEP_WAIT) {
      *waited += k->wait;
      continue;
    }
    if (step != SOGET_STEP_AGAIN) return step;
  }
}

/* ---- one call, scripted -------------------------------------------------- */

#define GET_API(url) "GET " url "\nAuthorization: Bearer tok-0001\n" \
  "Ocp-Apim-Subscription-Key: " KEY "\nAccept: application/json\n\n"
/* The same after a renewal: the credential lines carry the new token. */
#define GET_API2(url) "GET " url "\nAuthorization: Bearer tok-0002\n" \
  "Ocp-Apim-Subscription-Key: " KEY "\nAccept: application/json\n\n"
#define POST_TOKEN "POST " TOKEN_URL "\nContent-Type: application/x-www-form-urlencoded\n" \
  "Accept: application/json\n\n" TOKEN_FORM

typedef struct {
  const char *name;
  int retries;
  soget_script_step script[6];
  int nscript;
  int step;                 /* the final step */
  int empty;                /* PAGE: nothing found */
  const char *kind;         /* FAIL: e->kind ... */
  long status;
  int retryable;
  const char *message;      /* ... and the exact message (NULL: not checked) */
  const char *code;
  const char *requests[6];  /* the exact bytes of each request sent (NULL: not checked) */
  int nrequests;
  long token_requests, retries_done;
  double waited_min, waited_max;
} call_case;

/* Script steps: an answer, one with a Retry-After or a Location, or a
 * failed exchange. */
#define R(st, b) {.status = (st), .body = (b)}
#define RA(st, b, ra) {.status = (st), .body = (b), .retry_after = (ra)}
#define LOC(st, loc) {.status = (st), .body = "", .location = (loc)}
#define FAILS(kind, msg, again) {.fail_kind = (kind), .fail_msg = (msg), .fail_retryable = (again)}
static const call_case calls[] = {
  {"a token, then the page", 2, {R(200, TOK_OK), R(200, PAGE)}, 2, SOGET_STEP_PAGE, 0,
   NULL, 0, 0, NULL, NULL,
   {POST_TOKEN, GET_API(BASE "/handling-units?reference=MSCU%2B1%20x&limit=10&offset=20")}, 2,
   1, 0, 0, 0},
  {"nothing found (R001) is an empty page", 2,
   {R(200, TOK_OK), R(404, "{\"code\":\"R001\",\"message\":\"No results\"}")}, 2,
   SOGET_STEP_PAGE, 1, NULL, 0, 0, NULL, NULL, {NULL}, 2, 1, 0, 0, 0},
  {"another 404: not found, kind http", 2,
   {R(200, TOK_OK), R(404, "<html>no</html>")}, 2, SOGET_STEP_FAIL, 0, "http", 404, 0,
   "not found (is base_url right?)", "", {NULL}, 2, 1, 0, 0, 0},
  {"400 with a business code: kind api", 2,
   {R(200, TOK_OK), R(400, "{\"code\":\"R002\",\"message\":\"Bad reference\"}")}, 2,
   SOGET_STEP_FAIL, 0, "api", 400, 0, "Bad reference", "R002", {NULL}, 2, 1, 0, 0, 0},
  {"a 401 renews the token once", 2,
   {R(200, TOK_OK), R(401, ""), R(200, TOK_OK2), R(200, PAGE)}, 4, SOGET_STEP_PAGE, 0,
   NULL, 0, 0, NULL, NULL, {POST_TOKEN, GET_API(BASE "/handling-units?reference=MSCU%2B1%20x&limit=10&offset=20"), POST_TOKEN,
   GET_API2(BASE "/handling-units?reference=MSCU%2B1%20x&limit=10&offset=20")}, 4,
   2, 0, 0, 0},
  {"a 401 for the renewed token: kind auth", 2,
   {R(200, TOK_OK), R(401, ""), R(200, TOK_OK2), R(401, "{\"message\":\"Unauthorized\"}")}, 4,
   SOGET_STEP_FAIL, 0, "auth", 401, 0, "Unauthorized", "", {NULL}, 4, 2, 0, 0, 0},
  {"403: kind auth", 2, {R(200, TOK_OK), R(403, "")}, 2, SOGET_STEP_FAIL, 0, "auth", 403, 0,
   "the API refused access (forbidden)", "", {NULL}, 2, 1, 0, 0, 0},
  {"503 with Retry-After 3, then the page", 2,
   {R(200, TOK_OK), RA(503, "", "3"), R(200, PAGE)}, 3, SOGET_STEP_PAGE, 0, NULL, 0, 0, NULL,
   NULL, {NULL}, 3, 1, 1, 3, 3},
  {"Retry-After above 60 s is cut to 60", 2,
   {R(200, TOK_OK), RA(429, "", "500"), R(200, PAGE)}, 3, SOGET_STEP_FAIL, 0, "http", 429, 1,
   "too many requests (Retry-After 500 s; 0 retries made)", "", {NULL}, 2, 1, 0, 0, 0},
  {"502, 504 then 408: retries used up", 2,
   {R(200, TOK_OK), R(502, ""), R(504, ""), R(408, "")}, 4, SOGET_STEP_FAIL, 0, "http", 408,
   1, "the server timed out waiting for the request", "", {NULL}, 4, 1, 2, 0.15, 0.3},
  {"500: unexpected status, retryable, not retried", 2, {R(200, TOK_OK), R(500, "")}, 2,
   SOGET_STEP_FAIL, 0, "http", 500, 1, "unexpected HTTP status 500", "", {NULL}, 2, 1, 0, 0, 0},
  {"a same-origin redirect is followed, relative Location resolved", 2,
   {R(200, TOK_OK), LOC(302, "/v2/handling-units?reference=X"), R(200, PAGE)}, 3,
   SOGET_STEP_PAGE, 0, NULL, 0, 0, NULL, NULL,
   {NULL, NULL, GET_API("https://api.example.test/v2/handling-units?reference=X")}, 3, 1, 0, 0,
   0},
  {"a redirect to another host is not followed", 2,
   {R(200, TOK_OK), LOC(301, "https://evil.example.test/v1/x")}, 2, SOGET_STEP_FAIL, 0,
   "http", 301, 0,
   "redirect to another host not followed: credentials are only sent to the API's own host",
   "", {NULL}, 2, 1, 0, 0, 0},
  {"a network failure is retried", 2,
   {R(200, TOK_OK), FAILS("network", "connection reset", 1), R(200, PAGE)}, 3,
   SOGET_STEP_PAGE, 0, NULL, 0, 0, NULL, NULL, {NULL}, 3, 1, 1, 0.05, 0.1},
  {"a TLS failure is not retried", 2,
   {R(200, TOK_OK), FAILS("tls", "certificate verify failed", 0)}, 2,
   SOGET_STEP_FAIL, 0, "tls", 0, 0, "certificate verify failed", "", {NULL}, 2, 1, 0, 0, 0},
  {"the token endpoint refuses the credentials", 2,
   {R(400, "{\"error\":\"invalid_client\",\"error_description\":\"bad secret\"}")}, 1,
   SOGET_STEP_FAIL, 0, "auth", 400, 0, "token request refused: invalid_client: bad secret", "",
   {POST_TOKEN}, 1, 1, 0, 0, 0},
  {"the token endpoint fails (retryable, as the API's 500: not retried)", 2, {R(500, "")}, 1,
   SOGET_STEP_FAIL, 0, "http", 500, 1,
   "token request failed with HTTP 500", "", {NULL}, 1, 1, 0, 0, 0},
  {"a token answer without access_token", 2, {R(200, "{\"expires_in\":300}")}, 1,
   SOGET_STEP_FAIL, 0, "decode", 0, 0, "token response has no access_token", "", {NULL}, 1, 1,
   0, 0, 0},
  {"a token answer with an empty access_token", 2,
   {R(200, "{\"access_token\":\"\",\"expires_in\":300}")}, 1, SOGET_STEP_FAIL, 0, "decode", 0,
   0, "token response has no access_token", "", {NULL}, 1, 1, 0, 0, 0},
  {"a token answer that is no JSON", 2, {R(200, "<html>")}, 1, SOGET_STEP_FAIL, 0, "decode", 0,
   0, NULL, "", {NULL}, 1, 1, 0, 0, 0},
  {"the token endpoint unreachable: not retried", 2,
   {FAILS("network", "connection refused", 1)}, 1, SOGET_STEP_FAIL, 0,
   "network", 0, 1, "token request: connection refused", "", {NULL}, 1, 1, 0, 0, 0},
  {"a server echoing the secrets", 2,
   {R(200, TOK_OK), R(400, "{\"code\":\"R003\",\"message\":\"key " KEY " token tok-0001 "
                           "secret client-secret-ABCDEFGH\"}")}, 2,
   SOGET_STEP_FAIL, 0, "api", 400, 0, "key *** token *** secret ***", "R003", {NULL}, 2, 1, 0,
   0, 0},
  {"a secret cut at the field's size, before the Retry-After note", 0,
   {R(200, TOK_OK), RA(503, "{\"message\":\"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
     "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
     "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
     "mmmmmmmmmmmmmmmmm" KEY "\"}", "5")}, 2, SOGET_STEP_FAIL, 0, "http", 503, 1, NULL, "",
   {NULL}, 2, 1, 0, 0, 0},
  {"a token with a tiny lifetime is used once", 2,
   {R(200, "{\"access_token\":\"tok-0001\",\"expires_in\":0.000001}"), R(200, PAGE)}, 2,
   SOGET_STEP_PAGE, 0, NULL, 0, 0, NULL, NULL, {NULL}, 2, 1, 0, 0, 0},
};

static void test_calls(void) {
  size_t i;
  int j;
  for (i = 0; i < COUNT(calls); i++) {
    const call_case *t = &calls[i];
    soget_engine g;
    soget_call k;
    soget_query q;
    soget_err e;
    soget_scripted *s = soget_scripted_new(t->script, t->nscript);
    double waited = 0;
    int step;
    CASE("call: %s", t->name);
    engine(&g, t->retries, 1);
    soget_call_init(&k);
    soget_query_init(&q, &soget_lookup_endpoint);
    soget_query_set(&q, SOGET_LOOKUP_REFERENCE, "MSCU+1 x", 8);
    q.limit = 10;
    q.offset = 20;
    soget_err_clear(&e);
    CHECK_INT(soget_call_begin(&g, &k, &q, 0, &e), 0);
    step = run(&g, &k, soget_scripted_io(s), &e, &waited);
    CHECK_INT(step, t->step);
    if (t->step == SOGET_STEP_PAGE) {
      CHECK_INT(k.empty, t->empty);
      CHECK_INT(k.offset, 20);
    }
    if (t->step == SOGET_STEP_FAIL) {
      CHECK_STR(e.kind, t->kind);
      CHECK_INT(e.status, t->status);
      CHECK_INT(e.retryable, t->retryable);
      if (t->message) CHECK_STR(e.message, t->message);
      if (t->code) CHECK_STR(e.code, t->code);
      CHECK(strstr(e.message, "KEY-01") == NULL);
      CHECK(strstr(e.message, "client-sec") == NULL);
      CHECK(strstr(e.message, "tok-0001") == NULL);
    }
    CHECK_INT(soget_scripted_count(s), t->nrequests);
    for (j = 0; j < t->nrequests && j < 6; j++)
      if (t->requests[j]) {
        SUBCASE("call: %s: request %d", t->name, j + 1);
        CHECK_STR(soget_scripted_request(s, j), t->requests[j]);
      }
    SUBCASE("call: %s", t->name);
    CHECK_INT(g.token_requests, t->token_requests);
    CHECK_INT(g.retries_done, t->retries_done);
    CHECK_NEAR(waited, (t->waited_min + t->waited_max) / 2,
               (t->waited_max - t->waited_min) / 2 + 1e-9);
    CHECK_INT(k.state, SOGET_CALL_DONE);
    CHECK_INT(soget_call_next(&g, &k, &e), SOGET_STEP_MISUSE);
    soget_call_free(&g, &k);
    soget_engine_free(&g);
    soget_scripted_free(s);
  }
}

/* ---- calls that share an engine: the token policy -------------------- */

/* k begins a call of ep's, its field set to v. */
static void begin_query(soget_engine *g, soget_call *k, const soget_endpoint *ep, int field,
                        const char *v, double began) {
  soget_query q;
  soget_err e;
  soget_query_init(&q, ep);
  soget_query_set(&q, field, v, strlen(v));
  soget_err_clear(&e);
  soget_call_init(k);
  CHECK_INT(soget_call_begin(g, k, &q, began, &e), 0);
}

static void begin(soget_engine *g, soget_call *k, double began) {
  begin_query(g, k, &soget_lookup_endpoint, SOGET_LOOKUP_REFERENCE, "X", began);
}

/* A search call (the engine needs search_base_url and search_api_key). */
static void search(soget_engine *g, soget_call *k) {
  begin_query(g, k, &soget_search_endpoint, SOGET_SEARCH_DOCUMENT_REFERENCE, "BL1", 0);
}

static int next(soget_engine *g, soget_call *k) {
  soget_err e;
  soget_err_clear(&e);
  return soget_call_next(g, k, &e);
}

static int answer(soget_engine *g, soget_call *k, long status, const char *body,
                  soget_err *e) {
  soget_err_clear(e);
  return soget_call_response(g, k, status, body, strlen(body), -1, NULL, 0, e);
}

/* A 401 whose WWW-Authenticate says the bearer token is invalid. */
static int answer_invalid(soget_engine *g, soget_call *k, soget_err *e) {
  soget_err_clear(e);
  return soget_call_response(g, k, 401, "", 0, -1, NULL, 1, e);
}

static const char *bearer(const soget_call *k) {
  return k->rq.headers[0] + strlen("Authorization: Bearer ");
}

/* A new engine with credentials, and two calls: a sent the token
 * request, b waits for it. */
static void lease_taken(soget_engine *g, soget_call *a, soget_call *b) {
  engine(g, 2, 1);
  begin(g, a, 0);
  begin(g, b, 0);
  CHECK_INT(next(g, a), SOGET_STEP_SEND);
  CHECK_INT(next(g, b), SOGET_STEP_WAIT);
}

/* After lease_taken, once a's token request failed in a way the calls
 * waiting for it do not share: b sends the second token request. Frees
 * all. */
static void waiter_asks_again(soget_engine *g, soget_call *a, soget_call *b) {
  CHECK_INT(next(g, b), SOGET_STEP_SEND);
  CHECK_INT(b->state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(g->token_requests, 2);
  soget_call_free(g, a);
  soget_call_free(g, b);
  soget_engine_free(g);
}

static void test_lease(void) {
  soget_engine g;
  soget_call a, b, c;
  soget_err e;
  CASE("lease: one token request for two calls");
  engine(&g, 2, 1);
  begin(&g, &a, 0);
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(next(&g, &b), SOGET_STEP_WAIT);
  CHECK_INT(b.lease_wait, 1);
  CHECK(b.wait > 0 && b.wait <= SOGET_LEASE_POLL);
  CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_STR(bearer(&b), "tok-0001");
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(g.token_requests, 1);

  CASE("lease: a 401 for a replaced token resends; the renewal is waited for");
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_AGAIN);   /* a renews */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &b, 401, "", &e), SOGET_STEP_AGAIN);   /* b: stale */
  CHECK_INT(b.renewed, 0);
  CHECK_INT(b.stale, 1);
  CHECK_INT(next(&g, &b), SOGET_STEP_WAIT);
  CHECK_INT(answer(&g, &a, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_STR(bearer(&b), "tok-0002");
  CHECK_INT(g.token_requests, 2);

  CASE("lease: the renewed token refused too: calls begun before fail, no third token");
  CHECK_INT(answer(&g, &b, 401, "", &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "auth");
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_FAIL);
  CHECK_INT(g.token_requests, 2);
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);

  CASE("lease: a call begun later may renew again, SOGET_RENEWAL_PAUSE after the renewal "
       "was refused");
  CHECK(g.refused_at[SOGET_API_TRACING] > 0);
  g.refused_at[SOGET_API_TRACING] -= SOGET_RENEWAL_PAUSE + 1;   /* (test_renewal_pause: not before) */
  begin(&g, &c, 0);
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &c, 401, "", &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_INT(c.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(g.token_requests, 3);

  CASE("lease: freeing the holder gives the lease back");
  CHECK_INT(g.lease, c.id);
  soget_call_free(&g, &c);
  CHECK_INT(g.lease, 0);
  soget_engine_free(&g);
}

/* A drive that runs its calls alone (a blocking call, a batch) while a
 * soget.Call its driver left waiting holds the lease. */
static void test_lease_groups(void) {
  soget_engine g;
  soget_call a, b, c, d;
  soget_err e;
  unsigned long batch;
  CASE("lease: a call of a drive that runs alone takes over a lease held outside it");
  engine(&g, 2, 1);
  begin(&g, &a, 0);                        /* a soget.Call: group 0 */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  batch = soget_engine_group(&g);
  CHECK(batch != 0);
  begin(&g, &b, 0);
  b.group = batch;
  begin(&g, &c, 0);
  c.group = batch;
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);   /* not a wait until a's deadline */
  CHECK_INT(b.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(g.lease, b.id);
  CHECK_INT(g.token_requests, 2);

  CASE("lease: the calls of one drive wait for each other");
  CHECK_INT(next(&g, &c), SOGET_STEP_WAIT);
  CHECK_INT(c.lease_wait, 1);
  CHECK_INT(answer(&g, &b, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(g.lease, 0);
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_STR(bearer(&c), "tok-0001");

  CASE("lease: the holder it took over from answers later: its token is used, nothing breaks");
  CHECK_INT(answer(&g, &a, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);
  CHECK_INT(g.lease, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(bearer(&a), "tok-0002");

  CASE("lease: a soget.Call still waits for a lease held by a drive's call");
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  soget_call_free(&g, &c);
  CHECK_INT(soget_engine_set_token(&g, "tok-old", 7, 0, 0), 0);   /* due at once */
  begin(&g, &d, 0);
  d.group = soget_engine_group(&g);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &d), SOGET_STEP_SEND);
  CHECK_INT(d.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(next(&g, &a), SOGET_STEP_WAIT);
  soget_call_free(&g, &a);
  soget_call_free(&g, &d);
  soget_engine_free(&g);
}

/* A token revoked after it worked: a batch's calls, begun together, see two
 * refusals in one batch, each of a token the API had accepted. */
static void test_revoked_after_use(void) {
  soget_engine g;
  soget_call a, b, c;
  soget_err e;
  CASE("renewal: the renewed token answered a page, then refused: renewed again");
  engine(&g, 2, 1);
  begin(&g, &a, 0);
  begin(&g, &b, 0);
  begin(&g, &c, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_AGAIN);   /* tok-0001 refused */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &a, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(bearer(&a), "tok-0002");
  CHECK_INT(answer(&g, &a, 200, PAGE, &e), SOGET_STEP_PAGE);   /* tok-0002 works */
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_STR(bearer(&b), "tok-0002");
  CHECK_INT(answer(&g, &b, 401, "", &e), SOGET_STEP_AGAIN);   /* then is revoked */
  CHECK_INT(b.renewed, 1);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(b.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &b, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(g.token_requests, 3);
  CASE("renewal: that one refused before any page: refused twice in a row, no fourth token");
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &c, 401, "", &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "auth");
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &b, 401, "", &e), SOGET_STEP_FAIL);   /* once per call */
  CHECK_INT(g.token_requests, 3);
  CASE("renewal: a batch's lookup started after that renewal may renew once, as a blocking "
       "call would, though it counts as begun with the batch");
  {
    soget_call d;
    double batch = a.began;   /* the calls above began together: a batch's start */
    CHECK(g.renewal_at >= batch);
    begin(&g, &d, batch);
    CHECK(d.began == batch);
    CHECK(d.started > g.renewal_at);
    CHECK_INT(next(&g, &d), SOGET_STEP_SEND);
    /* (the token named at fault: b's refusal above, a 401 saying
     * nothing, began SOGET_RENEWAL_PAUSE for those) */
    CHECK_INT(answer_invalid(&g, &d, &e), SOGET_STEP_AGAIN);   /* renewed */
    CHECK_INT(d.renewed, 1);
    CHECK_INT(next(&g, &d), SOGET_STEP_SEND);
    CHECK_INT(d.state, SOGET_CALL_TOKEN_SENT);
    CHECK_INT(answer(&g, &d, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);
    CHECK_INT(g.token_requests, 4);
    CHECK_INT(next(&g, &d), SOGET_STEP_SEND);
    CHECK_INT(answer_invalid(&g, &d, &e), SOGET_STEP_FAIL);   /* once per call */
    CHECK_STR(e.kind, "auth");
    CHECK_INT(g.token_requests, 4);
    soget_call_free(&g, &d);
  }
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  soget_call_free(&g, &c);
  soget_engine_free(&g);
}

/* k's request, answered by a 401 without WWW-Authenticate, renews the
 * token: its next request is the token request. */
static void renews(soget_engine *g, soget_call *k) {
  soget_err e;
  CHECK_INT(next(g, k), SOGET_STEP_SEND);
  CHECK_INT(answer(g, k, 401, "", &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(g, k), SOGET_STEP_SEND);
  CHECK_INT(k->state, SOGET_CALL_TOKEN_SENT);
}

/* A new call k of an engine without a token: the token, a 401 (no
 * WWW-Authenticate) that renews it, the renewal refused so too. */
static void renewal_refused(soget_engine *g, soget_call *k, int api) {
  soget_err e;
  CHECK_INT(next(g, k), SOGET_STEP_SEND);
  CHECK_INT(answer(g, k, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(g, k), SOGET_STEP_SEND);
  CHECK_INT(answer(g, k, 401, "", &e), SOGET_STEP_AGAIN);   /* renewed: the first 401 */
  CHECK(g->refused_at[api] == 0);
  CHECK_INT(next(g, k), SOGET_STEP_SEND);
  CHECK_INT(answer(g, k, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(g, k), SOGET_STEP_SEND);
  CHECK_INT(answer(g, k, 401, "", &e), SOGET_STEP_FAIL);    /* refused too */
  CHECK_STR(e.kind, "auth");
}

/* 401s the token does not cause (a wrong API key): every token refused,
 * and no WWW-Authenticate that says the token is at fault. */
static void test_renewal_pause(void) {
  soget_engine g;
  soget_call a, b, c, d, f;
  soget_err e;
  CASE("renewal: after a call's renewal is refused too, without invalid_token, later calls "
       "do not renew for SOGET_RENEWAL_PAUSE: no token request per call");
  engine(&g, 2, 1);
  begin(&g, &a, 0);
  renewal_refused(&g, &a, SOGET_API_TRACING);
  CHECK(g.refused_at[SOGET_API_TRACING] > 0);
  CHECK_INT(g.token_requests, 2);
  begin(&g, &b, 0);                                            /* a call begun since */
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_STR(bearer(&b), "tok-0002");
  CHECK_INT(answer(&g, &b, 401, "{\"message\":\"Access denied due to invalid subscription "
                                "key.\"}", &e),
            SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "auth");
  CHECK_STR(e.message, "Access denied due to invalid subscription key.");
  CHECK_INT(g.token_requests, 2);
  CHECK_INT(g.api_requests, 3);
  CHECK_STR(bearer(&b), "tok-0002");

  CASE("renewal: a 401 whose WWW-Authenticate says invalid_token renews even so "
       "(a token revoked)");
  CHECK(g.refused_at[SOGET_API_TRACING] > 0);
  begin(&g, &c, 0);
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_INT(answer_invalid(&g, &c, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_INT(c.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(g.token_requests, 3);
  CHECK_INT(answer(&g, &c, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CASE("renewal: that renewal refused by invalid_token too does not restart the pause");
  {
    double was = g.refused_at[SOGET_API_TRACING];
    CHECK_INT(answer_invalid(&g, &c, &e), SOGET_STEP_FAIL);
    CHECK_STR(e.kind, "auth");
    CHECK(g.refused_at[SOGET_API_TRACING] == was);
  }

  CASE("renewal: past SOGET_RENEWAL_PAUSE, one call renews it again");
  g.refused_at[SOGET_API_TRACING] -= SOGET_RENEWAL_PAUSE + 1;
  begin(&g, &d, 0);
  renews(&g, &d);   /* a 401 without WWW-Authenticate: renewed */
  CHECK_INT(g.token_requests, 4);

  CASE("renewal: a page ends the pause: the next 401 renews");
  CHECK_INT(answer(&g, &d, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &d), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &d, 401, "", &e), SOGET_STEP_FAIL);    /* refused again: paused */
  CHECK(g.refused_at[SOGET_API_TRACING] > 0);
  begin(&g, &f, 0);
  CHECK_INT(next(&g, &f), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &f, 200, PAGE, &e), SOGET_STEP_PAGE);
  CHECK(g.refused_at[SOGET_API_TRACING] == 0);
  soget_call_free(&g, &f);
  begin(&g, &f, 0);
  renews(&g, &f);   /* a 401 without WWW-Authenticate: renewed */
  CHECK_INT(g.token_requests, 5);
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  soget_call_free(&g, &c);
  soget_call_free(&g, &d);
  soget_call_free(&g, &f);
  soget_engine_free(&g);

  CASE("renewal: the pause is per API: a wrong search key's, which the lookups' pages do "
       "not end, and which does not stop a lookup's renewal");
  engine(&g, 2, 1);
  g.search_api_key = dup_str("WRONG-SEARCH-KEY");
  g.search_base_url = dup_str("https://mass.example.test/v1");
  search(&g, &a);
  renewal_refused(&g, &a, SOGET_API_IN_MASS);
  CHECK(g.refused_at[SOGET_API_IN_MASS] > 0);
  CHECK(g.refused_at[SOGET_API_TRACING] == 0);
  begin(&g, &b, 0);                        /* a lookup: its page ends no pause of searches */
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &b, 200, PAGE, &e), SOGET_STEP_PAGE);
  CHECK(g.refused_at[SOGET_API_IN_MASS] > 0);
  search(&g, &c);                          /* the next search: no renewal */
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &c, 401, "", &e), SOGET_STEP_FAIL);
  CHECK_INT(g.token_requests, 2);
  begin(&g, &d, 0);                        /* a lookup's 401 renews as ever */
  renews(&g, &d);   /* a 401 without WWW-Authenticate: renewed */
  CHECK_INT(g.token_requests, 3);
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  soget_call_free(&g, &c);
  soget_call_free(&g, &d);
  soget_engine_free(&g);
}

/* A token renewed ahead of its expiry whose renewal fails: the calls go
 * on with it while it lasts (soget_auth_keep), its renewal tried again
 * later; past it, or for a token dropped after a 401, the failure is the
 * calls'. */
/* The token held made due (in its margin, not expired) and a new call
 * a's token request sent for it. */
static void renewal_sent(soget_engine *g, soget_call *a) {
  g->auth.renew_at = soget_now() - 1;
  begin(g, a, 0);
  CHECK_INT(next(g, a), SOGET_STEP_SEND);
  CHECK_INT(a->state, SOGET_CALL_TOKEN_SENT);
}

static void test_kept_token(void) {
  soget_engine g;
  soget_call a, b;
  soget_err e;
  double now;
  CASE("renewal ahead of expiry fails (503): the call goes on with the token held");
  engine(&g, 0, 1);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);   /* 300 s */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 200, PAGE, &e), SOGET_STEP_PAGE);
  soget_call_free(&g, &a);
  now = soget_now();
  CHECK(g.auth.expires_at > now + 290 && g.auth.renew_at < g.auth.expires_at);
  g.auth.renew_at = now - 1;   /* in its margin: due, not expired */
  begin(&g, &a, 0);
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(next(&g, &b), SOGET_STEP_WAIT);   /* b waits for that renewal */
  CHECK_INT(answer(&g, &a, 503, "{\"error\":\"temporarily_unavailable\"}", &e),
            SOGET_STEP_AGAIN);
  CHECK_INT(g.lease, 0);
  CHECK(g.failed_at == 0);
  CHECK(g.auth.renew_at > now && g.auth.renew_at <= soget_now() + SOGET_RENEW_RETRY);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_API_SENT);
  CHECK_STR(bearer(&a), "tok-0001");
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);   /* and so does b */
  CHECK_STR(bearer(&b), "tok-0001");
  CHECK_INT(g.token_requests, 2);
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);

  CASE("renewal ahead of expiry fails on the way (a reset): the same");
  renewal_sent(&g, &a);
  soget_err_set(&e, "network", 0, 1, "Recv failure: Connection reset by peer");
  CHECK_INT(soget_call_failed(&g, &a, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(bearer(&a), "tok-0001");
  soget_call_free(&g, &a);

  CASE("that renewal has half of the call's time; timed out so, the call goes on");
  renewal_sent(&g, &a);
  CHECK(a.rq.timeout_ms <= 5000 && a.rq.timeout_ms >= 4900);   /* timeout 10 s */
  CHECK(a.rq.connect_timeout_ms <= a.rq.timeout_ms);
  soget_err_set(&e, "timeout", 0, 1, "Operation timed out after 5000 milliseconds");
  CHECK_INT(soget_call_failed(&g, &a, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(bearer(&a), "tok-0001");
  CHECK(a.rq.timeout_ms > 4900);   /* the API request: the rest */
  soget_call_free(&g, &a);

  CASE("that renewal has the whole time when the token could not be kept past half of it");
  g.auth.renew_at = soget_now() - 1;
  g.auth.expires_at = soget_now() + SOGET_TOKEN_SLACK + 1;   /* keepable now, not in 5 s */
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK(a.rq.timeout_ms > 9900);
  CHECK_INT(answer(&g, &a, 503, "", &e), SOGET_STEP_AGAIN);   /* a quick 503: kept */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(bearer(&a), "tok-0001");
  soget_call_free(&g, &a);
  g.auth.expires_at = soget_now() + 300;

  CASE("a renewal that ran out its call's time: that call fails, nothing noted for others");
  g.auth.renew_at = soget_now() - 1;
  begin(&g, &a, 0);
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(next(&g, &b), SOGET_STEP_WAIT);
  a.deadline = soget_now();
  soget_err_set(&e, "timeout", 0, 1, "Operation timed out after 5000 milliseconds");
  CHECK_INT(soget_call_failed(&g, &a, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "timeout");
  CHECK(g.failed_at == 0);
  CHECK_INT(g.lease, 0);
  CHECK(g.auth.renew_at > soget_now());
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_STR(bearer(&b), "tok-0001");
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);

  CASE("a renewal that fails after another call brought a new token: that one, its time kept");
  g.auth.renew_at = soget_now() - 1;
  begin(&g, &a, 0);                        /* a soget.Call: group 0 */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  begin(&g, &b, 0);
  b.group = soget_engine_group(&g);        /* a blocking call takes the lease over */
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(b.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &b, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);
  now = g.auth.renew_at;
  CHECK(now > soget_now() + 200);
  CHECK_INT(answer(&g, &a, 503, "", &e), SOGET_STEP_AGAIN);
  CHECK(g.auth.renew_at == now);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(bearer(&a), "tok-0002");
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  /* (tok-0002 from here on) */

  CASE("a call stopped amid that renewal ends so");
  renewal_sent(&g, &a);
  CHECK_INT(soget_call_stop(&g, &a, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, SOGET_KIND_INTERRUPTED);
  soget_call_free(&g, &a);

  CASE("a token that expires within SOGET_TOKEN_SLACK: the renewal's failure is the call's");
  g.auth.renew_at = soget_now() - 1;
  g.auth.expires_at = soget_now() + SOGET_TOKEN_SLACK / 2;
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 503, "", &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "http");
  CHECK_INT(e.status, 503);
  soget_call_free(&g, &a);

  CASE("a token dropped after a 401: the renewal's failure is the call's");
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);   /* (the failure before counts for no later call) */
  CHECK_INT(answer(&g, &a, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer_invalid(&g, &a, &e), SOGET_STEP_AGAIN);   /* dropped, renewed */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &a, 503, "", &e), SOGET_STEP_FAIL);
  CHECK_INT(e.status, 503);
  soget_call_free(&g, &a);

  CASE("a token set_token gave (no expiry known past its figure): not kept");
  CHECK_INT(soget_engine_set_token(&g, "tok-set", 7, 10, 0), 0);
  CHECK(g.auth.expires_at == g.auth.renew_at);
  g.auth.renew_at -= 11;   /* due: its figure is all there is */
  g.auth.expires_at -= 11;
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &a, 503, "", &e), SOGET_STEP_FAIL);
  soget_call_free(&g, &a);

  CASE("a token set_token gave with its expiry: kept until then");
  CHECK_INT(soget_engine_set_token(&g, "tok-set", 7, 10, 60), 0);
  CHECK(g.auth.expires_at > g.auth.renew_at + 49);
  g.auth.renew_at -= 11;   /* due, 49 s before its expiry */
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &a, 503, "", &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(bearer(&a), "tok-set");
  soget_call_free(&g, &a);
  soget_engine_free(&g);
}

static void test_shared_failure(void) {
  soget_engine g;
  soget_call a, b, c, d;
  soget_err e;
  CASE("a refused token request fails the calls begun before it, once");
  lease_taken(&g, &a, &b);
  CHECK_INT(answer(&g, &a, 401, "{\"error\":\"invalid_client\"}", &e), SOGET_STEP_FAIL);
  soget_err_clear(&e);
  CHECK_INT(soget_call_next(&g, &b, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "auth");
  CHECK_STR(e.message, "token request refused: invalid_client");
  CHECK_INT(g.token_requests, 1);
  CASE("a call begun after the failure asks again");
  begin(&g, &c, 0);
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_INT(c.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(g.token_requests, 2);
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  soget_call_free(&g, &c);
  soget_engine_free(&g);

  /* A token request that timed out well before its call's deadline (its
   * connection not made within connect_timeout) says the token host does
   * not answer: the calls waiting for it fail with it, as for any other
   * failure, instead of each trying in turn until its deadline. */
  CASE("a token request's timeout before its deadline fails the calls waiting for it");
  lease_taken(&g, &a, &b);
  soget_err_set(&e, "timeout", 0, 0, "Connection timed out after 5001 milliseconds");
  CHECK_INT(soget_call_failed(&g, &a, &e), SOGET_STEP_FAIL);
  soget_err_clear(&e);
  CHECK_INT(soget_call_next(&g, &b, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "timeout");
  CHECK_STR(e.message, "token request: Connection timed out after 5001 milliseconds");
  CHECK_INT(g.token_requests, 1);
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  soget_engine_free(&g);

  CASE("a token request's timeout at its call's deadline: the others ask again");
  lease_taken(&g, &a, &b);
  a.deadline = soget_now();   /* its own time was up: b may have more */
  soget_err_set(&e, "timeout", 0, 0, "Operation timed out after 10000 milliseconds");
  CHECK_INT(soget_call_failed(&g, &a, &e), SOGET_STEP_FAIL);
  waiter_asks_again(&g, &a, &b);

  /* A batch's calls all count as begun with it: a token request that
   * timed out at its holder's deadline fails the others too (each would
   * otherwise wait a whole timeout for a token request of its own); calls
   * outside the batch, begun before, may still ask. */
  CASE("a batch's token request timed out at its call's deadline: the batch's other calls "
       "fail with it, others ask again");
  {
    unsigned long batch;
    engine(&g, 2, 1);
    batch = soget_engine_group(&g);
    begin(&g, &c, 0);                      /* a soget.Call, begun before */
    begin(&g, &a, c.began);
    begin(&g, &b, c.began);
    a.group = b.group = batch;
    CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
    CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
    a.deadline = soget_now();   /* its own time was up */
    soget_err_set(&e, "timeout", 0, 0, "Operation timed out after 10000 milliseconds");
    CHECK_INT(soget_call_failed(&g, &a, &e), SOGET_STEP_FAIL);
    soget_err_clear(&e);
    CHECK_INT(soget_call_next(&g, &b, &e), SOGET_STEP_FAIL);
    CHECK_STR(e.kind, "timeout");
    CHECK(strstr(e.message, "token request: timeout reached") == e.message);
    CHECK_INT(g.token_requests, 1);
    CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
    CHECK_INT(c.state, SOGET_CALL_TOKEN_SENT);
    CHECK_INT(g.token_requests, 2);
    /* c's own request times out at its deadline too: the batch's failure
     * stays the batch's, and another soget.Call begun before asks again */
    SUBCASE("and then a soget.Call's at its own deadline: the batch's failure stays the batch's");
    c.deadline = soget_now();
    soget_err_set(&e, "timeout", 0, 0, "Operation timed out after 10000 milliseconds");
    CHECK_INT(soget_call_failed(&g, &c, &e), SOGET_STEP_FAIL);
    begin(&g, &d, a.began);
    CHECK_INT(next(&g, &d), SOGET_STEP_SEND);
    CHECK_INT(d.state, SOGET_CALL_TOKEN_SENT);
    CHECK_INT(g.token_requests, 3);
    soget_call_free(&g, &a);
    soget_call_free(&g, &b);
    soget_call_free(&g, &c);
    soget_call_free(&g, &d);
    soget_engine_free(&g);
  }

  CASE("a call whose deadline passed while it waited for another's token request says so");
  lease_taken(&g, &a, &b);
  b.deadline = soget_now() - 1;
  soget_err_clear(&e);
  CHECK_INT(soget_call_next(&g, &b, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "timeout");
  CHECK(strstr(e.message, "(waiting for the token another call requested)") != NULL);
  CHECK_INT(g.token_requests, 1);
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  soget_engine_free(&g);

  CASE("once a token came, the failure no longer counts for older calls (setup)");
  engine(&g, 2, 1);
  begin(&g, &a, 0);
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 401, "{\"error\":\"invalid_client\"}", &e), SOGET_STEP_FAIL);
  begin(&g, &c, 0);
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_INT(c.state, SOGET_CALL_TOKEN_SENT);
  CASE("once a token came, the failure no longer counts for older calls");
  soget_call_free(&g, &b);
  begin(&g, &b, 0);
  b.began = a.began;   /* as old as the failed call */
  CHECK_INT(answer(&g, &c, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(g.failed_at == 0, 1);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(b.state, SOGET_CALL_API_SENT);
  soget_call_free(&g, &a);
  soget_call_free(&g, &b);
  soget_call_free(&g, &c);
  soget_engine_free(&g);
}

/* A stop (core/clock.h) that asks once *flag is set: a signal handler
 * sets it, as the interpreter's sets its hook. */
static volatile sig_atomic_t stop_flag;
static int stop_asked(void *ud) {
  (void)ud;
  return stop_flag != 0;
}
static void on_alarm(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void test_sleep(void) {
  soget_stop st = {stop_asked, NULL};
  struct sigaction sa, old;
  struct itimerval it;
  double t0;
  CASE("a sleep not asked to stop sleeps its time");
  stop_flag = 0;
  t0 = soget_now();
  CHECK_INT(soget_sleep(0.05, &st), 0);
  CHECK(soget_now() - t0 >= 0.05);
  CASE("a sleep asked to stop before it began ends at once");
  stop_flag = 1;
  t0 = soget_now();
  CHECK_INT(soget_sleep(30, &st), 1);
  CHECK(soget_now() - t0 < 5);
  CASE("a signal that asks to stop ends the sleep: 30 s, a signal after 0.05 s");
  stop_flag = 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, &old);
  memset(&it, 0, sizeof it);
  it.it_value.tv_usec = 50000;
  setitimer(ITIMER_REAL, &it, NULL);
  t0 = soget_now();
  CHECK_INT(soget_sleep(30, &st), 1);
  CHECK(soget_now() - t0 < 5);
  sigaction(SIGALRM, &old, NULL);
  CASE("without a stop, a signal does not end the sleep");
  stop_flag = 0;
  sigaction(SIGALRM, &sa, &old);
  it.it_value.tv_usec = 20000;
  setitimer(ITIMER_REAL, &it, NULL);
  t0 = soget_now();
  CHECK_INT(soget_sleep(0.1, NULL), 0);
  CHECK(soget_now() - t0 >= 0.1);
  sigaction(SIGALRM, &old, NULL);
}

/* A driver asked to stop (Ctrl-C: soget_call_stop) ends its call as
 * "interrupted", never retried: waiting for a retry, with its request
 * out, or holding the token request, which the calls waiting for it do
 * not share (their own drivers were not asked to stop). */
static void test_stop(void) {
  soget_engine g;
  soget_call a, b;
  soget_err e;
  CASE("stopped while waiting for a retry: interrupted, not retryable");
  engine(&g, 3, 0);
  CHECK_INT(soget_engine_set_token(&g, "tok-0001", 8, 600, 0), 0);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 503, "", &e), SOGET_STEP_WAIT);
  CHECK_INT(soget_call_stop(&g, &a, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "interrupted");
  CHECK_STR(e.message, "stopped before the call completed");
  CHECK_INT(e.retryable, 0);
  CHECK_INT(a.state, SOGET_CALL_DONE);
  CASE("a call stopped is over");
  CHECK_INT(soget_call_stop(&g, &a, &e), SOGET_STEP_MISUSE);
  soget_err_clear(&e);
  CHECK_INT(soget_call_next(&g, &a, &e), SOGET_STEP_MISUSE);
  soget_call_free(&g, &a);
  CASE("stopped with its request out: not retried, whatever the retries left");
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(soget_call_stop(&g, &a, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "interrupted");
  CHECK_INT(a.attempt, 0);
  CHECK_INT(a.state, SOGET_CALL_DONE);
  CASE("an exchange the back end ended so (soget_err_interrupted): the same");
  soget_call_free(&g, &a);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  soget_err_clear(&e);
  soget_err_interrupted(&e);
  CHECK_INT(soget_call_failed(&g, &a, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "interrupted");
  CHECK_INT(a.attempt, 0);
  soget_call_free(&g, &a);
  soget_engine_free(&g);

  CASE("a request out past its deadline (soget_call_overdue): the core's timeout, not retried");
  engine(&g, 3, 0);
  CHECK_INT(soget_engine_set_token(&g, "tok-0001", 8, 600, 0), 0);
  begin(&g, &a, 0);
  CHECK_INT(soget_call_overdue(&g, &a, &e), SOGET_STEP_MISUSE);   /* nothing out yet */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(soget_call_overdue(&g, &a, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "timeout");
  CHECK_STR(e.message, "timeout reached (10 s) before the call completed");
  CHECK_INT(e.retryable, 1);
  CHECK_INT(a.attempt, 0);
  CHECK_INT(a.state, SOGET_CALL_DONE);
  soget_call_free(&g, &a);
  soget_engine_free(&g);

  CASE("the timeout in a message as given, never in exponent form (1000 s, not 1e+03 s)");
  {
    static const struct { double t; const char *want; } ts[] = {
      {1000, "timeout reached (1000 s) before the call completed"},
      {86400, "timeout reached (86400 s) before the call completed"},
      {1234.5, "timeout reached (1234.5 s) before the call completed"},
      {0.3, "timeout reached (0.3 s) before the call completed"},
    };
    size_t i;
    for (i = 0; i < COUNT(ts); i++) {
      engine(&g, 3, 0);
      g.timeout = ts[i].t;
      CHECK_INT(soget_engine_set_token(&g, "tok-0001", 8, 600, 0), 0);
      begin(&g, &a, 0);
      CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
      CHECK_INT(soget_call_overdue(&g, &a, &e), SOGET_STEP_FAIL);
      CHECK_STR(e.message, ts[i].want);
      soget_call_free(&g, &a);
      soget_engine_free(&g);
    }
  }

  CASE("stopped holding the token request: the calls waiting for it ask again");
  lease_taken(&g, &a, &b);
  CHECK_INT(soget_call_stop(&g, &a, &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "interrupted");
  CHECK_STR(e.message, "token request: stopped before the call completed");
  CHECK_INT(g.lease == 0, 1);
  CHECK_INT(g.failed_at == 0, 1);
  waiter_asks_again(&g, &a, &b);
}

static void test_static_and_misuse(void) {
  soget_engine g;
  soget_call k;
  soget_err e;
  CASE("a static token: no token request; refused, kind auth");
  engine(&g, 2, 0);
  CHECK_INT(soget_engine_set_token(&g, "static-tok-1", 12, 600, 0), 0);
  CHECK_INT(g.auth.is_static, 1);
  begin(&g, &k, 0);
  CHECK_INT(next(&g, &k), SOGET_STEP_SEND);
  CHECK_STR(bearer(&k), "static-tok-1");
  CHECK_INT(answer(&g, &k, 401, "", &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "auth");
  CHECK_INT(g.token_requests, 0);
  soget_call_free(&g, &k);

  CASE("steps out of turn change nothing");
  begin(&g, &k, 0);
  CHECK_INT(answer(&g, &k, 200, PAGE, &e), SOGET_STEP_MISUSE);
  soget_err_clear(&e);
  CHECK_INT(soget_call_failed(&g, &k, &e), SOGET_STEP_MISUSE);
  CHECK_INT(k.state, SOGET_CALL_READY);
  CHECK_INT(next(&g, &k), SOGET_STEP_SEND);
  CHECK_INT(next(&g, &k), SOGET_STEP_MISUSE);
  CHECK_INT(k.state, SOGET_CALL_API_SENT);
  CHECK_INT(answer(&g, &k, 200, PAGE, &e), SOGET_STEP_PAGE);
  CHECK_INT(answer(&g, &k, 200, PAGE, &e), SOGET_STEP_MISUSE);
  soget_call_free(&g, &k);
  soget_engine_free(&g);
}

/* 1 when the n bytes at p hold s anywhere. */
static int holds(const char *p, size_t n, const char *s) {
  size_t i, sl = strlen(s);
  for (i = 0; p && i + sl <= n; i++)
    if (memcmp(p + i, s, sl) == 0) return 1;
  return 0;
}

/* The credential lines are the engine's, built once per token and API:
 * calls share them, a new token builds them again, and the bytes of a
 * token that is no longer the engine's are wiped at once. */
static void test_credentials(void) {
  soget_engine g;
  soget_call a, b;
  soget_query q;
  soget_err e;
  const char *line;
  CASE("credentials: built once, shared by the calls of the engine");
  engine(&g, 2, 1);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(a.rq.headers[0], "Authorization: Bearer tok-0001");
  CHECK_STR(a.rq.headers[1], "Ocp-Apim-Subscription-Key: " KEY);
  CHECK_STR(a.rq.headers[2], "Accept: application/json");
  CHECK(a.rq.headers[3] == NULL);
  line = a.rq.headers[0];
  CHECK_INT(answer(&g, &a, 200, PAGE, &e), SOGET_STEP_PAGE);
  soget_call_free(&g, &a);
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK(b.rq.headers[0] == line);

  CASE("credentials: a refused token's bytes are wiped at once");
  CHECK_INT(answer(&g, &b, 401, "", &e), SOGET_STEP_AGAIN);
  CHECK(!holds(g.cred[SOGET_API_TRACING].data, g.cred[SOGET_API_TRACING].cap, "tok-0001"));
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);   /* the token request */
  CHECK_INT(answer(&g, &b, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_STR(b.rq.headers[0], "Authorization: Bearer tok-0002");
  soget_call_free(&g, &b);

  CASE("credentials: the in-mass API's lines carry its own key");
  g.search_api_key = dup_str("SEARCH-KEY-0042");
  g.search_base_url = dup_str("https://mass.example.test/v1");
  soget_query_init(&q, &soget_search_endpoint);
  soget_query_set(&q, SOGET_SEARCH_DOCUMENT_REFERENCE, "BL1", 3);
  soget_call_init(&a);
  CHECK_INT(soget_call_begin(&g, &a, &q, 0, &e), 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(a.rq.url, "https://mass.example.test/v1/handling-units/search?documentReference=BL1");
  CHECK_STR(a.rq.headers[0], "Authorization: Bearer tok-0002");
  CHECK_STR(a.rq.headers[1], "Ocp-Apim-Subscription-Key: SEARCH-KEY-0042");
  soget_call_free(&g, &a);
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_STR(b.rq.headers[1], "Ocp-Apim-Subscription-Key: " KEY);
  soget_call_free(&g, &b);

  CASE("credentials: a call's own copy outlives a change of the engine's");
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(soget_call_own_headers(&a), 0);
  CHECK(a.rq.headers[0] != g.cred[SOGET_API_TRACING].data);
  CHECK_INT(soget_engine_set_token(&g, "tok-0009", 8, 100, 0), 0);
  CHECK_INT(soget_call_own_headers(&a), 0);   /* again: nothing to do */
  CHECK_STR(a.rq.headers[0], "Authorization: Bearer tok-0002");
  CHECK_STR(a.rq.headers[1], "Ocp-Apim-Subscription-Key: " KEY);
  CHECK_STR(a.rq.headers[2], "Accept: application/json");
  CHECK(a.rq.headers[3] == NULL);
  CHECK_INT(answer(&g, &a, 200, PAGE, &e), SOGET_STEP_PAGE);
  CHECK(!holds(a.own.data, a.own.cap, "tok-0002"));   /* wiped once answered */
  soget_call_free(&g, &a);

  CASE("credentials: a token set by the program wipes the lines of the old one");
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);   /* lines for tok-0009 */
  soget_call_free(&g, &b);
  CHECK_INT(soget_engine_set_token(&g, "tok-0003", 8, 100, 0), 0);
  CHECK(!holds(g.cred[SOGET_API_TRACING].data, g.cred[SOGET_API_TRACING].cap, "tok-0009"));
  CHECK(!holds(g.cred[SOGET_API_IN_MASS].data, g.cred[SOGET_API_IN_MASS].cap, "tok-0002"));
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(a.rq.headers[0], "Authorization: Bearer tok-0003");
  soget_call_free(&g, &a);
  soget_engine_free(&g);
}

/* Rules of the token and retry policy that no other case pins down. */
/* Token answers read by soget_body_token: each gives the token "t" and
 * its lifetime (want >= 0), or is refused for its token_type (want -1). */
typedef struct {
  const char *body;
  double want;
} token_answer;

#define TOKEN_TYPE_REFUSED -1

static void check_token_answers(const token_answer *answers, size_t n) {
  size_t j;
  for (j = 0; j < n; j++) {
    char *tok = NULL;
    size_t tl = 0;
    soget_err e;
    SUBCASE("%s", answers[j].body);
    soget_err_clear(&e);
    CHECK_NEAR(soget_body_token(answers[j].body, strlen(answers[j].body), &tok, &tl, &e),
               answers[j].want, 0);
    if (answers[j].want != TOKEN_TYPE_REFUSED) {
      CHECK_MEM(tok, tl, "t", 1);
    } else {
      CHECK(tok == NULL);
      CHECK_STR(e.kind, "auth");
      CHECK(!e.retryable);
      CHECK_STR(e.message, "token response: its token_type is not Bearer, the only kind "
                           "of token soget sends");
    }
    free(tok);
  }
}

static void test_policy_details(void) {
  soget_engine g;
  soget_call a, b, c, k[8];
  soget_err e;
  int i, differ = 0;

  CASE("backoff: each first retry waits from half to all of 0.1 s, jittered");
  engine(&g, 2, 0);
  CHECK_INT(soget_engine_set_token(&g, "tok-0001", 8, 600, 0), 0);
  for (i = 0; i < 8; i++) {
    begin(&g, &k[i], 0);
    CHECK_INT(next(&g, &k[i]), SOGET_STEP_SEND);
    CHECK_INT(answer(&g, &k[i], 502, "", &e), SOGET_STEP_WAIT);
    CHECK(k[i].wait >= 0.05 && k[i].wait <= 0.1);
    if (i > 0 && k[i].wait != k[0].wait) differ = 1;
  }
  CHECK_INT(differ, 1);   /* not one fixed wait: calls retrying together spread out */
  for (i = 0; i < 8; i++) soget_call_free(&g, &k[i]);
  soget_engine_free(&g);

  CASE("connect timeout: never more than the time the call has left");
  engine(&g, 2, 0);
  g.timeout = 1;
  g.connect_timeout = 5;
  CHECK_INT(soget_engine_set_token(&g, "tok-0001", 8, 600, 0), 0);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK(a.rq.connect_timeout_ms <= a.rq.timeout_ms);
  CHECK(a.rq.timeout_ms > 0 && a.rq.timeout_ms <= 1000);
  soget_call_free(&g, &a);
  soget_engine_free(&g);

  CASE("a token replaced while its request was out: resent at most three times");
  engine(&g, 2, 1);
  CHECK_INT(soget_engine_set_token(&g, "tok-0100", 8, 600, 0), 0);
  begin(&g, &a, 0);
  for (i = 1; i <= 4; i++) {
    char tok[16];
    CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
    CHECK_INT(a.state, SOGET_CALL_API_SENT);
    snprintf(tok, sizeof tok, "tok-%04d", 100 + i);
    CHECK_INT(soget_engine_set_token(&g, tok, 8, 600, 0), 0);   /* meanwhile */
    CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_AGAIN);
  }
  CHECK_INT(a.stale, 3);
  CHECK_INT(a.renewed, 1);   /* the fourth refusal: the current token is dropped and renewed */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  soget_call_free(&g, &a);
  soget_engine_free(&g);

  {
    static const char *const ways[] = {"answered 503", "timed out at its call's deadline",
                                        "its call freed"};
    int w;
    for (w = 0; w < 3; w++) {
      CASE("a renewal whose token request ended without a token (%s) leaves no mark: the next "
           "call renews its own refused token", ways[w]);
      engine(&g, 0, 1);
      begin(&g, &a, 0);
      CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
      CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
      CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
      CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
      CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_AGAIN);   /* refused: renewed */
      CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
      CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
      if (w == 0) {
        CHECK_INT(answer(&g, &a, 503, "{\"error\":\"temporarily_unavailable\"}", &e), SOGET_STEP_FAIL);
      } else if (w == 1) {
        a.deadline = soget_now();   /* its own time was up */
        soget_err_set(&e, "timeout", 0, 0, "Operation timed out after 10000 milliseconds");
        CHECK_INT(soget_call_failed(&g, &a, &e), SOGET_STEP_FAIL);
      }
      soget_call_free(&g, &a);
      begin(&g, &b, 0);
      CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
      CHECK_INT(b.state, SOGET_CALL_TOKEN_SENT);
      CHECK_INT(answer(&g, &b, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
      CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
      CHECK_INT(answer(&g, &b, 401, "", &e), SOGET_STEP_AGAIN);   /* its own refusal: renewed */
      CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
      CHECK_INT(b.state, SOGET_CALL_TOKEN_SENT);
      CHECK_INT(answer(&g, &b, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
      CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
      CHECK_INT(answer(&g, &b, 200, "{\"total\":0,\"items\":[]}", &e), SOGET_STEP_PAGE);
      CHECK_INT(g.token_requests, 4);
      soget_call_free(&g, &b);
      soget_engine_free(&g);
    }
  }

  CASE("a call gone after its 401, before its renewal's token request, leaves no mark: the "
       "next call renews its own refused token");
  engine(&g, 0, 1);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_AGAIN);   /* refused: to be renewed */
  soget_call_free(&g, &a);                                     /* gone first */
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(b.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &b, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);   /* b's own */
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &b, 401, "", &e), SOGET_STEP_AGAIN);   /* its own refusal: renewed */
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(b.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(g.token_requests, 3);
  soget_call_free(&g, &b);
  soget_engine_free(&g);

  CASE("a token request out before another call's 401, then gone: that call's own token is "
       "the renewal, and a refusal of it is the second in a row for the calls begun before");
  engine(&g, 0, 1);
  begin(&g, &c, 0);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);                   /* a's API request out */
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);                   /* c's too, same token */
  g.auth.renew_at = soget_now() - 1;                           /* the token due for renewal */
  begin(&g, &b, 0);
  CHECK_INT(next(&g, &b), SOGET_STEP_SEND);
  CHECK_INT(b.state, SOGET_CALL_TOKEN_SENT);                  /* b's token request out */
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_AGAIN);   /* a: refused, to be renewed */
  soget_call_free(&g, &b);                                     /* b gone, its request too */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &a, 200, TOK_OK2, &e), SOGET_STEP_AGAIN);   /* the renewal */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_FAIL);    /* once per call */
  CHECK_INT(answer(&g, &c, 401, "", &e), SOGET_STEP_AGAIN);   /* sent with the old: resent */
  CHECK_INT(next(&g, &c), SOGET_STEP_SEND);
  CHECK_STR(bearer(&c), "tok-0002");
  CHECK_INT(answer(&g, &c, 401, "", &e), SOGET_STEP_FAIL);    /* refused twice in a row */
  CHECK_STR(e.kind, "auth");
  CHECK_INT(g.token_requests, 3);
  soget_call_free(&g, &a);
  soget_call_free(&g, &c);
  soget_engine_free(&g);

  CASE("a call renews a refused token once, even when the program sets another between");
  engine(&g, 2, 1);
  CHECK_INT(soget_engine_set_token(&g, "tok-0100", 8, 600, 0), 0);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_AGAIN);   /* renewed */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(soget_engine_set_token(&g, "tok-0200", 8, 600, 0), 0);   /* the program's */
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_AGAIN);   /* sent with the old: resent */
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_STR(a.rq.headers[0], "Authorization: Bearer tok-0200");
  CHECK_INT(answer(&g, &a, 401, "", &e), SOGET_STEP_FAIL);   /* no second renewal */
  CHECK_STR(e.kind, "auth");
  CHECK_INT(g.token_requests, 1);
  soget_call_free(&g, &a);
  soget_engine_free(&g);

  CASE("the token before the current one is still scrubbed (renewed before it expired)");
  engine(&g, 2, 1);
  CHECK_INT(soget_engine_set_token(&g, "tok-first-0100", 14, 600, 0), 0);
  CHECK_INT(soget_engine_set_token(&g, "tok-second-0200", 15, 600, 0), 0);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(answer(&g, &a, 400, "{\"message\":\"seen tok-first-0100 and tok-second-0200\"}", &e),
            SOGET_STEP_FAIL);
  CHECK_STR(e.message, "seen *** and ***");
  soget_call_free(&g, &a);
  /* and one dropped on a 401, after its renewal came */
  CHECK(soget_auth_invalidate(&g.auth));
  CHECK(g.auth.token == NULL);
  CHECK_MEM(g.auth.retired[0], g.auth.retired_len[0], "tok-second-0200", 15);
  CHECK_MEM(g.auth.retired[1], g.auth.retired_len[1], "tok-first-0100", 14);
  CHECK_INT(soget_engine_set_token(&g, "tok-third-0300", 14, 600, 0), 0);
  CHECK_MEM(g.auth.retired[0], g.auth.retired_len[0], "tok-second-0200", 15);
  soget_engine_free(&g);
  CHECK(g.auth.retired[0] == NULL && g.auth.retired[1] == NULL);

  CASE("one secret's mask does not complete another's (scrubbed until nothing changes)");
  engine(&g, 2, 1);
  CHECK_INT(soget_engine_set_token(&g, "tok*", 4, 600, 0), 0);
  CHECK_INT(soget_engine_set_token(&g, "t0k-0100", 8, 600, 0), 0);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  /* the current token's mask after "tok" would make the retired "tok*" */
  CHECK_INT(answer(&g, &a, 400, "{\"message\":\"seen tokt0k-0100\"}", &e), SOGET_STEP_FAIL);
  CHECK(strstr(e.message, "tok*") == NULL);
  CHECK_STR(e.message, "seen *****");
  soget_call_free(&g, &a);
  soget_engine_free(&g);

  CASE("the eight tokens before the current one are scrubbed; the ninth is let go");
  engine(&g, 2, 1);
  {
    char tok[32], seen[512];
    int i;
    size_t used = 0;
    seen[0] = '\0';
    for (i = 0; i < SOGET_TOKENS_RETIRED + 2; i++) {
      snprintf(tok, sizeof tok, "tok-%02d-generation", i);
      CHECK_INT(soget_engine_set_token(&g, tok, strlen(tok), 600, 0), 0);
      used += (size_t)snprintf(seen + used, sizeof seen - used, "%s%s", i ? " " : "", tok);
    }
    begin(&g, &a, 0);
    CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
    {
      char body[640];
      snprintf(body, sizeof body, "{\"message\":\"seen %s\"}", seen);
      CHECK_INT(answer(&g, &a, 400, body, &e), SOGET_STEP_FAIL);
    }
    /* tok-00 went when tok-09 came: nine retired, eight kept */
    CHECK_STR(e.message, "seen tok-00-generation *** *** *** *** *** *** *** *** ***");
    soget_call_free(&g, &a);
    CHECK(g.auth.retired[SOGET_TOKENS_RETIRED - 1] != NULL);
    CHECK_MEM(g.auth.retired[SOGET_TOKENS_RETIRED - 1],
              g.auth.retired_len[SOGET_TOKENS_RETIRED - 1], "tok-01-generation", 17);
  }
  soget_engine_free(&g);
  for (int i = 0; i < SOGET_TOKENS_RETIRED; i++) CHECK(g.auth.retired[i] == NULL);

  CASE("expires_in: a lifetime past 10^9 s (or no number) counts as none");
  {
    static const token_answer lives[] = {
        {"{\"access_token\":\"t\",\"expires_in\":300}", 300},
        {"{\"access_token\":\"t\",\"expires_in\":\"300\"}", 300},
        {"{\"access_token\":\"t\",\"expires_in\":1000000000}", 1e9},
        {"{\"access_token\":\"t\",\"expires_in\":1000000001}", 0},
        {"{\"access_token\":\"t\",\"expires_in\":1e12}", 0},
        {"{\"access_token\":\"t\",\"expires_in\":1e400}", 0},
        {"{\"access_token\":\"t\",\"expires_in\":-5}", 0},
        /* a string: a decimal number as JSON writes one, nothing strtod
         * reads besides */
        {"{\"access_token\":\"t\",\"expires_in\":\" 1e2 \"}", 100},
        {"{\"access_token\":\"t\",\"expires_in\":\"0x10\"}", 0},
        {"{\"access_token\":\"t\",\"expires_in\":\"inf\"}", 0},
        {"{\"access_token\":\"t\",\"expires_in\":\"nan\"}", 0},
        {"{\"access_token\":\"t\",\"expires_in\":\"60s\"}", 0},
    };
    check_token_answers(lives, sizeof lives / sizeof lives[0]);
  }

  CASE("token_type: Bearer in any case, or none (or null); any other is refused as kind auth");
  {
    /* the answers taken have no expires_in: a lifetime of 0 */
    static const token_answer types[] = {
        {"{\"access_token\":\"t\",\"token_type\":\"Bearer\"}", 0},
        {"{\"access_token\":\"t\",\"token_type\":\"bearer\"}", 0},
        {"{\"access_token\":\"t\",\"token_type\":\"BEARER\"}", 0},
        {"{\"access_token\":\"t\"}", 0},
        {"{\"access_token\":\"t\",\"x\":{\"token_type\":\"mac\"}}", 0},
        {"{\"token_type\":\"mac\",\"access_token\":\"t\",\"token_type\":\"Bearer\"}", 0},
        {"{\"access_token\":\"t\",\"token_type\":\"mac\"}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":\"Bearer \"}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":\"Bearerx\"}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":\"Bearer-and-more\"}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":\"Beare\"}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":\"\"}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":\"bearer\\u0000\"}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":null}", 0},
        {"{\"access_token\":\"t\",\"token_type\":\"mac\",\"token_type\":null}", 0},
        {"{\"access_token\":\"t\",\"token_type\":null,\"token_type\":\"mac\"}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":1}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":[\"Bearer\"]}", TOKEN_TYPE_REFUSED},
        {"{\"access_token\":\"t\",\"token_type\":\"Bearer\",\"token_type\":\"mac\"}", TOKEN_TYPE_REFUSED},
    };
    check_token_answers(types, sizeof types / sizeof types[0]);
  }
  /* through the engine: the call fails, no token is kept, nothing is sent */
  engine(&g, 2, 1);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK_INT(answer(&g, &a, 200, "{\"access_token\":\"mac-tok\",\"token_type\":\"mac\","
                   "\"expires_in\":600}", &e), SOGET_STEP_FAIL);
  CHECK_STR(e.kind, "auth");
  CHECK(g.auth.token == NULL);
  soget_call_free(&g, &a);
  soget_engine_free(&g);

  CASE("a token libyajl unescaped leaves nothing behind once read");
  {
    char body[256], *tok = NULL;
    size_t n, tl = 0;
    long seen;
    /* an escape first, so libyajl unescapes the string into a buffer of its
     * own; the pattern past the allocator's pointers in a freed block */
    n = (size_t)snprintf(body, sizeof body, "{\"access_token\":\"a\\/ then more than "
                         "forty-eight bytes before the secret part: ");
    memscan_fill(body + n, 515);
    n += MEMSCAN_LEN;
    n += (size_t)snprintf(body + n, sizeof body - n, "\",\"token_type\":\"Bearer\"}");
    soget_err_clear(&e);
    CHECK_NEAR(soget_body_token(body, n, &tok, &tl, &e), 0, 0);
    soget_wipe(body, n);
    CHECK(tok != NULL && tl > MEMSCAN_LEN);
    seen = memscan_count(515, NULL, 0);
    if (seen < 0) {
      printf("  (no /proc/self/mem: left out)\n");
    } else {
      CHECK_INT(seen, 1);   /* the copy handed back */
      CHECK_INT(memscan_count(515, tok, tl), 0);
    }
    soget_wipe(tok, tl);
    free(tok);
  }

  CASE("the token request's form (the client secret) is wiped once answered");
  engine(&g, 2, 1);
  begin(&g, &a, 0);
  CHECK_INT(next(&g, &a), SOGET_STEP_SEND);
  CHECK_INT(a.state, SOGET_CALL_TOKEN_SENT);
  CHECK(holds(a.body.data, a.body.cap, SECRET));
  CHECK_INT(answer(&g, &a, 200, TOK_OK, &e), SOGET_STEP_AGAIN);
  CHECK(!holds(a.body.data, a.body.cap, SECRET));
  CHECK(!holds(a.body.data, a.body.cap, "client_secret="));
  soget_call_free(&g, &a);
  soget_engine_free(&g);
}

int main(void) {
  test_calls();
  test_policy_details();
  test_credentials();
  test_lease();
  test_lease_groups();
  test_revoked_after_use();
  test_renewal_pause();
  test_kept_token();
  test_shared_failure();
  test_stop();
  test_sleep();
  test_static_and_misuse();
  return CHECK_DONE();
}
