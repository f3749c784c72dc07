/* The one place soget waits on the network: an HTTP exchange over a
 * reused libcurl easy handle. Knows nothing about Lua. */
#ifndef SOGET_TRANSPORT_H
#define SOGET_TRANSPORT_H

#include "buf.h"
#include "error.h"
#include "auth.h"
#include "version.h"

typedef struct soget_http_request {
  int post;                    /* 0: GET, 1: POST (form body) */
  const char *url;
  const char *const *headers;  /* NULL-terminated "Name: value" lines */
  const char *body;            /* POST only */
  size_t body_len;
  long timeout_ms;             /* whole exchange */
  long connect_timeout_ms;
} soget_http_request;

typedef struct soget_http_response {
  long status;
  soget_buf *body;             /* the transport's buffer, valid until next call */
  double retry_after;          /* seconds from now; < 0 when absent */
  char redirect[2048];         /* absolute Location of a 3xx, "" otherwise */
} soget_http_response;

typedef struct soget_transport soget_transport;

typedef struct soget_transport_opts {
  int verify_tls;
  const char *ca_file;         /* NULL: the system store */
  const char *user_agent;      /* NULL: "soget/X.Y.Z libcurl/X.Y.Z" */
  size_t max_body;             /* response size cap, bytes */
} soget_transport_opts;

/* NULL on no memory. */
soget_transport *soget_transport_new(const soget_transport_opts *o);
void soget_transport_free(soget_transport *t);
int soget_transport_set_ca(soget_transport *t, int verify, const char *ca_file);

/* 0: an HTTP response arrived (any status). -1: no usable response; e says
 * why, with kind "network", "timeout" or "tls". */
int soget_transport_perform(soget_transport *t, const soget_http_request *rq,
                            soget_http_response *rs, soget_err *e);

/* Same scheme, host and port? 1 yes, 0 no (or unparsable). */
int soget_same_origin(const char *a, const char *b);

/* Retry-After: delay-seconds or an HTTP-date; seconds from now, -1 if bad. */
double soget_parse_retry_after(const char *v, size_t n);

/* "soget/X.Y.Z libcurl/X.Y.Z" */
const char *soget_default_user_agent(void);

/* Counters for tests and stats: connections libcurl opened. */
long soget_transport_connections(const soget_transport *t);

#endif
