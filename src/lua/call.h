/* One API call as a state machine (see client.c): the steps decide what
 * to send and what an answer means; a driver does the waiting. */
#ifndef SOGET_CALL_H
#define SOGET_CALL_H

#include "soget.h"
#include "core/buf.h"
#include "core/request.h"
#include "io/transport.h"
#include "core/visibility.h"

SOGET_HIDDEN_BEGIN

#define SOGET_RETRY_AFTER_MAX 60.0   /* never wait longer for a server */

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
  SOGET_STEP_PAGE,        /* done: the page is on the Lua stack */
  SOGET_STEP_FAIL,        /* done: e says why */
  SOGET_STEP_NOMEM,       /* done: out of memory (e->nomem). The driver frees
                           * the call (wiping its credentials), then raises
                           * Lua's memory error (soget_nomem) */
  SOGET_STEP_MISUSE       /* refused, nothing changed: the step does not fit
                           * the call's state (next on a call that is over or
                           * whose request is out, an answer with no request
                           * out). A driver bug: soget.Call's methods raise. */
};

typedef struct soget_call {
  int state;
  int attempt, renewed, redirects;
  int stale;                   /* resent after a 401 for a replaced token */
  unsigned long token_gen;     /* the token generation the request carried */
  double deadline;             /* monotonic */
  double wait;                 /* after SOGET_STEP_WAIT */
  long offset;                 /* the query's, to fill a missing 'first' */
  soget_buf url;               /* API URL; a same-origin redirect replaces it */
  soget_buf hdr;               /* credential header lines (wiped after use) */
  soget_buf body;              /* token request form (wiped after use) */
  const char *headers[4];
  soget_http_request rq;       /* after SOGET_STEP_SEND */
} soget_call;

/* Fills q from a normalized query table (soget_check_query's) at qi; the
 * strings stay owned by that table. offset >= 0 replaces the query's own. */
void soget_read_query(lua_State *L, int qi, soget_query *q, long offset);

void soget_call_init(soget_call *k);
void soget_call_free(soget_call *k);
/* 0, or -1 out of memory (e->nomem). */
int soget_call_begin(soget_client *c, soget_call *k, const soget_query *q, soget_err *e);
int soget_call_next(soget_client *c, soget_call *k, soget_err *e);
/* The request could not be sent or got no answer: e holds the transport's
 * error (kind network/timeout/tls, retryable; or e->nomem). */
int soget_call_failed(soget_client *c, soget_call *k, soget_err *e);
int soget_call_response(lua_State *L, soget_client *c, soget_call *k, long status,
                        const char *body, size_t len, double retry_after,
                        const char *redirect, soget_err *e);

SOGET_HIDDEN_END

#endif
