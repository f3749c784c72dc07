/* Request building: the URL, query string and header values of an API call.
 * Knows nothing about Lua or libcurl, so the blocking client, the bulk
 * driver and the OpenResty driver all share it. */
#ifndef SOGET_REQUEST_H
#define SOGET_REQUEST_H

#include <stddef.h>
#include "buf.h"
#include "visibility.h"

SOGET_HIDDEN_BEGIN

#define SOGET_REFERENCE_MAX 17   /* HandlingUnit.reference maxLength */
#define SOGET_SPI_MAX 13         /* HandlingUnit.pswId maxLength */
#define SOGET_LIMIT_MAX 10
#define SOGET_LIMIT_DEFAULT 5
#define SOGET_OFFSET_MAX 2147483647L  /* int32 */
/* The longest header value soget sends (a token, an API key): longer ones
 * are refused as they come, not by a failure to build the request. */
#define SOGET_HEADER_VALUE_MAX 65536

typedef struct soget_query {
  const char *reference; size_t reference_len;  /* NULL: not sent */
  const char *spi; size_t spi_len;
  int desc;       /* -1: not sent, 0/1 */
  int limit;      /* 0: not sent (server default 5) */
  long offset;    /* -1: not sent (server default 0) */
} soget_query;

void soget_query_init(soget_query *q);

/* Percent-encodes s (RFC 3986 unreserved characters stay as they are). */
int soget_url_encode(soget_buf *b, const char *s, size_t len);

/* {base}/handling-units?reference=..&spi=..&desc=..&limit=..&offset=..
 * A trailing '/' on base is tolerated. Returns 0, or -1 on no memory. */
int soget_request_url(soget_buf *b, const char *base, const soget_query *q);

/* The token request's form body (application/x-www-form-urlencoded). */
int soget_request_token_form(soget_buf *b, const char *client_id,
                             const char *client_secret);

/* NULL when s (len bytes) may be sent in an HTTP header value, else a
 * reason ("contains a line break", "contains a NUL byte", ...). */
const char *soget_header_value_problem(const char *s, size_t len);

/* NULL when s may be sent as a query value, else a reason: control
 * characters are refused (they are never part of a reference). */
const char *soget_query_value_problem(const char *s, size_t len);

SOGET_HIDDEN_END

#endif
