/* HTTP/1.1 request bytes and a response parser on libhttp-parser, without
 * I/O (http1.h). */
#include "http1.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "request.h"

/* ---- the request ----------------------------------------------------------- */

static int url_part(CURLU *u, CURLUPart part, char **out, unsigned flags) {
  *out = NULL;
  return curl_url_get(u, part, out, flags) == CURLUE_OK && *out;
}

void soget_http1_cache_free(soget_http1_cache *c) {
  free(c->prefix);
  free(c->path);
  memset(c, 0, sizeof *c);
}

/* 1 when q, a URL's query after its '?', goes out as written without
 * libcurl's look: not empty, printable ASCII, no '#'. */
static int plain_query(const char *q) {
  const unsigned char *c = (const unsigned char *)q;
  if (!*c) return 0;
  for (; *c; c++)
    if (*c <= 0x20 || *c >= 0x7f || *c == '#') return 0;
  return 1;
}

/* ":port", the digits made here (a request's hot path): port is 1-65535. */
static int add_port(soget_buf *out, long port) {
  char d[8];
  int i = (int)sizeof d;
  do {
    d[--i] = (char)('0' + port % 10);
    port /= 10;
  } while (port > 0 && i > 1);
  d[--i] = ':';
  return soget_buf_add(out, d + i, sizeof d - (size_t)i);
}

static char *dup_bytes(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

/* Where url goes, read by libcurl's URL parser: *tt, and *path and
 * *query (libcurl's strings, curl_free them; *query NULL when none). 0; or
 * -1 with e filled. */
static int parse_target(const char *url, soget_http1_target *tt, char **path, char **query,
                        soget_err *e) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL;
  long portn;
  int tls, rc = -1;
  size_t n;

  *path = *query = NULL;
  memset(tt, 0, sizeof *tt);
  if (!u) {
    soget_err_nomem(e, "building the request");
    return -1;
  }
  if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      !url_part(u, CURLUPART_SCHEME, &scheme, 0) || !url_part(u, CURLUPART_HOST, &host, 0) ||
      !url_part(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ||
      !url_part(u, CURLUPART_PATH, path, 0)) {
    soget_err_set(e, "network", 0, 0, "cannot send a request to this URL: not an absolute "
                  "http(s) URL with a host");
    goto done;
  }
  (void)url_part(u, CURLUPART_QUERY, query, 0);   /* none: NULL */
  tls = strcmp(scheme, "https") == 0;
  portn = strtol(port, NULL, 10);
  n = strlen(host);
  if ((!tls && strcmp(scheme, "http") != 0) || !host[0] || n >= sizeof tt->host || portn <= 0 ||
      portn > 65535) {
    soget_err_set(e, "network", 0, 0, "cannot send a request to this URL: not an absolute "
                  "http(s) URL with a host");
    goto done;
  }
  {   /* host names are case-insensitive: sent and checked in lower case */
    char *c;
    for (c = host; *c; c++)
      if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  }
  tt->tls = tls;
  memcpy(tt->scheme, tls ? "https" : "http", tls ? 6 : 5);
  memcpy(tt->host, host, n + 1);
  if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
    memcpy(tt->name, host + 1, n - 2);
    tt->name[n - 2] = '\0';
  } else {
    /* A fully qualified name ("api.example.com.") keeps its trailing dot
     * in the Host header and loses it in SNI and in the certificate check,
     * as with libcurl (a certificate names no trailing dot); "." alone
     * stays as it is. */
    size_t m = n > 1 && host[n - 1] == '.' ? n - 1 : n;
    memcpy(tt->name, host, m);
    tt->name[m] = '\0';
  }
  tt->port = portn;
  rc = 0;
done:
  if (rc != 0) {
    curl_free(*path);
    curl_free(*query);
    *path = *query = NULL;
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}

