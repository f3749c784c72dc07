#define _POSIX_C_SOURCE 200809L
/* src/core/http1.c: the request bytes of a call's request, and responses
 * parsed as they arrive (libhttp-parser, zlib), fed whole, byte by byte
 * and cut at every place: the same answer each way. Also the call steps'
 * requests (the token request and the GET) through the scripted engine. */
#include <stdlib.h>
#include <zlib.h>

#include "check.h"
#include "memscan.h"
#include "core/auth.h"
#include "core/call.h"
#include "core/coding.h"
#include "core/clock.h"
#include "core/http1.h"

/* ---- requests ----------------------------------------------------------- */

static const char *const api_headers[] = {"Authorization: Bearer tok-123",
                                          "Ocp-Apim-Subscription-Key: key-456",
                                          "Accept: application/json", NULL};
static const char *const form_headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                           "Accept: application/json", NULL};

static const struct {
  const char *name;
  int post;
  const char *url;
  const char *const *headers;
  const char *body;
  const char *ua;
  int gzip;
  const char *want;   /* NULL: refused */
  const char *scheme, *host, *tls_name;
  long port;
} requests[] = {
    {"GET with a query, default port", 0, "https://api.test/v1/handling-units?reference=CGMU2436601",
     api_headers, NULL, "soget/0.1.0", 1,
     "GET /v1/handling-units?reference=CGMU2436601 HTTP/1.1\r\n"
     "Host: api.test\r\n"
     "Authorization: Bearer tok-123\r\n"
     "Ocp-Apim-Subscription-Key: key-456\r\n"
     "Accept: application/json\r\n"
     "User-Agent: soget/0.1.0\r\n"
     "Accept-Encoding: gzip\r\n\r\n",
     "https", "api.test", "api.test", 443},
    {"another port, identity, no User-Agent", 0, "https://127.0.0.1:8443/a/b", api_headers, NULL,
     NULL, 0,
     "GET /a/b HTTP/1.1\r\n"
     "Host: 127.0.0.1:8443\r\n"
     "Authorization: Bearer tok-123\r\n"
     "Ocp-Apim-Subscription-Key: key-456\r\n"
     "Accept: application/json\r\n"
     "Accept-Encoding: identity\r\n\r\n",
     "https", "127.0.0.1", "127.0.0.1", 8443},
    {"POST form with Content-Length", 1, "http://auth.test/token", form_headers,
     "grant_type=client_credentials&client_id=a&client_secret=b%26c", "", 0,
     "POST /token HTTP/1.1\r\n"
     "Host: auth.test\r\n"
     "Content-Type: application/x-www-form-urlencoded\r\n"
     "Accept: application/json\r\n"
     "Accept-Encoding: identity\r\n"
     "Content-Length: 61\r\n\r\n"
     "grant_type=client_credentials&client_id=a&client_secret=b%26c",
     "http", "auth.test", "auth.test", 80},
    {"http on 443 names its port", 0, "http://api.test:443/", NULL, NULL, NULL, 0,
     "GET / HTTP/1.1\r\nHost: api.test:443\r\nAccept-Encoding: identity\r\n\r\n", "http",
     "api.test", "api.test", 443},
    {"no path, fragment and user info dropped, host lowercased", 0,
     "https://user:pw@API.Test#frag", NULL, NULL, NULL, 0,
     "GET / HTTP/1.1\r\nHost: api.test\r\nAccept-Encoding: identity\r\n\r\n", "https",
     "api.test", "api.test", 443},
    {"IPv6 literal", 0, "https://[::1]:9443/x?y=1", NULL, NULL, NULL, 0,
     "GET /x?y=1 HTTP/1.1\r\nHost: [::1]:9443\r\nAccept-Encoding: identity\r\n\r\n", "https",
     "[::1]", "::1", 9443},
    {"percent-encoded query kept byte for byte", 0,
     "https://api.test/v1?reference=A%26B%3DC&limit=10", NULL, NULL, NULL, 0,
     "GET /v1?reference=A%26B%3DC&limit=10 HTTP/1.1\r\nHost: api.test\r\n"
     "Accept-Encoding: identity\r\n\r\n",
     "https", "api.test", "api.test", 443},
    {"not http(s)", 0, "ftp://api.test/x", NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, 0},
    {"relative", 0, "/v1/handling-units", NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, 0},
    {"no URL", 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, 0},
    {"User-Agent with a line break", 0, "https://api.test/", NULL, NULL, "soget\r\nX-Evil: 1",
     0, NULL, NULL, NULL, NULL, 0},
};

static void test_requests(void) {
  size_t i;
  for (i = 0; i < COUNT(requests); i++) {
    soget_http_request rq;
    soget_http1_target t;
    soget_buf out;
    soget_err e;
    int rc;
    CASE("request: %s", requests[i].name);
    memset(&rq, 0, sizeof rq);
    memset(&t, 0, sizeof t);
    rq.post = requests[i].post;
    rq.url = requests[i].url;
    rq.headers = requests[i].headers;
    rq.body = requests[i].body;
    rq.body_len = requests[i].body ? strlen(requests[i].body) : 0;
    soget_buf_init(&out, 0);
    soget_err_clear(&e);
    rc = soget_http1_request(&out, &rq, requests[i].ua, requests[i].gzip, &t, NULL, &e);
    if (!requests[i].want) {
      CHECK_INT(rc, -1);
      CHECK_STR(e.kind, "network");
      CHECK_INT(e.retryable, 0);
      CHECK_INT(out.len, 0);
    } else {
      CHECK_INT(rc, 0);
      CHECK_STR(out.data, requests[i].want);
      CHECK_STR(t.scheme, requests[i].scheme);
      CHECK_STR(t.host, requests[i].host);
      CHECK_STR(t.name, requests[i].tls_name);
      CHECK_INT(t.port, requests[i].port);
      CHECK_INT(t.tls, strcmp(requests[i].scheme, "https") == 0);
    }
    soget_buf_free(&out);
  }
}

/* The same request built with and without the cache, and again from it:
 * the same bytes and target each way, or the same refusal. */
static void same_with_cache(soget_http1_cache *c, const char *url, int post, const char *ua) {
  soget_http_request rq;
  soget_http1_target t0, t1;
  soget_buf a, b;
  soget_err e0, e1;
  int r0, r1, pass;
  memset(&rq, 0, sizeof rq);
  rq.url = url;
  rq.post = post;
  rq.headers = api_headers;
  soget_buf_init(&a, 0);
  soget_buf_init(&b, 0);
  soget_err_clear(&e0);
  memset(&t0, 0, sizeof t0);
  r0 = soget_http1_request(&a, &rq, ua, 0, &t0, NULL, &e0);
  for (pass = 0; pass < 2; pass++) {
    soget_err_clear(&e1);
    memset(&t1, 0, sizeof t1);
    r1 = soget_http1_request(&b, &rq, ua, 0, &t1, c, &e1);
    CHECK_INT(r1, r0);
    if (r0 == 0 && r1 == 0) {
      CHECK_MEM(b.data, b.len, a.data, a.len);
      CHECK_STR(t1.scheme, t0.scheme);
      CHECK_STR(t1.host, t0.host);
      CHECK_STR(t1.name, t0.name);
      CHECK_INT(t1.port, t0.port);
      CHECK_INT(t1.tls, t0.tls);
    } else if (r0 != 0 && r1 != 0) {
      CHECK_STR(e1.message, e0.message);
      CHECK_INT(b.len, 0);
    }
  }
  soget_buf_free(&a);
  soget_buf_free(&b);
}

