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
/* The longest value of a search's text parameter, in bytes. The API
 * documents no limit; but they go in the URL, which a server need not take
 * past 8,000 bytes (RFC 9110, 4.1): 6 KB percent-encoded for the four free
 * ones leaves room for the rest. */
#define SOGET_SEARCH_VALUE_MAX 512
/* The longest header value soget sends (a token, an API key): longer ones
 * are refused as they come, not by a failure to build the request. */
#define SOGET_HEADER_VALUE_MAX 65536
/* The longest base URL, token URL or proxy URL a client takes, in bytes:
 * the requests' URLs are made from them, and a longer one failed only when
 * sent, each way its own (libcurl's "Out of memory" past 1 MB). */
#define SOGET_URL_MAX 2048

/* An endpoint, described: the API it belongs to (which base URL and API
 * key a call uses), its path, and its text parameters in the order they
 * are sent; desc, limit and offset follow them. A new endpoint of the same
 * model is one more description (and its Lua method), nothing else. */
enum { SOGET_API_TRACING = 0, SOGET_API_IN_MASS, SOGET_API_COUNT };
#define SOGET_QUERY_TEXTS 5   /* the most text parameters of an endpoint */

typedef struct soget_endpoint {
  const char *name;                          /* its Lua method, for messages */
  int api;                                   /* SOGET_API_* */
  const char *path;                          /* appended to the API's base URL */
  const char *texts[SOGET_QUERY_TEXTS + 1];  /* NULL-terminated */
} soget_endpoint;

/* GET {base_url}/handling-units: reference, spi */
extern const soget_endpoint soget_lookup_endpoint;
enum { SOGET_LOOKUP_REFERENCE, SOGET_LOOKUP_SPI };
/* GET {search_base_url}/handling-units/search (API Tracing Code in mass) */
extern const soget_endpoint soget_search_endpoint;
enum { SOGET_SEARCH_DOCUMENT_REFERENCE, SOGET_SEARCH_VOYAGE_AGENT_REFERENCE,
       SOGET_SEARCH_VOYAGE_AGENT_ID, SOGET_SEARCH_CUSTOMS_FLAG, SOGET_SEARCH_FREIGHT_AGENT };

typedef struct soget_query {
  const soget_endpoint *ep;
  const char *text[SOGET_QUERY_TEXTS];  /* by ep->texts' index; NULL: not sent */
  size_t text_len[SOGET_QUERY_TEXTS];
  int desc;       /* -1: not sent, 0/1 */
  int limit;      /* 0: not sent (server default 5) */
  long offset;    /* -1: not sent (server default 0) */
} soget_query;

/* An empty query of the endpoint ep: nothing sent but its path. */
void soget_query_init(soget_query *q, const soget_endpoint *ep);
/* Sets text parameter i (an index of ep->texts) to s (len bytes, kept by
 * reference). */
void soget_query_set(soget_query *q, int i, const char *s, size_t len);

/* Percent-encodes s (RFC 3986 unreserved characters stay as they are). */
int soget_url_encode(soget_buf *b, const char *s, size_t len);

/* {base}{path}?{texts}=..&desc=..&limit=..&offset=.. for q's endpoint
 * (for lookups: {base}/handling-units?reference=..&spi=..&...). A trailing
 * '/' on base is tolerated. Returns 0, or -1 on no memory. */
int soget_request_url(soget_buf *b, const char *base, const soget_query *q);

/* The URL of the last query built, with what it was built from: a query
 * of the same endpoint with the same values gets the same bytes back
 * without encoding them again, and another query of the endpoint keeps
 * "{base}{path}" and rebuilds only the query string. A client's calls
 * share one (in its engine): a sequential lookup repeats its query. */
typedef struct soget_url_cache {
  const soget_endpoint *ep;   /* NULL: nothing built yet */
  const char *base;           /* the base built on (the engine's, by pointer) */
  size_t prefix;              /* length of "{base}{path}" in url */
  soget_buf url;
  soget_buf texts;            /* the query's text values, one after another */
  size_t text_len[SOGET_QUERY_TEXTS];   /* (size_t)-1: not sent */
  int desc, limit;
  long offset;
} soget_url_cache;

void soget_url_cache_init(soget_url_cache *c);
void soget_url_cache_free(soget_url_cache *c);
/* The URL of q on base, from the cache when it holds q's, else built into
 * it. Valid until the cache's next use. NULL on no memory (the cache is
 * then empty). */
const char *soget_url_cached(soget_url_cache *c, const char *base, const soget_query *q,
                             size_t *len);

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