int soget_http1_request(soget_buf *out, const soget_http_request *rq, const char *user_agent,
                        int gzip, soget_http1_target *t, soget_http1_cache *cache,
                        soget_err *e) {
  soget_http1_target tt;
  char *cpath = NULL, *cquery = NULL;   /* libcurl's, when parsed here */
  const char *path, *query;
  const char *q = rq->url ? strchr(rq->url, '?') : NULL;
  size_t plen = q ? (size_t)(q - rq->url) : 0;
  int rc = -1, nomem = 0;
  /* A URL the cache can answer for: its query as written, no fragment. */
  int cacheable = cache && q && plain_query(q + 1) && !memchr(rq->url, '#', plen);
  const char *const *h;

  soget_buf_reset(out);
  if (cacheable && cache->prefix && cache->len == plen &&
      memcmp(cache->prefix, rq->url, plen) == 0) {
    tt = cache->t;
    path = cache->path;
    query = q + 1;
  } else {
    if (parse_target(rq->url, &tt, &cpath, &cquery, e) != 0) goto done;
    path = cpath;
    query = cquery;
    /* Kept when libcurl gave the query back as written (without memory,
     * not kept: the request still goes). */
    if (cacheable && cquery && strcmp(cquery, q + 1) == 0) {
      char *np = dup_bytes(rq->url, plen), *pp = dup_bytes(cpath, strlen(cpath));
      if (np && pp) {
        soget_http1_cache_free(cache);
        cache->prefix = np;
        cache->len = plen;
        cache->path = pp;
        cache->t = tt;
      } else {
        free(np);
        free(pp);
      }
    }
  }
  if (user_agent && user_agent[0] && soget_header_value_problem(user_agent, strlen(user_agent))) {
    soget_err_set(e, "network", 0, 0, "the User-Agent cannot be sent in a header");
    goto done;
  }

  nomem = soget_buf_adds(out, rq->post ? "POST " : "GET ") != 0 ||
          soget_buf_adds(out, path[0] ? path : "/") != 0 ||
          (query && (soget_buf_addc(out, '?') != 0 || soget_buf_adds(out, query) != 0)) ||
          soget_buf_adds(out, " HTTP/1.1\r\nHost: ") != 0 || soget_buf_adds(out, tt.host) != 0 ||
          (tt.port != (tt.tls ? 443 : 80) && add_port(out, tt.port) != 0) ||
          soget_buf_adds(out, "\r\n") != 0;
  for (h = rq->headers; !nomem && h && *h; h++)
    nomem = soget_buf_adds(out, *h) != 0 || soget_buf_adds(out, "\r\n") != 0;
  if (!nomem && user_agent && user_agent[0])
    nomem = soget_buf_adds(out, "User-Agent: ") != 0 || soget_buf_adds(out, user_agent) != 0 ||
            soget_buf_adds(out, "\r\n") != 0;
  if (!nomem)
    nomem = soget_buf_adds(out, gzip ? "Accept-Encoding: gzip\r\n"
                                     : "Accept-Encoding: identity\r\n") != 0;
  if (!nomem && rq->post)
    nomem = soget_buf_addf(out, "Content-Length: %lu\r\n", (unsigned long)rq->body_len) != 0;
  if (!nomem) nomem = soget_buf_adds(out, "\r\n") != 0;
  if (!nomem && rq->post && rq->body_len) nomem = soget_buf_add(out, rq->body, rq->body_len) != 0;
  if (nomem) {
    soget_err_nomem(e, "building the request");
    goto done;
  }
  if (t) *t = tt;
  rc = 0;
done:
  if (rc != 0 && out->data) {
    soget_wipe(out->data, out->cap);
    soget_buf_reset(out);
  }
  curl_free(cpath);
  curl_free(cquery);
  return rc;
}

/* ---- the response ------------------------------------------------------------ */

enum { H_OTHER = 0, H_LOCATION, H_RETRY_AFTER, H_CONTENT_ENCODING, H_WWW_AUTHENTICATE };

static soget_http1 *of(http_parser *p) {
  return (soget_http1 *)p->data;
}

static void reset_headers(soget_http1 *h) {
  soget_buf_reset(&h->location);
  soget_buf_reset(&h->retry_after);
  soget_buf_reset(&h->encoding);
  soget_buf_reset(&h->www_authenticate);
  h->field_len = 0;
  h->in_value = 0;
  h->which = H_OTHER;
  h->headers_done = 0;
  h->too_long = 0;
  h->past_max = 0;
  h->seen = 0;
  h->location_bad = 0;
  h->encoding_bad = 0;
  h->www_bad = 0;
  h->proxy_connection = 0;
}