static void test_request_cache(void) {
  soget_http1_cache c;
  char url[512], q[128];
  const char *path;
  size_t n = 0;
  int ch;
  static const char *const urls[] = {
      "https://api.test/v1/handling-units?reference=CGMU2436601",
      "https://API.Test:8443/v1/handling-units?reference=CGMU2436601&limit=10&offset=20",
      "http://api.test:80/a/../b/./c?x=1",
      "https://[::1]:9443/x?y=%41%zz",
      "https://user:pw@api.test/v1?q=1",
      "https://api.test?only=query",
      "https://api.test/v1?",                 /* an empty query: parsed each time */
      "https://api.test/v1?a b",              /* a space: libcurl decides */
      "https://api.test/v1?caf\xc3\xa9",      /* not ASCII: libcurl decides */
      "https://api.test/v1?a=1#frag",         /* a fragment: parsed each time */
      "https://api.test/v1#frag?a=1",
      "ftp://api.test/v1?a=1",                /* refused, each time */
      "https://api.test:99999/v1?a=1",
      "/relative?a=1",
      "http://auth.test/token",               /* no query: parsed each time */
  };
  size_t i;
  memset(&c, 0, sizeof c);
  for (i = 0; i < COUNT(urls); i++) {
    CASE("request cache: %s", urls[i]);
    same_with_cache(&c, urls[i], 0, "soget/1");
    same_with_cache(&c, urls[i], 1, NULL);
  }
  CASE("request cache: every printable ASCII byte in a query");
  for (ch = 0x21; ch < 0x7f; ch++)
    if (ch != '#') q[n++] = (char)ch;
  q[n] = '\0';
  snprintf(url, sizeof url, "https://api.test/v1/handling-units?%s", q);
  same_with_cache(&c, url, 0, "soget/1");
  CHECK(c.prefix != NULL);

  CASE("request cache: a URL that differs after its '?' is not parsed again");
  same_with_cache(&c, "https://api.test/v1/handling-units?reference=A", 0, NULL);
  CHECK_STR(c.prefix, "https://api.test/v1/handling-units");
  CHECK_INT(c.len, strlen("https://api.test/v1/handling-units"));
  CHECK_STR(c.path, "/v1/handling-units");
  CHECK_STR(c.t.host, "api.test");
  path = c.path;
  same_with_cache(&c, "https://api.test/v1/handling-units?reference=B&limit=10", 0, NULL);
  CHECK(c.path == path);                  /* kept: read from the cache */
  same_with_cache(&c, "https://api.test/v1/handling-units?reference=B#x", 0, NULL);
  same_with_cache(&c, "https://api.test/v1/handling-units", 0, NULL);
  CHECK(c.path == path);                  /* neither replaced it */
  CASE("request cache: another place replaces it");
  same_with_cache(&c, "https://other.test:8443/v2/units?reference=C", 0, NULL);
  CHECK_STR(c.prefix, "https://other.test:8443/v2/units");
  CHECK_STR(c.path, "/v2/units");
  CHECK_INT(c.t.port, 8443);
  CASE("request cache: a User-Agent that cannot be sent, from the cache too");
  same_with_cache(&c, "https://other.test:8443/v2/units?reference=D", 0, "soget\r\nX-Evil: 1");
  soget_http1_cache_free(&c);
  CHECK(c.prefix == NULL && c.path == NULL && c.len == 0);
  soget_http1_cache_free(&c);             /* again: nothing */
}

/* The call steps' own requests, as bytes: the token request, then the GET
 * with the token it brought. */
static void test_call_requests(void) {
  soget_engine g;
  soget_call k;
  soget_query q;
  soget_err e;
  soget_buf out;
  soget_http1_target t;
  static const char tok[] = "{\"access_token\":\"T0K3N\",\"expires_in\":3600}";
  CASE("call steps: the token request and the GET as bytes");
  soget_engine_init(&g);
  g.client_id = strdup("cid");
  g.client_secret = strdup("s3cret&x");
  g.api_key = strdup("apikey");
  g.base_url = strdup("https://api.test/v1");
  g.token_url = strdup("https://auth.test:8443/token");
  g.timeout = 10;
  g.connect_timeout = 5;
  soget_call_init(&k);
  soget_query_init(&q, &soget_lookup_endpoint);
  soget_query_set(&q, SOGET_LOOKUP_REFERENCE, "CGMU2436601", 11);
  soget_err_clear(&e);
  soget_buf_init(&out, 0);
  CHECK_INT(soget_call_begin(&g, &k, &q, 0, &e), 0);
  CHECK_INT(soget_call_next(&g, &k, &e), SOGET_STEP_SEND);
  CHECK_INT(soget_http1_request(&out, &k.rq, "ua/1", 1, &t, NULL, &e), 0);
  CHECK_STR(out.data,
            "POST /token HTTP/1.1\r\nHost: auth.test:8443\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n"
            "User-Agent: ua/1\r\nAccept-Encoding: gzip\r\nContent-Length: 68\r\n\r\n"
            "grant_type=client_credentials&client_id=cid&client_secret=s3cret%26x");
  CHECK_INT(t.port, 8443);
  CHECK_INT(soget_call_response(&g, &k, 200, tok, sizeof tok - 1, -1, NULL, 0, &e),
            SOGET_STEP_AGAIN);
  CHECK_INT(soget_call_next(&g, &k, &e), SOGET_STEP_SEND);
  CHECK_INT(soget_http1_request(&out, &k.rq, NULL, 0, &t, NULL, &e), 0);
  CHECK_STR(out.data,
            "GET /v1/handling-units?reference=CGMU2436601 HTTP/1.1\r\nHost: api.test\r\n"
            "Authorization: Bearer T0K3N\r\nOcp-Apim-Subscription-Key: apikey\r\n"
            "Accept: application/json\r\nAccept-Encoding: identity\r\n\r\n");
  soget_wipe(out.data, out.cap);
  soget_buf_free(&out);
  soget_call_free(&g, &k);
  soget_engine_free(&g);
}

/* ---- responses ---------------------------------------------------------- */

enum { MORE = SOGET_HTTP1_MORE, DONE = SOGET_HTTP1_DONE, BAD = SOGET_HTTP1_BAD };

typedef struct rcase {
  const char *name;
  const char *bytes;
  size_t len;
  int eof;              /* the connection closes after the bytes */
  size_t max;           /* 0: 1 MB */
  int state;
  long status;
  const char *body;     /* DONE: the body */
  const char *location, *retry_after;
  int keep_alive;
  const char *kind;     /* BAD: the error's kind, retryable, a part of its message */
  int retryable;
  const char *msg;
} rcase;

