/* One API call as a state machine: the steps decide what to send and what
 * an answer means; a driver does the waiting and the I/O. Knows nothing
 * about Lua or libcurl: the blocking client, bulk lookups and soget.Call
 * (the OpenResty driver) all run these steps, and spec/core tests them.
 *
 * The engine is what calls of one client share: its configuration, the
 * token state with its renewal lease, and counters. */
#ifndef SOGET_CALL_H
#define SOGET_CALL_H

#include <stddef.h>
#include "auth.h"
#include "buf.h"
#include "error.h"
#include "http.h"
#include "request.h"
#include "visibility.h"

SOGET_HIDDEN_BEGIN

#define SOGET_RETRY_AFTER_MAX 60.0   /* never wait longer for a server */
#define SOGET_MAX_REDIRECTS 5
#define SOGET_BACKOFF_BASE 0.1
#define SOGET_BACKOFF_MAX 2.0
/* A call that needs a token while another call of the same client is
 * fetching one waits for it, asking again this often. */
#define SOGET_LEASE_POLL 0.01
/* A token fetched after a 401 and refused too, by a 401 that does not
 * say the token is at fault (WWW-Authenticate's Bearer error
 * invalid_token): for this long, such 401s of the same API renew no token
 * (the refusal is not the token's: a wrong API key, say), so that they
 * cost no token request each. A 401 that says so renews whenever. */
#define SOGET_RENEWAL_PAUSE 30.0
/* A batch's lookup that starts after a renewed token was refused before
 * serving a page may renew it once, as a blocking call may; once so many
 * renewed tokens in a row were refused, the lookups of a batch begun
 * before the last renewal no longer renew (a token host whose tokens the
 * API never takes would cost a token request a lookup). */
#define SOGET_RENEWALS_REFUSED_MAX 3

typedef struct soget_engine {
  /* configuration; the strings are owned (see soget_engine_free) */
  char *client_id, *client_secret, *api_key, *base_url, *token_url;
  /* the in-mass API's (SOGET_API_IN_MASS); search_api_key NULL: api_key */
  char *search_base_url, *search_api_key;
  double timeout, connect_timeout;
  int retries;
  /* token state, shared by every call of the client */
  soget_auth auth;
  unsigned long next_id;       /* ids of calls begun */
  unsigned long lease;         /* id of the call fetching a token, 0: none */
  unsigned long lease_group;   /* that call's group */
  double lease_until;          /* a lease whose holder is gone ends then */
  double failed_at;            /* when a token request last failed, 0: never */
  soget_err failed_err;        /* and why */
  unsigned long failed_group;  /* 0: the failure counts for every call begun
                                * before it; else only for that group's (a
                                * timeout at its holder's deadline) */
  unsigned long after_401;     /* the call whose 401 dropped the token, 0: none: the
                                * next token stored is the renewal of a refused one */
  unsigned long renewal_gen;   /* auth.gen of the token fetched after a 401 */
  double renewal_at;           /* and when it came */
  int renewals_refused;        /* such tokens refused in a row before serving
                                * a page (SOGET_RENEWALS_REFUSED_MAX) */
  unsigned long refused_gen;   /* the last one counted */
  double refused_at[SOGET_API_COUNT];   /* per API (a search key may be the wrong
                                * one alone): a call's renewal refused too, by a
                                * 401 that did not say the token is at fault:
                                * when; 0 after a page of that API
                                * (SOGET_RENEWAL_PAUSE) */
  /* counters */
  unsigned long rng;
  long api_requests, token_requests, retries_done;
  /* Request parts the calls share, built again only when what they are
   * made of changes (call.c): per API, the credential header lines of the
   * token of generation cred_gen[api] (wiped when the token changes and
   * when the engine is freed), and the URL of the last query begun. */
  soget_buf cred[SOGET_API_COUNT];   /* "Authorization: ...\0Ocp-Apim-...: ..." */
  size_t cred_second[SOGET_API_COUNT];
  unsigned long cred_gen[SOGET_API_COUNT];
  int cred_built[SOGET_API_COUNT];
  soget_url_cache url;
  /* more secrets to scrub from every error, NUL-separated (a proxy's user
   * and password, in the forms libcurl sends them: soget_engine_mask);
   * wiped when the engine is freed */
  soget_buf masked;
} soget_engine;