/* Fails the parse from a callback: a non-zero return stops the parser. */
static int fail(soget_http1 *h, const char *kind, int retryable, const char *msg) {
  if (h->state != SOGET_HTTP1_BAD) {
    h->state = SOGET_HTTP1_BAD;
    soget_err_set(&h->err, kind, (long)h->p.status_code, retryable, "%s", msg);
  }
  return -1;
}

static int fail_nomem(soget_http1 *h) {
  h->state = SOGET_HTTP1_BAD;
  soget_err_nomem(&h->err, "reading the response");
  return -1;
}

static int too_large(soget_http1 *h) {
  if (h->state != SOGET_HTTP1_BAD) {
    h->state = SOGET_HTTP1_BAD;
    soget_err_set(&h->err, "http", (long)h->p.status_code, 0,
                  "response body is larger than max_response_size (%lu bytes)",
                  (unsigned long)h->max_body);
  }
  return -1;
}

/* The header whose name is complete in h->field. */
static int header_of(const soget_http1 *h) {
  if (h->field_len == 8 && memcmp(h->field, "location", 8) == 0) return H_LOCATION;
  if (h->field_len == 11 && memcmp(h->field, "retry-after", 11) == 0) return H_RETRY_AFTER;
  if (h->field_len == 16 && memcmp(h->field, "content-encoding", 16) == 0)
    return H_CONTENT_ENCODING;
  if (h->field_len == 16 && memcmp(h->field, "www-authenticate", 16) == 0)
    return H_WWW_AUTHENTICATE;
  return H_OTHER;
}

static soget_buf *target_of(soget_http1 *h, int which, size_t *max) {
  switch (which) {
    case H_LOCATION: *max = SOGET_HTTP1_LOCATION_MAX; return &h->location;
    case H_RETRY_AFTER: *max = SOGET_HTTP1_RETRY_AFTER_MAX; return &h->retry_after;
    case H_CONTENT_ENCODING: *max = 64; return &h->encoding;
    case H_WWW_AUTHENTICATE: *max = SOGET_HTTP1_WWW_AUTHENTICATE_MAX; return &h->www_authenticate;
    default: *max = 0; return NULL;
  }
}

static int on_message_begin(http_parser *p) {
  soget_http1 *h = of(p);
  reset_headers(h);
  return 0;
}

/* The value of the header being read is complete. A Location that is
 * empty or blank counts as none, so that the next one is taken, as libcurl
 * takes the first Location with a value. */
static void value_end(soget_http1 *h) {
  if (h->which != H_LOCATION || h->location_bad) return;
  soget_buf_rtrim(&h->location);
  if (h->location.len == 0) h->seen &= ~(1 << H_LOCATION);
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  soget_http1 *h = of(p);
  size_t i;
  if (h->headers_done) return 0;   /* a trailer */
  if (h->in_value) {               /* a new header begins */
    value_end(h);
    h->in_value = 0;
    h->field_len = 0;
    h->which = H_OTHER;
    h->too_long = 0;
    h->past_max = 0;
  }
  for (i = 0; i < len; i++) {
    char c = at[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (h->field_len < sizeof h->field) h->field[h->field_len] = c;
    h->field_len++;   /* a name longer than the buffer matches nothing */
    if (h->field_len > sizeof h->field) h->field_len = sizeof h->field + 1;
  }
  return 0;
}

/* A control byte (not a tab) or DEL in the head's text: libhttp-parser,
 * built lenient, lets one through as a value's first byte and a NUL in
 * the status line's reason; libcurl refuses them all, and so does soget
 * in every driver. */
static int has_control(const char *at, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)at[i];
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) return 1;
  }
  return 0;
}