#define OK200 "HTTP/1.1 200 OK\r\n"
static const rcase responses[] = {
    {"Content-Length", BYTES(OK200 "Content-Length: 5\r\nContent-Type: application/json\r\n\r\n"
                             "{\"a\"}"),
     0, 0, DONE, 200, "{\"a\"}", "", "", 1, NULL, 0, NULL},
    {"chunked with a trailer", BYTES(OK200 "Transfer-Encoding: chunked\r\n\r\n"
                                     "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nLocation: /x\r\n\r\n"),
     0, 0, DONE, 200, "abc0123456789abcdef", "", "", 1, NULL, 0, NULL},
    {"chunk extensions", BYTES(OK200 "Transfer-Encoding: chunked\r\n\r\n"
                               "2;name=val\r\nok\r\n0\r\n\r\n"),
     0, 0, DONE, 200, "ok", "", "", 1, NULL, 0, NULL},
    {"empty body", BYTES(OK200 "Content-Length: 0\r\n\r\n"), 0, 0, DONE, 200, "", "", "", 1,
     NULL, 0, NULL},
    {"204 has no body", BYTES("HTTP/1.1 204 No Content\r\n\r\n"), 0, 0, DONE, 204, "", "", "", 1,
     NULL, 0, NULL},
    {"Connection: close", BYTES(OK200 "Connection: close\r\nContent-Length: 2\r\n\r\nhi"), 0, 0,
     DONE, 200, "hi", "", "", 0, NULL, 0, NULL},
    {"HTTP/1.0 closes", BYTES("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"), 0, 0, DONE, 200,
     "hi", "", "", 0, NULL, 0, NULL},
    {"HTTP/1.0 keep-alive", BYTES("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                                  "Content-Length: 2\r\n\r\nhi"),
     0, 0, DONE, 200, "hi", "", "", 1, NULL, 0, NULL},
    {"HTTP/1.0 with Proxy-Connection: keep-alive closes (no Connection says so)",
     BYTES("HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"),
     0, 0, DONE, 200, "hi", "", "", 0, NULL, 0, NULL},
    {"HTTP/1.1 with Proxy-Connection: keep-alive stays open",
     BYTES(OK200 "Proxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"),
     0, 0, DONE, 200, "hi", "", "", 1, NULL, 0, NULL},
    {"body to the end of the connection", BYTES(OK200 "\r\nall of it"), 1, 0, DONE, 200,
     "all of it", "", "", 0, NULL, 0, NULL},
    {"body to the end, not ended yet", BYTES(OK200 "\r\nall of"), 0, 0, MORE, 0, NULL, NULL, NULL,
     0, NULL, 0, NULL},
    {"redirect: Location as sent", BYTES("HTTP/1.1 307 Temporary Redirect\r\n"
                                         "Location:   /v1/x?y=1  \r\nContent-Length: 0\r\n\r\n"),
     0, 0, DONE, 307, "", "/v1/x?y=1", "", 1, NULL, 0, NULL},
    {"the first Location counts", BYTES("HTTP/1.1 302 Found\r\nLocation: /a\r\nlocation: /b\r\n"
                                        "Content-Length: 0\r\n\r\n"),
     0, 0, DONE, 302, "", "/a", "", 1, NULL, 0, NULL},
    {"an empty or blank Location is none: the next one counts (as libcurl takes it)",
     BYTES("HTTP/1.1 302 Found\r\nLocation:\r\nLocation:   \r\nlocation: /b\r\n"
           "Location: /c\r\nContent-Length: 0\r\n\r\n"),
     0, 0, DONE, 302, "", "/b", "", 1, NULL, 0, NULL},
    {"an empty Location after one with a value changes nothing",
     BYTES("HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation:\r\nContent-Length: 0\r\n\r\n"),
     0, 0, DONE, 302, "", "/a", "", 1, NULL, 0, NULL},
    {"a blank Location, last, is none", BYTES("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n"
                                             "Location:  \r\n\r\n"),
     0, 0, DONE, 302, "", "", "", 1, NULL, 0, NULL},
    {"Retry-After, names in any case", BYTES("HTTP/1.1 429 Too Many\r\nRETRY-after: 7\r\n"
                                             "Content-Length: 2\r\n\r\n{}"),
     0, 0, DONE, 429, "{}", "", "7", 1, NULL, 0, NULL},
    {"the first Retry-After counts", BYTES("HTTP/1.1 503 Busy\r\nRetry-After: 1\r\n"
                                           "Retry-After: 3\r\nContent-Length: 0\r\n\r\n"),
     0, 0, DONE, 503, "", "", "1", 1, NULL, 0, NULL},
    {"Retry-After past its limit with white space alone (trimmed, as libcurl trims it)",
     BYTES("HTTP/1.1 503 Busy\r\nRetry-After: 2                                                   "
           "                    \r\nContent-Length: 0\r\n\r\n"),
     0, 0, DONE, 503, "", "", "2", 1, NULL, 0, NULL},
    {"Retry-After past its limit with more than white space: none",
     BYTES("HTTP/1.1 503 Busy\r\nRetry-After: 2                                                   "
           "                    x\r\nContent-Length: 0\r\n\r\n"),
     0, 0, DONE, 503, "", "", "", 1, NULL, 0, NULL},
    {"a long header of another name", BYTES(OK200 "X-Retry-After-Location-Content-Encoding-Long: 1\r\n"
                                            "Content-Length: 1\r\n\r\nx"),
     0, 0, DONE, 200, "x", "", "", 1, NULL, 0, NULL},
    {"an interim 100 has no body, whatever it says", BYTES("HTTP/1.1 100 Continue\r\n"
                                                           "Content-Length: 5\r\n\r\n" OK200
                                                           "Content-Length: 2\r\n\r\nok"),
     0, 0, DONE, 200, "ok", "", "", 1, NULL, 0, NULL},
    {"an interim 103, chunked, has no body either", BYTES("HTTP/1.1 103 Early Hints\r\n"
                                                          "Transfer-Encoding: chunked\r\n\r\n"
                                                          OK200 "Content-Length: 2\r\n\r\nok"),
     0, 0, DONE, 200, "ok", "", "", 1, NULL, 0, NULL},
    {"a page sent as a 100's body is no response", BYTES("HTTP/1.1 100 Continue\r\n"
                                                         "Content-Length: 2\r\n\r\n{}"
                                                         OK200 "Content-Length: 0\r\n\r\n"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "not a valid HTTP/1.1 response"},
    {"interim 100 skipped", BYTES("HTTP/1.1 100 Continue\r\n\r\n" OK200
                                  "Content-Length: 2\r\n\r\nok"),
     0, 0, DONE, 200, "ok", "", "", 1, NULL, 0, NULL},
    {"a status line in lower case is refused (libcurl reads it as a 200)",
     BYTES("http/1.1 503 Busy\r\nContent-Length: 2\r\n\r\n{}"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "its status line"},
    {"a status of 4 digits led by 0 is refused", BYTES("HTTP/1.1 0200 OK\r\nContent-Length: 2\r\n\r\n{}"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "its status line"},
    {"two spaces before the status are refused", BYTES("HTTP/1.1  200 OK\r\nContent-Length: 2\r\n\r\n{}"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "its status line"},
    {"a status line without a reason phrase", BYTES("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n{}"),
     0, 0, DONE, 200, "{}", "", "", 1, NULL, 0, NULL},
    {"trailers after a chunked body are no status line", BYTES(OK200 "Transfer-Encoding: chunked\r\n\r\n"
                                                               "2\r\n{}\r\n0\r\nX-Trailer: yes\r\n\r\n"),
     0, 0, DONE, 200, "{}", "", "", 1, NULL, 0, NULL},
    {"a status line in mixed case is refused (libcurl: a 200; http_parser: any letters)",
     BYTES("Http/1.1 503 Busy\r\nContent-Length: 2\r\n\r\n{}"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "its status line"},
    {"so is one after an interim answer", BYTES("HTTP/1.1 103 Early Hints\r\n\r\n"
                                                "HTTP/1.1 100 Continue\r\n\r\n"
                                                "HTtP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\n{}"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "its status line"},
    {"a blank line before a status line is refused (libcurl: HTTP/0.9)",
     BYTES("\r\n" OK200 "Content-Length: 2\r\n\r\nok"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "its status line"},
    {"so is a bare LF", BYTES("\n" OK200 "Content-Length: 2\r\n\r\nok"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "its status line"},
    {"and one after an interim answer", BYTES("HTTP/1.1 100 Continue\r\n\r\n"
                                              "\r\n" OK200 "Content-Length: 2\r\n\r\nok"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "its status line"},
    {"bytes past the response: not reused", BYTES(OK200 "Content-Length: 2\r\n\r\nokEXTRA"), 0,
     0, DONE, 200, "ok", "", "", 0, NULL, 0, NULL},
    {"body at the cap", BYTES(OK200 "Content-Length: 4\r\n\r\nabcd"), 0, 4, DONE, 200, "abcd", "",
     "", 1, NULL, 0, NULL},
    {"body over the cap (Content-Length)", BYTES(OK200 "Content-Length: 5\r\n\r\nabcde"), 0, 4,
     BAD, 0, NULL, NULL, NULL, 0, "http", 0,
     "response body is larger than max_response_size (4 bytes)"},
    {"body over the cap (chunked)", BYTES(OK200 "Transfer-Encoding: chunked\r\n\r\n"
                                          "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"),
     0, 4, BAD, 0, NULL, NULL, NULL, 0, "http", 0, "larger than max_response_size (4 bytes)"},
    {"body over the cap (to the end)", BYTES(OK200 "\r\nabcdefgh"), 1, 4, BAD, 0, NULL, NULL,
     NULL, 0, "http", 0, "larger than max_response_size"},
    /* libcurl refuses such a Content-Length from the header: the same kind
     * whether the body then comes or is cut short (it was "cut short") */
    {"a Content-Length past the cap as sent, the body cut short",
     BYTES(OK200 "Content-Length: 100000\r\n\r\nabc"), 1, 4, BAD, 0, NULL, NULL, NULL, 0, "http",
     0, "response body is larger than max_response_size (4 bytes)"},
    {"a Content-Length just past the cap as sent (a compressed body's room included)",
     BYTES(OK200 "Content-Length: 4101\r\n\r\nabc"), 1, 4, BAD, 0, NULL, NULL, NULL, 0, "http",
     0, "response body is larger than max_response_size (4 bytes)"},
    {"a Content-Length at the cap as sent, cut short: cut short",
     BYTES(OK200 "Content-Length: 4100\r\n\r\nabc"), 1, 4, BAD, 0, NULL, NULL, NULL, 0,
     "network", 1, "cut short"},
    {"nothing at all", "", 0, 1, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 1,
     "closed the connection without answering"},
    {"cut in the headers", BYTES("HTTP/1.1 200 OK\r\nContent-Le"), 1, 0, BAD, 0, NULL, NULL, NULL,
     0, "network", 1, "cut short"},
    {"cut in the body", BYTES(OK200 "Content-Length: 10\r\n\r\nabc"), 1, 0, BAD, 0, NULL, NULL,
     NULL, 0, "network", 1, "cut short"},
    {"cut in a chunk", BYTES(OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nab"), 1, 0, BAD, 0,
     NULL, NULL, NULL, 0, "network", 1, "cut short"},
    {"not HTTP", BYTES("SSH-2.0-OpenSSH_9.2\r\n"), 0, 0, BAD, 0, NULL, NULL, NULL, 0, "network",
     0, "not a valid HTTP/1.1 response"},
    {"a TLS alert on a plain connection", BYTES("\x15\x03\x01\x00\x02\x02\x46"), 0, 0, BAD, 0,
     NULL, NULL, NULL, 0, "network", 0, "not a valid HTTP/1.1 response"},
    {"bad status", BYTES("HTTP/1.1 2x0 OK\r\n\r\n"), 0, 0, BAD, 0, NULL, NULL, NULL, 0, "network",
     0, "not a valid"},
    {"two different Content-Lengths", BYTES(OK200 "Content-Length: 2\r\nContent-Length: 3\r\n\r\n"
                                            "abc"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "not a valid"},
    {"Content-Length and chunked", BYTES(OK200 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"
                                         "\r\n3\r\nabc\r\n0\r\n\r\n"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "not a valid"},
    /* a broken transfer, retried as libcurl's drivers retry it */
    {"bad chunk size", BYTES(OK200 "Transfer-Encoding: chunked\r\n\r\nzz\r\n"), 0, 0, BAD, 0, NULL,
     NULL, NULL, 0, "network", 1, "not a valid HTTP/1.1 response (a chunk size that is not a valid number)"},
    {"a bad Content-Length after chunked: a header, not a transfer broken", BYTES(OK200
     "Transfer-Encoding: chunked\r\nContent-Length: 1x\r\n\r\n"), 0, 0, BAD, 0, NULL, NULL, NULL, 0,
     "network", 0, "not a valid HTTP/1.1 response (invalid character in content-length header)"},
    {"chunk size too large", BYTES(OK200 "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"), 0, 0,
     BAD, 0, NULL, NULL, NULL, 0, "network", 1,
     "not a valid HTTP/1.1 response (a chunk size that is not a valid number)"},
    {"huge Content-Length", BYTES(OK200 "Content-Length: 99999999999999999999999\r\n\r\n"), 0, 0,
     BAD, 0, NULL, NULL, NULL, 0, "network", 0, "not a valid"},
    {"NUL in a header", BYTES(OK200 "X-A: b\0c\r\nContent-Length: 0\r\n\r\n"), 0, 0, BAD, 0, NULL,
     NULL, NULL, 0, "network", 0, "not a valid"},
    /* Three digits, but not an HTTP status: libcurl refuses them too. */
    {"status 000", BYTES("HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\n{}"), 0, 0, BAD, 0,
     NULL, NULL, NULL, 0, "network", 0, "not a valid HTTP/1.1 response (its status line)"},
    {"status 099", BYTES("HTTP/1.1 099 X\r\nContent-Length: 0\r\n\r\n"), 0, 0, BAD, 0,
     NULL, NULL, NULL, 0, "network", 0, "not a valid HTTP/1.1 response (its status line)"},
    /* A version other than 1.0 and 1.1 in the status line: no HTTP/1.x
     * answer (libcurl refuses 0.9 and 1.2 too). */
    {"HTTP/2.0 as a status line", BYTES("HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"), 0, 0,
     BAD, 0, NULL, NULL, NULL, 0, "network", 0, "not a valid HTTP/1.1 response (its status line)"},
    {"HTTP/0.9 as a status line", BYTES("HTTP/0.9 200 OK\r\nContent-Length: 2\r\n\r\n{}"), 0, 0,
     BAD, 0, NULL, NULL, NULL, 0, "network", 0, "not a valid HTTP/1.1 response (its status line)"},
    {"HTTP/1.2 as a status line", BYTES("HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\n{}"), 0, 0,
     BAD, 0, NULL, NULL, NULL, 0, "network", 0, "not a valid HTTP/1.1 response (its status line)"},
    {"101 switching protocols", BYTES("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "switched protocols"},
    {"unknown Content-Encoding", BYTES(OK200 "Content-Encoding: br\r\nContent-Length: 1\r\n\r\nx"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "Content-Encoding"},
    {"gzip that is not", BYTES(OK200 "Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello"),
     0, 0, BAD, 0, NULL, NULL, NULL, 0, "network", 0, "compressed response body is not valid"},
    {"empty gzip body", BYTES("HTTP/1.1 304 Not Modified\r\nContent-Encoding: gzip\r\n\r\n"), 0,
     0, DONE, 304, "", "", "", 1, NULL, 0, NULL},
};

/* Feeds r's bytes in pieces of `step` bytes (0: all at once), or cut once
 * at `cut` (when step is 0 and cut > 0): the state after the bytes (and
 * the end of the connection, for r->eof). */
static int run(soget_http1 *h, const rcase *r, size_t step, size_t cut) {
  int st = MORE;
  soget_http1_init(h, r->max ? r->max : 1024 * 1024);
  if (step) {
    size_t i;
    for (i = 0; i < r->len && st == MORE; i += step)
      st = soget_http1_feed(h, r->bytes + i, r->len - i < step ? r->len - i : step);
    if (st == DONE && i < r->len) st = soget_http1_feed(h, r->bytes + i, r->len - i);
  } else if (cut) {
    st = soget_http1_feed(h, r->bytes, cut);
    if (st == MORE || st == DONE) st = soget_http1_feed(h, r->bytes + cut, r->len - cut);
  } else {
    st = soget_http1_feed(h, r->bytes, r->len);
  }
  if (r->eof) st = soget_http1_eof(h);
  return st;
}

static void check_response(const rcase *r, soget_http1 *h, int st) {
  CHECK_INT(st, r->state);
  CHECK_INT(h->state, r->state);
  if (r->state == DONE) {
    CHECK_INT(h->status, r->status);
    CHECK_MEM(h->body.data ? h->body.data : "", h->body.len, r->body, strlen(r->body));
    CHECK_STR(h->location.data ? h->location.data : "", r->location);
    CHECK_STR(h->retry_after.data ? h->retry_after.data : "", r->retry_after);
    CHECK_INT(h->keep_alive, r->keep_alive);
  } else if (r->state == BAD) {
    CHECK_STR(h->err.kind, r->kind);
    CHECK_INT(h->err.retryable, r->retryable);
    CHECK_INT(h->err.nomem, 0);
    if (!CHECK(strstr(h->err.message, r->msg) != NULL))
      fprintf(stderr, "    message: %s\n", h->err.message);
  }
}

static void test_responses(void) {
  size_t i, n;
  for (i = 0; i < COUNT(responses); i++) {
    const rcase *r = &responses[i];
    soget_http1 h;
    CASE("response: %s", r->name);
    SUBCASE("response: %s (whole)", r->name);
    check_response(r, &h, run(&h, r, 0, 0));
    soget_http1_free(&h);
    SUBCASE("response: %s (byte by byte)", r->name);
    check_response(r, &h, run(&h, r, 1, 0));
    soget_http1_free(&h);
    for (n = 1; n < r->len; n++) {
      SUBCASE("response: %s (cut at %zu)", r->name, n);
      check_response(r, &h, run(&h, r, 0, n));
      soget_http1_free(&h);
    }
  }
}

/* ---- compressed bodies ---------------------------------------------------- */

/* Feeds len bytes in pieces of `step` bytes (0: all at once) until the
 * parser stops asking for more: its state then. */
static int feed_pieces(soget_http1 *h, const char *bytes, size_t len, size_t step) {
  size_t at;
  int st = MORE;
  if (!step) return soget_http1_feed(h, bytes, len);
  for (at = 0; at < len && st == MORE; at += step)
    st = soget_http1_feed(h, bytes + at, len - at < step ? len - at : step);
  return st;
}

/* data compressed as gzip (gzip 1: window 15 + 16), zlib (0: 15) or a raw
 * deflate stream (2: -15). */
static size_t compress_to(char *out, size_t cap, const char *data, size_t len, int gzip) {
  z_stream z;
  size_t n;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 9, Z_DEFLATED, gzip == 1 ? 15 + 16 : gzip == 2 ? -15 : 15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return 0;
  z.next_in = (Bytef *)(uintptr_t)data;
  z.avail_in = (uInt)len;
  z.next_out = (Bytef *)out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) n = 0;
  else n = cap - z.avail_out;
  deflateEnd(&z);
  return n;
}

/* A response with body `z` (zlen bytes) sent as `enc`, chunked or not. */
static size_t wrap(char *out, size_t cap, const char *enc, const char *z, size_t zlen, int chunked) {
  int n = chunked ? snprintf(out, cap, OK200 "Content-Encoding: %s\r\nTransfer-Encoding: chunked"
                                           "\r\n\r\n%zx\r\n", enc, zlen)
                  : snprintf(out, cap, OK200 "Content-Encoding: %s\r\nContent-Length: %zu\r\n\r\n",
                             enc, zlen);
  size_t len = (size_t)n;
  memcpy(out + len, z, zlen);
  len += zlen;
  if (chunked) {
    memcpy(out + len, "\r\n0\r\n\r\n", 7);
    len += 7;
  }
  return len;
}

static void test_compressed(void) {
  static char plain[300000], z[400000], resp[420000];
  size_t i, zlen, rlen;
  soget_http1 h;
  int st;
  for (i = 0; i < sizeof plain; i++) plain[i] = (char)("{\"items\":[0123456789]}"[i % 22] ^ (i / 4096 % 2));

  {
    static const struct {
      const char *name, *enc;
      int gzip, chunked;
    } ok[] = {{"gzip", "gzip", 1, 0},          {"gzip, chunked", "gzip", 1, 1},
              {"x-gzip", "x-gzip", 1, 0},      {"deflate (zlib)", "deflate", 0, 0},
              {"GZIP in capitals", "GZIP", 1, 1},
              {"deflate sent raw, without zlib's header (as libcurl reads it)", "deflate", 2, 0},
              {"deflate sent raw, chunked", "deflate", 2, 1}};
    for (i = 0; i < COUNT(ok); i++) {
      size_t step;
      zlen = compress_to(z, sizeof z, plain, sizeof plain, ok[i].gzip);
      rlen = wrap(resp, sizeof resp, ok[i].enc, z, zlen, ok[i].chunked);
      CASE("compressed: %s", ok[i].name);
      CHECK(zlen > 0 && zlen < sizeof plain / 4);
      for (step = 0; step <= 4099; step += step ? 4098 : 1) {
        SUBCASE("compressed: %s, pieces of %zu", ok[i].name, step);
        soget_http1_init(&h, sizeof plain);
        CHECK_INT(feed_pieces(&h, resp, rlen, step), DONE);
        CHECK_INT(h.keep_alive, 1);
        CHECK_MEM(h.body.data, h.body.len, plain, sizeof plain);
        soget_http1_free(&h);
      }
    }
  }

  CASE("compressed: a body of exactly the cap (a power of two): its buffer the cap and a NUL");
  zlen = compress_to(z, sizeof z, plain, 131072, 1);
  rlen = wrap(resp, sizeof resp, "gzip", z, zlen, 0);
  soget_http1_init(&h, 131072);
  CHECK_INT(soget_http1_feed(&h, resp, rlen), DONE);
  CHECK_MEM(h.body.data, h.body.len, plain, 131072);
  CHECK_INT(h.body.cap, 131073);
  soget_http1_free(&h);

  CASE("compressed: over the cap once decoded (a bomb)");
  zlen = compress_to(z, sizeof z, plain, sizeof plain, 1);
  rlen = wrap(resp, sizeof resp, "gzip", z, zlen, 0);
  soget_http1_init(&h, 1000);
  st = soget_http1_feed(&h, resp, rlen);
  CHECK_INT(st, BAD);
  CHECK_STR(h.err.kind, "http");
  CHECK_INT(h.err.retryable, 0);
  CHECK_STR(h.err.message, "response body is larger than max_response_size (1000 bytes)");
  soget_http1_free(&h);

  {
    /* RFC 1952 2.2: a gzip body is a series of members, decoded as one
     * (as gzip -d reads it): the halves of plain as two members, in pieces
     * of every size a member boundary can fall at */
    size_t half = sizeof plain / 2, z1 = compress_to(z, sizeof z, plain, half, 1), z2, step;
    z2 = compress_to(z + z1, sizeof z - z1, plain + half, sizeof plain - half, 1);
    CASE("compressed: two gzip members are one body");
    CHECK(z1 > 0 && z2 > 0);
    rlen = wrap(resp, sizeof resp, "gzip", z, z1 + z2, 0);
    for (step = 0; step <= 4099; step += step ? 4098 : 1) {
      SUBCASE("compressed: two gzip members, pieces of %zu", step);
      soget_http1_init(&h, sizeof plain);
      CHECK_INT(feed_pieces(&h, resp, rlen, step), DONE);
      CHECK_MEM(h.body.data, h.body.len, plain, sizeof plain);
      soget_http1_free(&h);
    }
    CASE("compressed: the second member cut short");
    rlen = wrap(resp, sizeof resp, "gzip", z, z1 + z2 / 2, 0);
    soget_http1_init(&h, sizeof plain);
    CHECK_INT(soget_http1_feed(&h, resp, rlen), BAD);
    CHECK(strstr(h.err.message, "compressed response body is cut short") != NULL);
    soget_http1_free(&h);
    CASE("compressed: bytes after a gzip member that begin none are ignored, as before");
    memcpy(z + z1, "\0\0garbage", 9);
    rlen = wrap(resp, sizeof resp, "gzip", z, z1 + 9, 0);
    soget_http1_init(&h, sizeof plain);
    CHECK_INT(feed_pieces(&h, resp, rlen, 1), DONE);
    CHECK_MEM(h.body.data, h.body.len, plain, half);
    soget_http1_free(&h);
    /* the byte after a member decides: a member later among the ignored
     * bytes begins nothing, whatever pieces the body comes in */
    z2 = compress_to(z + z1 + 2, sizeof z - z1 - 2, plain + half, sizeof plain - half, 1);
    memcpy(z + z1, "\2\0", 2);
    rlen = wrap(resp, sizeof resp, "gzip", z, z1 + 2 + z2, 0);
    for (step = 0; step <= 9; step++) {
      SUBCASE("compressed: a member after ignored bytes is ignored too, pieces of %zu", step);
      soget_http1_init(&h, sizeof plain);
      CHECK_INT(feed_pieces(&h, resp, rlen, step), DONE);
      CHECK_MEM(h.body.data, h.body.len, plain, half);
      soget_http1_free(&h);
    }
    CASE("compressed: a zlib stream is one stream: what follows is ignored");
    z1 = compress_to(z, sizeof z, plain, half, 0);
    z2 = compress_to(z + z1, sizeof z - z1, plain + half, sizeof plain - half, 1);
    rlen = wrap(resp, sizeof resp, "deflate", z, z1 + z2, 0);
    soget_http1_init(&h, sizeof plain);
    CHECK_INT(soget_http1_feed(&h, resp, rlen), DONE);
    CHECK_MEM(h.body.data, h.body.len, plain, half);
    soget_http1_free(&h);
  }

  CASE("compressed: stream cut short, Content-Length complete");
  rlen = wrap(resp, sizeof resp, "gzip", z, zlen / 2, 0);
  soget_http1_init(&h, sizeof plain);
  CHECK_INT(soget_http1_feed(&h, resp, rlen), BAD);
  CHECK_STR(h.err.kind, "network");
  CHECK(strstr(h.err.message, "compressed response body is cut short") != NULL);
  soget_http1_free(&h);

  CASE("compressed: a corrupt byte in the middle");
  memcpy(resp, z, zlen);
  for (i = zlen / 3; i < zlen / 3 + 8; i++) resp[i] ^= 0x5a;
  memcpy(z, resp, zlen);
  rlen = wrap(resp, sizeof resp, "gzip", z, zlen, 1);
  soget_http1_init(&h, sizeof plain);
  st = soget_http1_feed(&h, resp, rlen);
  CHECK_INT(st, BAD);
  CHECK_STR(h.err.kind, "network");
  soget_http1_free(&h);

  CASE("compressed: a raw deflate stream as gzip is not valid (only deflate may lack its header)");
  zlen = compress_to(z, sizeof z, plain, sizeof plain, 2);
  rlen = wrap(resp, sizeof resp, "gzip", z, zlen, 0);
  soget_http1_init(&h, sizeof plain);
  CHECK_INT(soget_http1_feed(&h, resp, rlen), BAD);
  CHECK_STR(h.err.kind, "network");
  CHECK(strstr(h.err.message, "compressed response body is not valid") != NULL);
  soget_http1_free(&h);

  CASE("compressed: deflate whose zlib header is right and data wrong is not read as raw");
  zlen = compress_to(z, sizeof z, plain, sizeof plain, 0);
  for (i = 2; i < 10; i++) z[i] ^= 0x5a;
  rlen = wrap(resp, sizeof resp, "deflate", z, zlen, 0);
  soget_http1_init(&h, sizeof plain);
  CHECK_INT(feed_pieces(&h, resp, rlen, 1), BAD);
  CHECK_STR(h.err.kind, "network");
  soget_http1_free(&h);

  CASE("compressed: an empty raw deflate stream is an empty body");
  zlen = compress_to(z, sizeof z, "", 0, 2);
  rlen = wrap(resp, sizeof resp, "deflate", z, zlen, 0);
  soget_http1_init(&h, 100);
  CHECK_INT(feed_pieces(&h, resp, rlen, 1), DONE);
  CHECK(h.body.len == 0);
  soget_http1_free(&h);

  CASE("compressed: bytes after the stream's end are ignored");
  zlen = compress_to(z, sizeof z, "{}", 2, 1);
  memcpy(z + zlen, "garbage", 7);
  rlen = wrap(resp, sizeof resp, "gzip", z, zlen + 7, 0);
  soget_http1_init(&h, 100);
  CHECK_INT(soget_http1_feed(&h, resp, rlen), DONE);
  CHECK_MEM(h.body.data, h.body.len, "{}", 2);
  soget_http1_free(&h);
}

/* The spec's own compressor keeps nothing of what it read either: it
 * takes soget's wiping allocator (auth.h). */
static voidpf spec_zalloc(voidpf op, uInt items, uInt size) {
  (void)op;
  return soget_wiping_malloc((size_t)items * size);
}

static void spec_zfree(voidpf op, voidpf p) {
  (void)op;
  soget_wiping_free(p);
}

static void test_coding_wipes(void) {
  static char plain[3000], z[4000];
  z_stream d;
  size_t zlen, i;
  soget_coding c;
  soget_buf out;
  long seen;
  CASE("compressed: zlib's memory keeps nothing of the body once the coding ends");
  for (i = 0; i < sizeof plain; i++) plain[i] = (char)('a' + i % 7);
  memscan_fill(plain + 1000, 31337);
  memset(&d, 0, sizeof d);
  d.zalloc = spec_zalloc;
  d.zfree = spec_zfree;
  CHECK_INT(deflateInit2(&d, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  d.next_in = (Bytef *)plain;
  d.avail_in = sizeof plain;
  d.next_out = (Bytef *)z;
  d.avail_out = sizeof z;
  CHECK_INT(deflate(&d, Z_FINISH), Z_STREAM_END);
  zlen = sizeof z - d.avail_out;
  deflateEnd(&d);
  soget_wipe(plain, sizeof plain);
  soget_coding_init(&c);
  soget_buf_init(&out, 0);
  CHECK_INT(soget_coding_start(&c, "gzip", 4), SOGET_CODING_OK);
  /* in pieces, as a body arrives: zlib keeps a window between its calls */
  for (i = 0; i < zlen; i += 50)
    CHECK_INT(soget_coding_feed(&c, z + i, zlen - i < 50 ? zlen - i : 50, &out, 100000),
              SOGET_CODING_OK);
  CHECK_INT(soget_coding_finish(&c), SOGET_CODING_OK);
  CHECK_INT(out.len, sizeof plain);
  seen = memscan_count(31337, out.data, out.cap);
  if (seen < 0) {
    printf("  (no /proc/self/mem: left out)\n");
  } else {
    CHECK_INT(seen, 1);   /* zlib's window, until the coding ends */
    soget_coding_end(&c);
    CHECK_INT(memscan_count(31337, out.data, out.cap), 0);
    soget_wipe(out.data, out.cap);
    CHECK_INT(memscan_count(31337, NULL, 0), 0);
  }
  soget_coding_end(&c);
  soget_buf_free(&out);

  CASE("a parser's body is wiped when the parser is freed");
  {
    static char resp[600];
    static const char before[] = "{\"access_token\":\"more than forty-eight bytes of the token "
                                 "before the part the spec looks for";
    soget_http1 h;
    int n = snprintf(resp, sizeof resp, OK200 "Content-Length: %zu\r\n\r\n%s",
                     sizeof before - 1 + MEMSCAN_LEN + 2, before);
    CHECK(n > 0 && (size_t)n + MEMSCAN_LEN + 2 < sizeof resp);
    memscan_fill(resp + n, 4711);
    memcpy(resp + n + MEMSCAN_LEN, "\"}", 2);
    soget_http1_init(&h, 1000);
    CHECK_INT(soget_http1_feed(&h, resp, (size_t)n + MEMSCAN_LEN + 2), DONE);
    soget_wipe(resp, sizeof resp);
    seen = memscan_count(4711, NULL, 0);
    if (seen >= 0) CHECK_INT(seen, 1);   /* the body */
    soget_http1_free(&h);
    if (seen >= 0) CHECK_INT(memscan_count(4711, NULL, 0), 0);
  }
}

/* ---- limits ---------------------------------------------------------------- */

static void test_limits(void) {
  static char big[200000];
  soget_http1 h;
  size_t n, i;

  CASE("headers over the parser's limit: a size limit, not retried");
  n = (size_t)snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Big: ");
  for (i = 0; i < 100000; i++) big[n++] = 'a';
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, big, n), BAD);
  CHECK_STR(h.err.kind, "http");
  CHECK_INT(h.err.retryable, 0);
  CHECK(strstr(h.err.message, "response headers are larger than the size limit") != NULL);
  soget_http1_free(&h);

  {
    /* A 302 whose Location is "/" and `xs` bytes more, then `more`
     * headers: the length of the Location kept. */
    static const struct {
      const char *name;
      size_t xs;
      const char *more;
      size_t kept;
    } locations[] = {
        {"a Location too long to use is none, and a second one is ignored",
         SOGET_HTTP1_LOCATION_MAX, "Location: /short\r\n", 0},
        {"a Location of exactly the limit is kept", SOGET_HTTP1_LOCATION_MAX - 1, "",
         SOGET_HTTP1_LOCATION_MAX},
        {"a Location of one byte more is none", SOGET_HTTP1_LOCATION_MAX, "", 0},
    };
    size_t j;
    for (j = 0; j < COUNT(locations); j++) {
      CASE("%s", locations[j].name);
      n = (size_t)snprintf(big, sizeof big, "HTTP/1.1 302 Found\r\nLocation: /");
      for (i = 0; i < locations[j].xs; i++) big[n++] = 'x';
      n += (size_t)snprintf(big + n, sizeof big - n, "\r\n%sContent-Length: 0\r\n\r\n",
                            locations[j].more);
      soget_http1_init(&h, 1000);
      CHECK_INT(soget_http1_feed(&h, big, n), DONE);
      CHECK_INT(h.status, 302);
      CHECK_INT(h.location.len, locations[j].kept);
      soget_http1_free(&h);
    }
  }

  CASE("a compressed body of one byte is cut short, not empty");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, BYTES(OK200 "Content-Encoding: gzip\r\nContent-Length: 1\r\n\r\n"
                                              "\x1f")),
            BAD);
  CHECK_STR(h.err.kind, "network");
  CHECK(strstr(h.err.message, "cut short") != NULL);
  soget_http1_free(&h);

  CASE("Retry-After read as the call steps read it");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, BYTES("HTTP/1.1 503 x\r\nRetry-After: 12\r\nContent-Length: 0\r\n\r\n")),
            DONE);
  CHECK_NEAR(soget_http1_retry_after(&h), 12, 0.001);
  soget_http1_free(&h);
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, BYTES("HTTP/1.1 503 x\r\nContent-Length: 0\r\n\r\n")), DONE);
  CHECK_NEAR(soget_http1_retry_after(&h), -1, 0);
  soget_http1_free(&h);

  CASE("WWW-Authenticate: every line kept, joined with \", \" (each trimmed)");
  {
    static const char resp[] = "HTTP/1.1 401 x\r\nWWW-Authenticate: Basic realm=\"x\"  \r\n"
                               "Content-Length: 0\r\nwww-authenticate:  Bearer realm=\"y\", "
                               "error=\"invalid_token\"\r\n\r\n";
    static const char want[] = "Basic realm=\"x\", Bearer realm=\"y\", error=\"invalid_token\"";
    soget_http1_init(&h, 1000);
    CHECK_INT(soget_http1_feed(&h, resp, sizeof resp - 1), DONE);
    CHECK_STR(h.www_authenticate.data ? h.www_authenticate.data : "", want);
    CHECK_INT(soget_bearer_invalid_token(h.www_authenticate.data, h.www_authenticate.len), 1);
    soget_http1_free(&h);
    CASE("WWW-Authenticate: the same, fed a byte at a time");
    soget_http1_init(&h, 1000);
    for (i = 0; i + 1 < sizeof resp - 1; i++) CHECK_INT(soget_http1_feed(&h, resp + i, 1), MORE);
    CHECK_INT(soget_http1_feed(&h, resp + i, 1), DONE);
    CHECK_STR(h.www_authenticate.data ? h.www_authenticate.data : "", want);
    soget_http1_free(&h);
  }
  CASE("WWW-Authenticate: an interim answer's and a trailer's are not the response's");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, BYTES("HTTP/1.1 100 Continue\r\nWWW-Authenticate: Bearer "
                                       "error=\"invalid_token\"\r\n\r\nHTTP/1.1 401 x\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n0\r\n"
                                       "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n\r\n")),
            DONE);
  CHECK_INT(h.status, 401);
  CHECK_INT((int)h.www_authenticate.len, 0);
  soget_http1_free(&h);
  CASE("WWW-Authenticate: longer than SOGET_HTTP1_WWW_AUTHENTICATE_MAX in all: none");
  n = (size_t)snprintf(big, sizeof big, "HTTP/1.1 401 x\r\nWWW-Authenticate: Bearer realm=\"");
  memset(big + n, 'r', SOGET_HTTP1_WWW_AUTHENTICATE_MAX - 20);
  n += SOGET_HTTP1_WWW_AUTHENTICATE_MAX - 20;
  n += (size_t)snprintf(big + n, sizeof big - n,
                        "\"\r\nWWW-Authenticate: Bearer error=\"invalid_token\"\r\n"
                        "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"
                        "Content-Length: 0\r\n\r\n");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, big, n), DONE);
  CHECK_INT((int)h.www_authenticate.len, 0);
  soget_http1_free(&h);
  CASE("WWW-Authenticate: one line longer than the limit: none, and none after it");
  n = (size_t)snprintf(big, sizeof big, "HTTP/1.1 401 x\r\nWWW-Authenticate: Bearer realm=\"");
  memset(big + n, 'r', SOGET_HTTP1_WWW_AUTHENTICATE_MAX);
  n += SOGET_HTTP1_WWW_AUTHENTICATE_MAX;
  n += (size_t)snprintf(big + n, sizeof big - n,
                        "\"\r\nWWW-Authenticate: Bearer error=\"invalid_token\"\r\n"
                        "Content-Length: 0\r\n\r\n");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, big, n), DONE);
  CHECK_INT((int)h.www_authenticate.len, 0);
  soget_http1_free(&h);
  CASE("WWW-Authenticate: absent");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, BYTES("HTTP/1.1 401 x\r\nContent-Length: 0\r\n\r\n")), DONE);
  CHECK_INT((int)h.www_authenticate.len, 0);
  soget_http1_free(&h);

  CASE("too many interim answers");
  n = 0;
  for (i = 0; i < SOGET_HTTP1_INTERIM_MAX + 1; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "HTTP/1.1 100 Continue\r\n\r\n");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, big, n), BAD);
  CHECK(strstr(h.err.message, "interim") != NULL);
  soget_http1_free(&h);

  CASE("feeding after the end changes nothing but keep-alive");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, BYTES(OK200 "Content-Length: 1\r\n\r\nx")), DONE);
  CHECK_INT(h.keep_alive, 1);
  CHECK_INT(soget_http1_feed(&h, BYTES("HTTP/1.1 200 OK\r\n")), DONE);
  CHECK_INT(h.keep_alive, 0);
  CHECK_INT(soget_http1_eof(&h), DONE);
  CHECK_MEM(h.body.data, h.body.len, "x", 1);
  soget_http1_free(&h);

  CASE("framing without a body is bounded too");
  soget_http1_init(&h, 10);
  CHECK_INT(soget_http1_feed(&h, BYTES(OK200 "Transfer-Encoding: chunked\r\n\r\n")), MORE);
  for (i = 0, n = MORE; i < 2000000 && n == MORE; i++)
    n = (size_t)soget_http1_feed(&h, BYTES("0;ext=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
  CHECK_INT(n, BAD);
  CHECK_STR(h.err.kind, "http");
  CHECK(i < 2000000);
  CHECK(h.received <= (1u << 20) + 100000);
  soget_http1_free(&h);

  CASE("a body over the cap that is also not valid fails the same way in any pieces");
  {
    static const size_t steps[] = {0, 1, 7, 4096, 4097};
    n = (size_t)snprintf(big, sizeof big, OK200 "Content-Encoding: x-gzip\r\nConnection: close\r\n\r\n");
    for (i = 0; i < 6000; i++) big[n++] = 'x';
    for (i = 0; i < COUNT(steps); i++) {
      SUBCASE("pieces of %zu", steps[i]);
      soget_http1_init(&h, 64);
      CHECK_INT(feed_pieces(&h, big, n, steps[i]), BAD);
      CHECK_STR(h.err.kind, "network");
      CHECK_STR(h.err.message, "the compressed response body is not valid");
      soget_http1_free(&h);
    }
  }

  CASE("bytes past all a response may take: what comes before them is read first");
  {
    static char huge[1200000];
    size_t head = (size_t)snprintf(huge, sizeof huge, OK200 "Content-Length: 1\r\n\r\nx");
    memset(huge + head, 'y', sizeof huge - head);   /* more than framing may take for 10 bytes */
    soget_http1_init(&h, 10);
    CHECK_INT(soget_http1_feed(&h, huge, sizeof huge), DONE);   /* what follows is another's */
    CHECK_MEM(h.body.data, h.body.len, "x", 1);
    CHECK_INT(h.keep_alive, 0);
    soget_http1_free(&h);
    huge[0] = 'X';   /* not a response: said so, not "too large" */
    soget_http1_init(&h, 10);
    CHECK_INT(soget_http1_feed(&h, huge, sizeof huge), BAD);
    CHECK_STR(h.err.kind, "network");
    CHECK(strstr(h.err.message, "not a valid HTTP/1.1 response") != NULL);
    soget_http1_free(&h);
    n = (size_t)snprintf(huge, sizeof huge, OK200 "Connection: close\r\n\r\n");   /* a body to the end */
    soget_http1_init(&h, 10);
    CHECK_INT(soget_http1_feed(&h, huge, sizeof huge), BAD);
    CHECK_STR(h.err.kind, "http");
    CHECK_STR(h.err.message, "response body is larger than max_response_size (10 bytes)");
    soget_http1_free(&h);
  }

  CASE("a bad response stays bad");
  soget_http1_init(&h, 1000);
  CHECK_INT(soget_http1_feed(&h, BYTES("nope\r\n")), BAD);
  CHECK_INT(soget_http1_feed(&h, BYTES(OK200 "Content-Length: 0\r\n\r\n")), BAD);
  CHECK_INT(soget_http1_eof(&h), BAD);
  soget_http1_free(&h);
}

int main(void) {
  test_requests();
  test_request_cache();
  test_call_requests();
  test_responses();
  test_compressed();
  test_coding_wipes();
  test_limits();
  return CHECK_DONE();
}
