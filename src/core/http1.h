/* HTTP/1.1 on the wire, without I/O: the bytes of a request the call steps
 * prepared (soget_http_request), and a response parser that takes the
 * bytes as they arrive and says "need more", "complete" or "bad". For
 * drivers that move bytes themselves (soget.ngx over nginx's cosockets);
 * the libcurl back ends do not use it.
 *
 * The parsing is the Node.js parser's (libhttp-parser): status line,
 * headers, Content-Length, chunked bodies, bodies read to the end of the
 * connection, keep-alive rules. This layer adds what soget needs on top:
 * the size cap on the body (decoded), gzip and deflate bodies through
 * zlib, the headers soget uses (Retry-After, Location, Content-Encoding),
 * interim 1xx answers skipped, and errors with the kinds of the blocking
 * client. Everything a server sends is hostile: every buffer is bounded,
 * any byte sequence ends in one of the three states. */
#ifndef SOGET_HTTP1_H
#define SOGET_HTTP1_H

#include <http_parser.h>
#include <stddef.h>

#include "buf.h"
#include "coding.h"
#include "error.h"
#include "http.h"
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* Where a request goes, from its URL (libcurl's URL parser). */
typedef struct soget_http1_target {
  int tls;              /* https */
  char scheme[8];       /* "http" or "https" */
  char host[256];       /* as in the URL: "[::1]" keeps its brackets, "api.example.com."
                         * its trailing dot (the Host header's, as libcurl sends it) */
  char name[256];       /* the host name for SNI and the certificate: no brackets,
                         * nor one trailing dot (libcurl's SNI and check drop it) */
  long port;            /* the URL's, or the scheme's default */
} soget_http1_target;

/* What a driver keeps of the last URL it sent a request to, so that the
 * next request to the same place is not parsed again: its text up to the
 * '?', and what libcurl's URL parser read from it. A URL is looked up
 * only when it has a query of printable ASCII and no '#' (then the text
 * before the '?' decides everything but the query, which goes out as
 * written, as libcurl gives it back). Zeroed to start; freed by
 * soget_http1_cache_free. */
typedef struct soget_http1_cache {
  char *prefix;         /* malloc'd, NULL when empty */
  size_t len;
  char *path;           /* malloc'd: the URL's path as libcurl gives it */
  soget_http1_target t;
} soget_http1_cache;

void soget_http1_cache_free(soget_http1_cache *c);

/* The bytes of rq as HTTP/1.1: the request line (path and query of its
 * URL), Host, rq's header lines, User-Agent (when user_agent is not NULL
 * or empty), Accept-Encoding (gzip when `gzip`, else identity),
 * Content-Length and the body of a POST. t (may be NULL) gets where it
 * goes; cache (may be NULL) spares parsing a URL like the last one. 0; or
 * -1 with e filled: a URL that is not absolute http(s) with a host, a
 * user_agent that cannot be sent (kind "network", not retryable), or out
 * of memory (e->nomem). out is reset first; it holds the request's
 * credentials: wipe it after use. */
int soget_http1_request(soget_buf *out, const soget_http_request *rq, const char *user_agent,
                        int gzip, soget_http1_target *t, soget_http1_cache *cache,
                        soget_err *e);

enum { SOGET_HTTP1_MORE = 0, SOGET_HTTP1_DONE, SOGET_HTTP1_BAD };

/* The longest Location and Retry-After values kept; a longer Location is
 * no usable Location (the call steps say so), a longer Retry-After none. */
#define SOGET_HTTP1_LOCATION_MAX 8192
#define SOGET_HTTP1_RETRY_AFTER_MAX 64
/* The longest WWW-Authenticate kept, its lines joined with ", ": a longer
 * one is none (its challenges are not read). */
#define SOGET_HTTP1_WWW_AUTHENTICATE_MAX 8192
/* At most this many interim (1xx) answers before the response. */
#define SOGET_HTTP1_INTERIM_MAX 8

typedef struct soget_http1 {
  http_parser p;
  int state;            /* SOGET_HTTP1_* */
  long status;          /* after DONE (or BAD past the status line) */
  int keep_alive;       /* after DONE: the connection may carry another request */
  size_t max_body;      /* largest decoded body accepted */
  size_t received;      /* bytes fed and read (not those refused past the cap) */
  soget_buf body;       /* the body, decoded */
  soget_buf location;   /* Location, as sent ("" when absent or too long) */
  soget_buf retry_after;
  soget_buf encoding;   /* Content-Encoding, lowercased */
  soget_buf www_authenticate;   /* every WWW-Authenticate, joined with ", " ("" when
                                 * absent or too long) */
  soget_err err;        /* after BAD */
  /* reading a header */
  char field[32];       /* its name, lowercased; longer names are none of ours */
  size_t field_len;
  int in_value;         /* the last callback was a value */
  int which;            /* the header being read (see http1.c) */
  int headers_done;     /* later header callbacks are trailers: ignored */
  int interim;          /* 1xx answers skipped */
  int status_at;        /* bytes of a status line looked at, -1: past them */
  int too_long;         /* the header being read outgrew its buffer */
  int past_max;         /* it passed it with white space only (trimmed after) */
  int seen;             /* the headers of ours met (the first one counts) */
  int location_bad;     /* a Location too long to be of use */
  int encoding_bad;     /* a Content-Encoding too long to be one soget decodes */
  int www_bad;          /* WWW-Authenticate too long: none */
  int proxy_connection; /* a Proxy-Connection was met (libhttp-parser reads it as
                         * Connection; libcurl does not) */
  soget_coding coding;  /* the body's Content-Encoding, undone */
} soget_http1;

/* A parser for one response of at most max_body bytes (decoded). */
void soget_http1_init(soget_http1 *h, size_t max_body);
/* Frees what it holds (wiping nothing: responses carry no credentials of
 * soget's). Init again to parse another response. */
void soget_http1_free(soget_http1 *h);
/* Takes the next bytes of the response: SOGET_HTTP1_MORE (send more),
 * SOGET_HTTP1_DONE or SOGET_HTTP1_BAD (h->err says why). Bytes past the
 * end of the response make keep_alive 0 (they belong to no request).
 * After DONE or BAD, further bytes change nothing but keep_alive. */
int soget_http1_feed(soget_http1 *h, const char *data, size_t len);
/* The connection closed: DONE when that ends a body read to the end of
 * the connection (or the response was already complete), BAD otherwise
 * (cut short: kind "network", retryable, as libcurl's partial transfers). */
int soget_http1_eof(soget_http1 *h);
/* Retry-After in seconds from now (soget_parse_retry_after), -1 when
 * absent or unreadable. */
double soget_http1_retry_after(const soget_http1 *h);

SOGET_HIDDEN_END

#endif