enum {   /* soget_call.state */
  SOGET_CALL_READY = 0,   /* next: soget_call_next */
  SOGET_CALL_TOKEN_SENT,  /* the token request is out */
  SOGET_CALL_API_SENT,    /* the API request is out */
  SOGET_CALL_DONE
};

enum {   /* step results */
  SOGET_STEP_SEND = 1,    /* send k->rq, then soget_call_response/_failed */
  SOGET_STEP_AGAIN,       /* call soget_call_next */
  SOGET_STEP_WAIT,        /* wait k->wait seconds, then soget_call_next */
  SOGET_STEP_PAGE,        /* done: the 200 body is the page (decode it; a
                           * decode error goes through soget_engine_scrub
                           * with the call);
                           * k->empty: nothing found, an empty page */
  SOGET_STEP_TOKEN,       /* done (soget_call_begin_token): the token is in */
  SOGET_STEP_FAIL,        /* done: e says why */
  SOGET_STEP_NOMEM,       /* done: out of memory (e->nomem). The driver frees
                           * the call (wiping its credentials), then raises
                           * its runtime's memory error */
  SOGET_STEP_MISUSE       /* refused, nothing changed: the step does not fit
                           * the call's state (next on a call that is over or
                           * whose request is out, an answer with no request
                           * out). A driver bug: soget.Call's methods raise. */
};

typedef struct soget_call {
  int state;
  int attempt, renewed, redirects;
  int stale;                   /* resent after a 401 for a replaced token */
  int token_only;              /* soget_call_begin_token */
  int api;                     /* SOGET_API_*: its base URL and API key */
  int empty;                   /* after SOGET_STEP_PAGE: nothing found */
  int lease_wait;              /* the last SOGET_STEP_WAIT waits for a lease */
  unsigned long id;            /* from the engine, for its lease */
  unsigned long group;         /* 0: stepped by a driver that runs other work
                                * while it waits (soget.Call); else the drive
                                * that runs it to its end, alone (a blocking
                                * call, a batch: soget_engine_group), which
                                * waits for no lease held outside it */
  unsigned long token_gen;     /* the token generation the request carried */
  double began;                /* monotonic; a batch's calls share its start */
  double started;              /* monotonic: when the call itself began (a
                                * batch's lookup: when it left the queue; a
                                * walk: its first page), for the renewal rule */
  double deadline;             /* monotonic */
  double wait;                 /* after SOGET_STEP_WAIT */
  long offset;                 /* the query's, to fill a missing 'first' */
  int limit;                   /* the query's (0: not sent), which bounds a
                                * page's items */
  soget_buf url;               /* API URL; a same-origin redirect replaces it */
  soget_buf sent;              /* the tokens this call sent, NUL-separated:
                                * scrubbed from its errors (wiped at the end) */
  unsigned long sent_gen;      /* the generation of the token sent last */
  unsigned long fresh_gen;     /* the token generation this call fetched */
  unsigned long renew_gen;     /* the generation held when its token request
                                * left, and whether a token was (a renewal
                                * ahead of its expiry, which keep_token may
                                * go on from with that token) */
  int renew_held;
  soget_buf body;              /* token request form (wiped after use) */
  soget_buf own;               /* header lines copied by soget_call_own_headers
                                * (wiped after use) */
  int owned;                   /* k->headers point into own */
  const char *headers[4];
  /* After SOGET_STEP_SEND. Its strings (the credential lines are the
   * engine's) stay valid until the next step of any call of the engine:
   * a driver copies what it keeps (its back end's request) at once. */
  soget_http_request rq;
} soget_call;

void soget_engine_init(soget_engine *g);
/* Wipes the secrets and the token, frees the strings. Calls still begun
 * must not step any more. */
