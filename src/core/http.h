/* HTTP facts the call logic needs and no transport owns. Knows nothing
 * about Lua; uses libcurl's URL parser only (no I/O). */
#ifndef SOGET_HTTP_H
#define SOGET_HTTP_H

#include <stddef.h>
#include "buf.h"
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* An HTTP request for a driver to send. */
typedef struct soget_http_request {
  int post;                    /* 0: GET, 1: POST (form body) */
  const char *url;
  const char *const *headers;  /* NULL-terminated "Name: value" lines */
  const char *body;            /* POST only */
  size_t body_len;
  long timeout_ms;             /* whole exchange */
  long connect_timeout_ms;
} soget_http_request;

/* The longest Location a call follows, in bytes, in every driver: a
 * longer one is no usable Location (the URL it leads to would be longer
 * than a base URL may be). */
#define SOGET_LOCATION_MAX 2047

/* Its answer, as a back end gives it to the call steps. */
typedef struct soget_http_response {
  long status;
  soget_buf *body;             /* the back end's buffer, valid until its next use */
  double retry_after;          /* seconds from now; < 0 when absent */
  int token_invalid;           /* WWW-Authenticate said the bearer token is
                                * invalid (soget_bearer_invalid_token) */
  char redirect[SOGET_LOCATION_MAX + 1];   /* absolute Location of a 3xx, "" otherwise */
} soget_http_response;

/* Same scheme, host and port? 1 yes, 0 no (or unparsable). */
int soget_same_origin(const char *a, const char *b);

/* Retry-After: delay-seconds or an HTTP-date; seconds from now, at most
 * SOGET_RETRY_AFTER_CAP (a day: "a day or more"), -1 if bad. */
#define SOGET_RETRY_AFTER_CAP 86400.0
double soget_parse_retry_after(const char *v, size_t n);

/* 1 when v, a WWW-Authenticate value (RFC 9110 11.6.1: challenges, each
 * a scheme with a token68 or auth-params), has a Bearer challenge whose
 * error is invalid_token (RFC 6750 3.1: the token is expired, revoked or
 * not one of the server's), as an API answers a 401 the token causes. 0
 * otherwise, and for text that is no challenge list. Reads v[0..n) only;
 * several header lines may be joined with ", ". */
int soget_bearer_invalid_token(const char *v, size_t n);

/* 1 when s parses as an absolute URL with a host, else 0. */
int soget_url_valid(const char *s);
/* 1 when s, a valid URL, gives a user or a password (user:password@). */
int soget_url_has_userinfo(const char *s);
/* 1 when s, a valid URL, is only a scheme, [a user and password,] a host
 * and a port: no path but "/", no query, no fragment (a proxy's). */
int soget_url_is_origin(const char *s);

/* ref (absolute or relative, as in a Location header) resolved against the
 * absolute URL base, into out. 0, or -1 when it cannot be resolved. */
int soget_url_resolve(soget_buf *out, const char *base, const char *ref);

SOGET_HIDDEN_END

#endif