static int on_status(http_parser *p, const char *at, size_t len) {
  if (memchr(at, '\0', len))   /* (other control bytes there: taken by every driver) */
    return fail(of(p), "network", 0, "not a valid HTTP/1.1 response (invalid character in header)");
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  soget_http1 *h = of(p);
  soget_buf *b;
  size_t max;
  if (has_control(at, len))
    return fail(h, "network", 0, "not a valid HTTP/1.1 response (invalid character in header)");
  if (h->headers_done) return 0;
  if (!h->in_value) {   /* its first piece: whose value? */
    h->in_value = 1;
    h->which = header_of(h);
    if (h->field_len == 16 && memcmp(h->field, "proxy-connection", 16) == 0)
      h->proxy_connection = 1;
    h->too_long = 0;
    h->past_max = 0;
    /* the first of a repeated header counts; the others are ignored, but
     * a second Content-Encoding, which says the body was coded again
     * (RFC 9110, 8.4), makes it one no driver decodes */
    if (h->which == H_WWW_AUTHENTICATE) {
      /* every one counts (each line may hold challenges), joined as a
       * list; past the limit, none */
      if (h->www_bad) {
        h->which = H_OTHER;
      } else if (h->www_authenticate.len > 0) {
        soget_buf_rtrim(&h->www_authenticate);
        if (h->www_authenticate.len + 2 > SOGET_HTTP1_WWW_AUTHENTICATE_MAX) {
          h->www_bad = 1;
          soget_buf_reset(&h->www_authenticate);
          h->which = H_OTHER;
        } else if (soget_buf_add(&h->www_authenticate, ", ", 2) != 0) {
          return fail_nomem(h);
        }
      }
    } else if (h->which != H_OTHER && (h->seen & (1 << h->which))) {
      if (h->which == H_CONTENT_ENCODING) h->encoding_bad = 1;
      h->which = H_OTHER;
    }
    h->seen |= 1 << h->which;
  }
  b = target_of(h, h->which, &max);
  if (!b || h->too_long) return 0;
  if (b->len + len > max || h->past_max) {
    /* past the limit: white space the value ends with (OWS, trimmed
     * after, as libcurl trims it), else too long to be of use: dropped */
    size_t room = h->past_max ? 0 : max - b->len, i;
    for (i = room; i < len && (at[i] == ' ' || at[i] == '\t'); i++) {
    }
    if (i == len) {
      h->past_max = 1;
      if (room > 0 && soget_buf_add(b, at, room) != 0) return fail_nomem(h);
      return 0;
    }
    h->too_long = 1;
    soget_buf_reset(b);
    if (h->which == H_LOCATION) h->location_bad = 1;
    if (h->which == H_CONTENT_ENCODING) h->encoding_bad = 1;
    if (h->which == H_WWW_AUTHENTICATE) h->www_bad = 1;
    return 0;
  }
  if (soget_buf_add(b, at, len) != 0) return fail_nomem(h);
  return 0;
}

static int on_headers_complete(http_parser *p) {
  soget_http1 *h = of(p);
  if (h->in_value) value_end(h);
  h->headers_done = 1;
  soget_buf_rtrim(&h->location);
  soget_buf_rtrim(&h->www_authenticate);
  soget_buf_rtrim(&h->retry_after);   /* (the encoding: soget_coding_start trims it and reads any case) */
  /* (HTTP/0.9, 1.2 or 2.0, and a status under 100, were refused with the
   * status line: status_begins) */
  if (p->status_code < 200) {
    if (p->status_code == 101) return fail(h, "network", 0, "the server switched protocols");
    /* interim: no body, whatever its headers say (RFC 9112, 6.3), as for
     * 204 below; the response follows */
    return 1;
  }
  /* 204 and 304 have no body, whatever the headers say (RFC 9112, 6.3):
   * 1 tells libhttp-parser to read none */
  if (p->status_code == 204 || p->status_code == 304) return 1;
  /* A Content-Length past the cap (as sent: a compressed body's) is a size
   * limit before any of the body is read, as libcurl's CURLOPT_MAXFILESIZE
   * makes it in the other drivers, whether the body then comes or not. */
  if (h->max_body && (p->flags & F_CONTENTLENGTH) && !(p->flags & F_CHUNKED) &&
      p->content_length > (uint64_t)soget_coding_raw_cap(h->max_body))
    return too_large(h);
  if (!h->encoding_bad) {
    int r = soget_coding_start(&h->coding, h->encoding.data, h->encoding.len);
    if (r == SOGET_CODING_OK) return 0;
    if (r == SOGET_CODING_NOMEM) return fail_nomem(h);
  }
  return fail(h, "network", 0, soget_coding_message(SOGET_CODING_UNKNOWN));
}

/* The body's bytes, decoded onto the body. */
static int on_body(http_parser *p, const char *at, size_t len) {
  soget_http1 *h = of(p);
  int r = soget_coding_feed(&h->coding, at, len, &h->body, h->max_body);
  if (r == SOGET_CODING_OK) return 0;
  if (r == SOGET_CODING_NOMEM) return fail_nomem(h);
  if (r == SOGET_CODING_TOO_LARGE) return too_large(h);
  return fail(h, "network", 0, soget_coding_message(r));
}