void soget_engine_free(soget_engine *g);
/* Adds the n bytes at s to the secrets scrubbed from every error (one
 * shorter than SOGET_SECRET_MIN is not looked for). 0, or -1 out of
 * memory. */
int soget_engine_mask(soget_engine *g, const char *s, size_t n);
/* Scrubs the engine's secrets from e, and every token the call k (may be
 * NULL) sent, and makes it printable: for a decode error of k's page. */
void soget_engine_scrub(const soget_engine *g, const soget_call *k, soget_err *e);
/* Stores a token obtained elsewhere (client:set_token), due for renewal
 * after `seconds_left`, expiring after `expires_left` (0 or less, or less
 * than seconds_left: then; a renewal that fails goes on with it until
 * its expiry, see soget_auth_keep). 0, or -1 out of memory. */
int soget_engine_set_token(soget_engine *g, const char *tok, size_t len,
                           double seconds_left, double expires_left);

/* A new group, for the calls of one drive that runs them to their end
 * alone (soget_call.group): set it before their first step. */
unsigned long soget_engine_group(soget_engine *g);

void soget_call_init(soget_call *k);
/* Wipes and frees the call's buffers and ends it; gives back the token
 * lease if the call holds it (g may be NULL once the engine is freed). */
void soget_call_free(soget_engine *g, soget_call *k);
/* 0, or -1 out of memory (e->nomem). `began` is when the call counts as
 * begun for the token policy: 0 for now; the calls of a batch pass the
 * batch's start, so that a token request failed for one of them counts
 * for all (see call.c); SOGET_CALL_NEXT_PAGE for an exact walk's next
 * page, which keeps the walk's. */
#define SOGET_CALL_NEXT_PAGE (-1.0)
int soget_call_begin(soget_engine *g, soget_call *k, const soget_query *q, double began,
                     soget_err *e);
/* A call that only makes sure the engine has a token: SOGET_STEP_TOKEN
 * at once when it has one, or after the token request. */
void soget_call_begin_token(soget_engine *g, soget_call *k);
int soget_call_next(soget_engine *g, soget_call *k, soget_err *e);
/* After SOGET_STEP_SEND: copies k->rq's header lines into the call (wiped
 * with its request) and points k->rq.headers at the copies. For a driver
 * that runs code of its own before it has copied the request out (a Lua
 * allocation can run a finalizer, which can step another call of the
 * engine and so rebuild the engine's lines). 0, or -1 out of memory. */
int soget_call_own_headers(soget_call *k);
/* The request could not be sent or got no answer: e holds the transport's
 * error (kind network/timeout/tls, retryable; or e->nomem). */
int soget_call_failed(soget_engine *g, soget_call *k, soget_err *e);
/* The call's request is still out past its deadline, which the back end
 * did not enforce (the driver ended the exchange): the call fails as one
 * out of time does in soget_call_next (timeout, retryable), and is not
 * retried. SOGET_STEP_MISUSE when no request is out. */
int soget_call_overdue(soget_engine *g, soget_call *k, soget_err *e);
/* The driver was asked to stop (soget_stop) while the call waited
 * (after SOGET_STEP_WAIT) or its request was out (the driver ended the
 * exchange): the call ends with e of kind "interrupted", never retried,
 * and a token request so ended is not a failure the calls waiting for
 * it share. SOGET_STEP_FAIL (SOGET_STEP_MISUSE on a call that is over). */
int soget_call_stop(soget_engine *g, soget_call *k, soget_err *e);
/* The request's answer: its status and body, its Retry-After in seconds
 * (< 0: none), its Location (NULL or "": none), and token_invalid: 1 when
 * its WWW-Authenticate said the bearer token is invalid
 * (soget_bearer_invalid_token), which makes a 401 the token's fault. */
int soget_call_response(soget_engine *g, soget_call *k, long status,
                        const char *body, size_t len, double retry_after,
                        const char *redirect, int token_invalid, soget_err *e);

SOGET_HIDDEN_END

#endif