static int on_message_complete(http_parser *p) {
  soget_http1 *h = of(p);
  if (p->status_code >= 100 && p->status_code < 200) {   /* interim: skip it */
    if (++h->interim > SOGET_HTTP1_INTERIM_MAX)
      return fail(h, "network", 0, "too many interim (1xx) responses");
    soget_coding_end(&h->coding);
    h->status_at = 0;          /* the next status line is looked at */
    http_parser_pause(p, 1);   /* before the parser reads it (soget_http1_feed) */
    return 0;
  }
  if (soget_coding_finish(&h->coding) != SOGET_CODING_OK)
    return fail(h, "network", 0, soget_coding_message(SOGET_CODING_CUT));
  soget_coding_end(&h->coding);
  h->status = (long)p->status_code;
  /* libhttp-parser takes a Proxy-Connection for a Connection: with one,
   * an HTTP/1.0 answer is not trusted to keep the connection open (libcurl
   * assumes HTTP/1.0 closes unless its Connection says keep-alive);
   * closing is always safe */
  h->keep_alive = http_should_keep_alive(p) &&
                  !(h->proxy_connection && p->http_major == 1 && p->http_minor == 0);
  h->state = SOGET_HTTP1_DONE;
  http_parser_pause(p, 1);   /* what follows belongs to no request */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void soget_http1_init(soget_http1 *h, size_t max_body) {
  memset(h, 0, sizeof *h);
  http_parser_init(&h->p, HTTP_RESPONSE);
  h->p.data = h;
  h->state = SOGET_HTTP1_MORE;
  h->max_body = max_body;
  soget_buf_init(&h->body, max_body);   /* (grows to the cap and its NUL at most) */
  soget_buf_init(&h->location, 0);
  soget_buf_init(&h->retry_after, 0);
  soget_buf_init(&h->encoding, 0);
  soget_buf_init(&h->www_authenticate, 0);
  soget_err_clear(&h->err);
}

void soget_http1_free(soget_http1 *h) {
  soget_coding_end(&h->coding);
  /* a token answer's body, say, or a secret a server echoed */
  soget_buf_free_wiped(&h->body);
  soget_buf_free_wiped(&h->location);
  soget_buf_free(&h->retry_after);
  soget_buf_free(&h->encoding);
  soget_buf_free_wiped(&h->www_authenticate);
}

/* After http_parser_execute stopped on an error of its own. */
static void parse_error(soget_http1 *h) {
  enum http_errno no = HTTP_PARSER_ERRNO(&h->p);
  if (h->state == SOGET_HTTP1_BAD) return;   /* a callback said why */
  if (no == HPE_HEADER_OVERFLOW) {
    h->state = SOGET_HTTP1_BAD;
    soget_err_set(&h->err, "http", (long)h->p.status_code, 0,
                  "response headers are larger than the size limit (%d KB)",
                  HTTP_MAX_HEADER_SIZE / 1024);
    return;
  }
  h->state = SOGET_HTTP1_BAD;
  if (h->headers_done && (h->p.flags & F_CHUNKED) &&
      (no == HPE_INVALID_CHUNK_SIZE || no == HPE_INVALID_CONTENT_LENGTH)) {
    /* (http_parser says "content-length" for a chunk size too large): a
     * transfer broken mid-way, retried as libcurl's drivers retry it */
    soget_err_set(&h->err, "network", 0, 1,
                  "not a valid HTTP/1.1 response (a chunk size that is not a valid number)");
    return;
  }
  soget_err_set(&h->err, "network", 0, 0, "not a valid HTTP/1.1 response (%s)",
                http_errno_description(no));
}

/* All the bytes of one response: its body as sent, chunk framing (at
 * worst a few bytes per body byte, and extensions), headers, interim
 * answers. Beyond, framing that carries nothing: a size limit too. */
static size_t wire_cap(size_t max) {
  size_t raw = soget_coding_raw_cap(max);
  return raw > ((size_t)-1 - (1u << 20)) / 8 ? (size_t)-1 : raw * 8 + (1u << 20);
}

/* Whether byte c may be byte `at` of a status line as soget reads one in
 * every driver: "HTTP/1.0" or "HTTP/1.1", one space, a status of three
 * digits (100 to 999), then a space or the line's end. http_parser, unless
 * built strict, takes more (any letters after the H, a status of 4 digits
 * led by 0, two spaces), and libcurl reads other lines still, or a line it
 * cannot read that begins "http/" in any case as a 200: "Http/1.1 503"
 * would have been a 503 here and a page there. */
static int status_byte(int at, unsigned char c) {
  switch (at) {
    case 5: return c == '1';
    case 6: return c == '.';
    case 7: return c == '0' || c == '1';
    case 8: return c == ' ';
    case 9: return c >= '1' && c <= '9';
    case 10: case 11: return c >= '0' && c <= '9';
    case 12: return c == ' ' || c == '\r' || c == '\n';
    default: return c == (unsigned char)"HTTP/"[at];
  }
}

/* Looks at the status line's first bytes among data's: 0 when they cannot
 * begin one (h failed), else 1. A blank line before it, which the parser
 * would skip, is refused too, as libcurl refuses it (HTTP/0.9): RFC 9112
 * lets a server skip one before a request, not a client before a
 * response. */
static int status_begins(soget_http1 *h, const char *data, size_t len) {
  size_t i;
  for (i = 0; i < len && h->status_at >= 0; i++) {
    if (!status_byte(h->status_at, (unsigned char)data[i]))
      return fail(h, "network", 0, "not a valid HTTP/1.1 response (its status line)"), 0;
    if (++h->status_at == 13) h->status_at = -1;
  }
  return 1;
}

/* The bytes within the cap are parsed first: the response may end, or
 * fail for another reason, before the cap is reached, however its bytes
 * arrive. */
int soget_http1_feed(soget_http1 *h, const char *data, size_t len) {
  size_t room, take, used;
  if (len == 0) return h->state;
  if (h->state != SOGET_HTTP1_MORE) {
    h->keep_alive = 0;   /* bytes that answer nothing */
    return h->state;
  }
  room = wire_cap(h->max_body) - h->received;
  take = len > room ? room : len;
  h->received += take;
  while (take > 0) {   /* (no bytes would tell the parser the connection closed) */
    if (h->status_at >= 0 && !status_begins(h, data, take)) return h->state;
    used = http_parser_execute(&h->p, &settings, data, take);
    if (h->state == SOGET_HTTP1_DONE) {
      if (used < take || take < len) h->keep_alive = 0;
      return h->state;
    }
    if (HTTP_PARSER_ERRNO(&h->p) == HPE_PAUSED && h->state == SOGET_HTTP1_MORE &&
        h->status_at == 0) {   /* an interim answer ended: the next status line */
      http_parser_pause(&h->p, 0);
      data += used;
      take -= used;
      len -= used;
      continue;
    }
    if (HTTP_PARSER_ERRNO(&h->p) != HPE_OK || used != take) {
      parse_error(h);
      return h->state;
    }
    break;
  }
  if (take < len) {
    h->state = SOGET_HTTP1_BAD;
    soget_err_set(&h->err, "http", (long)h->p.status_code, 0,
                  "response is larger than max_response_size (%lu bytes) allows, framing "
                  "included", (unsigned long)h->max_body);
    soget_coding_end(&h->coding);
  }
  return h->state;
}

int soget_http1_eof(soget_http1 *h) {
  if (h->state != SOGET_HTTP1_MORE) return h->state;
  if (h->received > 0) {
    http_parser_execute(&h->p, &settings, NULL, 0);
    if (h->state == SOGET_HTTP1_DONE) {
      h->keep_alive = 0;   /* the body ended with the connection */
      return h->state;
    }
    if (h->state == SOGET_HTTP1_BAD) return h->state;
  }
  soget_coding_end(&h->coding);
  h->state = SOGET_HTTP1_BAD;
  if (h->received == 0)
    soget_err_set(&h->err, "network", 0, 1, "the server closed the connection without "
                  "answering");
  else
    soget_err_set(&h->err, "network", (long)h->p.status_code, 1,
                  "the response was cut short (the connection closed before its end)");
  return h->state;
}

double soget_http1_retry_after(const soget_http1 *h) {
  if (!h->retry_after.data || h->retry_after.len == 0) return -1;
  return soget_parse_retry_after(h->retry_after.data, h->retry_after.len);
}
