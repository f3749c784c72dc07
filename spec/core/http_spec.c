/* src/core/http.c: origins compared, Location resolved, URLs checked and
 * Retry-After parsed (libcurl's URL parser and curl_getdate, no I/O). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/http.h"

static const struct {
  const char *a, *b;
  int same;
} origins[] = {
  {"https://api.test/v1", "https://api.test/other?x=1#f", 1},
  {"https://api.test", "https://api.test:443/", 1},
  {"http://api.test/", "http://api.test:80/x", 1},
  {"https://api.test:8443/a", "https://api.test:8443/b", 1},
  {"https://API.Test/a", "https://api.test/b", 1},
  {"HTTPS://api.test", "https://api.test", 1},
  {"https://user:pw@api.test/", "https://api.test/", 1},
  {"https://127.0.0.1:8443/", "https://127.0.0.1:8443/v1", 1},
  {"https://[::1]/", "https://[::1]:443/", 1},
  {"http://api.test/", "https://api.test/", 0},
  {"https://api.test:443/", "http://api.test:443/", 0},
  {"https://api.test/", "https://api.test:8443/", 0},
  {"https://api.test/", "https://evil.test/", 0},
  {"https://api.test/", "https://api.test.evil.test/", 0},
  {"https://api.test/", "https://evil.test/api.test", 0},
  {"https://api.test/", "https://api.test@evil.test/", 0},
  {"https://127.0.0.1/", "https://127.0.0.2/", 0},
  {"https://api.test/", "/relative", 0},
  {"not a url", "not a url", 0},
  {"", "", 0},
  {"https://api.test/", "https://", 0},
  {"https://api.test/", "https://api.test:99999/", 0},
};

/* RFC 3986 5.4's examples against its base (libcurl 7.88 resolves two
 * others, "#s" and "", against the base's directory, not the base: left
 * out), then Location headers as a server sends them. */
#define RFC_BASE "http://a/b/c/d;p?q"
static const struct {
  const char *name, *base, *ref;
  const char *want;   /* NULL: cannot be resolved (-1) */
} resolves[] = {
  {"relative name", RFC_BASE, "g", "http://a/b/c/g"},
  {"./name", RFC_BASE, "./g", "http://a/b/c/g"},
  {"name/", RFC_BASE, "g/", "http://a/b/c/g/"},
  {"path-absolute", RFC_BASE, "/g", "http://a/g"},
  {"network-path", RFC_BASE, "//g", "http://g/"},
  {"query only", RFC_BASE, "?y", "http://a/b/c/d;p?y"},
  {"name and query", RFC_BASE, "g?y", "http://a/b/c/g?y"},
  {"name and fragment", RFC_BASE, "g#s", "http://a/b/c/g#s"},
  {"params", RFC_BASE, "g;x?y#s", "http://a/b/c/g;x?y#s"},
  {"dot", RFC_BASE, ".", "http://a/b/c/"},
  {"dot-dot", RFC_BASE, "..", "http://a/b/"},
  {"../name", RFC_BASE, "../g", "http://a/b/g"},
  {"../..", RFC_BASE, "../..", "http://a/"},
  {"above the root", RFC_BASE, "../../../g", "http://a/g"},
  {"/./name", RFC_BASE, "/./g", "http://a/g"},
  {"/../name", RFC_BASE, "/../g", "http://a/g"},
  {"name..", RFC_BASE, "g..", "http://a/b/c/g.."},
  {"dot segments inside", RFC_BASE, "g/../h", "http://a/b/c/h"},
  {"dots in the query stay", RFC_BASE, "g?y/../x", "http://a/b/c/g?y/../x"},
  {"absolute, other origin", "https://api.test/v1/x", "https://evil.test/y", "https://evil.test/y"},
  {"absolute, other scheme", "https://api.test/v1/x", "http://api.test/y", "http://api.test/y"},
  {"absolute with a port", "https://api.test/v1/x", "http://[::1]:8080/z", "http://[::1]:8080/z"},
  {"path-absolute keeps the origin", "https://api.test:8443/v1/x?q=1", "/v2/y", "https://api.test:8443/v2/y"},
  {"relative keeps the directory", "https://api.test/v1/handling-units?reference=A", "page2?offset=5",
   "https://api.test/v1/page2?offset=5"},
  {"a space is encoded", "https://api.test/v1/x", "a b", "https://api.test/v1/a%20b"},
  {"UTF-8 is encoded", "https://api.test/v1/x", "\xc3\xa9", "https://api.test/v1/%c3%a9"},
  {"CR refused", "https://api.test/v1/x", "/a\rb", NULL},
  {"LF refused", "https://api.test/v1/x", "/a\nSet-Cookie: x=1", NULL},
  {"CRLF at the end refused", "https://api.test/v1/x", "https://evil.test/\r\n", NULL},
  {"tab refused", "https://api.test/v1/x", "/a\tb", NULL},
  {"SOH refused", "https://api.test/v1/x", "\x01", NULL},
  {"ESC refused", "https://api.test/v1/x", "/\x1b[2J", NULL},
  {"DEL refused", "https://api.test/v1/x", "/a\x7f", NULL},
  {"a scheme libcurl does not speak", "https://api.test/v1/x", "javascript:alert(1)", NULL},
  {"a relative base", "v1/x", "y", NULL},
  {"an empty base", "", "https://api.test/", NULL},
};

static const struct {
  const char *s;
  int valid;
} valids[] = {
  {"https://api.test", 1},
  {"https://api.test/v1?x=1", 1},
  {"http://127.0.0.1:8443/", 1},
  {"http://[::1]/", 1},
  {"https://", 0},
  {"api.test/v1", 0},
  {"/v1/handling-units", 0},
  {"", 0},
  {"https://api test/", 0},
  {"https://api.test:99999/", 0},
  {"file:///etc/passwd", 0},
  {"mailto:x@api.test", 0},
  {"javascript:alert(1)", 0},
  /* libcurl reads these with a host of x: none is given */
  {"https:///x", 0},
  {"https:////x/v1", 0},
  {"https://?x", 0},
  {"https://#x", 0},
  {"https:/x", 0},
  {"https:x", 0},
  {"https:\\\\x/v1", 0},
  {"HTTPS://api.test/v1", 1},
};

/* want: -1 bad, else seconds */
static const struct {
  const char *name;
  const char *v; size_t n;
  double want;
} afters[] = {
  {"seconds", BYTES("120"), 120},
  {"zero", BYTES("0"), 0},
  {"one", BYTES("1"), 1},
  {"a day, the cap", BYTES("86400"), 86400},
  {"more than a day is capped", BYTES("86401"), SOGET_RETRY_AFTER_CAP},
  {"past long's range is capped", BYTES("99999999999999999999999"), SOGET_RETRY_AFTER_CAP},
  /* no delay-seconds (RFC 9110, 10.2.3: digits only): ignored, so the
   * retry waits its backoff instead of none */
  {"negative: ignored", BYTES("-5"), -1},
  {"negative zero: ignored", BYTES("-0"), -1},
  {"negative past long's range: ignored", BYTES("-99999999999999999999999"), -1},
  {"a plus sign: ignored", BYTES("+5"), -1},
  {"a NUL in it (call:response takes any bytes): ignored", BYTES("1\0junk"), -1},
  {"a NUL in a date: ignored", BYTES("Wed, 21 Oct 2015 07:28:00 GMT\0x"), -1},
  {"a sign after white space: ignored", BYTES(" +5"), -1},
  {"a sign after a tab: ignored", BYTES("\t-7"), -1},
  {"white space before digits: read", BYTES(" 5"), 5},
  {"the length given ends it", "1234", 2, 12},
  {"a date long past", BYTES("Wed, 21 Oct 2015 07:28:00 GMT"), 0},
  {"a past date, RFC 850 form", BYTES("Sunday, 06-Nov-94 08:49:37 GMT"), 0},
  {"a past date, asctime form", BYTES("Sun Nov  6 08:49:37 1994"), 0},
  {"a date far ahead is capped", BYTES("Fri, 31 Dec 2100 23:59:59 GMT"), SOGET_RETRY_AFTER_CAP},
  {"empty", BYTES(""), -1},
  {"garbage", BYTES("soon"), -1},
  {"words", BYTES("abc def"), -1},
  {"a fraction", BYTES("1.5"), -1},
  {"digits then garbage", BYTES("120abc"), -1},
  {"seconds with a unit", BYTES("5 seconds"), -1},
  {"hexadecimal", BYTES("0x10"), -1},
  {"exponent", BYTES("1e3"), -1},
  {"a time alone", BYTES("12:00"), -1},
  {"a weekday alone", BYTES("Mon"), -1},
  /* not here: a NUL inside ("12\0" "3", n = 4) gives 12 today, the bytes
   * after the NUL unread, where the header comment says -1 if bad */
  {"64 bytes or more", BYTES("1234567890123456789012345678901234567890123456789012345678901234"), -1},
};

static void test_origins(void) {
  size_t i;
  for (i = 0; i < COUNT(origins); i++) {
    CASE("same_origin: %s | %s", origins[i].a, origins[i].b);
    CHECK_INT(soget_same_origin(origins[i].a, origins[i].b), origins[i].same);
    CHECK_INT(soget_same_origin(origins[i].b, origins[i].a), origins[i].same);
  }
}

static void test_resolves(void) {
  size_t i;
  for (i = 0; i < COUNT(resolves); i++) {
    soget_buf b;
    CASE("url_resolve: %s", resolves[i].name);
    soget_buf_init(&b, 0);
    soget_buf_adds(&b, "untouched");
    CHECK_INT(soget_url_resolve(&b, resolves[i].base, resolves[i].ref),
              resolves[i].want ? 0 : -1);
    /* the result replaces what the buffer held; a failure leaves it */
    CHECK_STR(b.data, resolves[i].want ? resolves[i].want : "untouched");
    soget_buf_free(&b);
  }
}

static void test_valids(void) {
  size_t i;
  for (i = 0; i < COUNT(valids); i++) {
    CASE("url_valid: %s", valids[i].s);
    CHECK_INT(soget_url_valid(valids[i].s), valids[i].valid);
  }
}

static void test_afters(void) {
  size_t i;
  for (i = 0; i < COUNT(afters); i++) {
    CASE("retry_after: %s", afters[i].name);
    CHECK_NEAR(soget_parse_retry_after(afters[i].v, afters[i].n), afters[i].want, 0);
  }
}

/* HTTP-dates relative to now, written as a server would (IMF-fixdate). */
static const struct {
  const char *name;
  long ahead;
  double want;
} dates[] = {
  {"in two minutes", 120, 120},
  {"in an hour", 3600, 3600},
  {"two minutes ago", -120, 0},
  {"in two days: capped", 2 * 86400, SOGET_RETRY_AFTER_CAP},
};

static void test_dates(void) {
  size_t i;
  for (i = 0; i < COUNT(dates); i++) {
    char v[64];
    time_t when = time(NULL) + dates[i].ahead;
    size_t n = strftime(v, sizeof v, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&when));
    CASE("retry_after: a date %s (%s)", dates[i].name, v);
    CHECK(n > 0);
    CHECK_NEAR(soget_parse_retry_after(v, n), dates[i].want, 2);
  }
}

/* WWW-Authenticate values: is the bearer token said to be invalid? */
static const struct {
  const char *name, *v;
  int want;
} challenges[] = {
  {"RFC 6750's example", "Bearer realm=\"example\", error=\"invalid_token\", "
                         "error_description=\"The access token expired\"", 1},
  {"the error alone", "Bearer error=\"invalid_token\"", 1},
  {"the error as a token", "Bearer error=invalid_token", 1},
  {"any case in the scheme, the name and the value", "bEARER ERROR=\"Invalid_Token\"", 1},
  {"white space around =", "Bearer realm=\"x\" , error = \"invalid_token\"", 1},
  {"a quoted-pair in the value", "Bearer error=\"invalid\\_token\"", 1},
  {"after another challenge", "Basic realm=\"x\", Bearer error=\"invalid_token\"", 1},
  {"after another scheme's token68", "Negotiate YWJj, Bearer error=\"invalid_token\"", 1},
  {"after a token68 with padding", "Negotiate YWJjZA==, Bearer error=\"invalid_token\"", 1},
  {"two lines joined", "Basic realm=\"x\", Bearer realm=\"y\", error=\"invalid_token\"", 1},
  {"no error: no token sent", "Bearer realm=\"example\"", 0},
  {"another error", "Bearer error=\"insufficient_scope\", scope=\"x\"", 0},
  {"invalid_request", "Bearer error=\"invalid_request\"", 0},
  {"a longer value", "Bearer error=\"invalid_token_x\"", 0},
  {"a shorter value", "Bearer error=\"invalid_toke\"", 0},
  {"the error of another scheme", "Basic error=\"invalid_token\"", 0},
  {"the Bearer challenge after another scheme's error",
   "Basic error=\"invalid_token\", Bearer realm=\"x\"", 0},
  {"invalid_token in a description", "Bearer error_description=\"error=invalid_token\"", 0},
  {"invalid_token as a realm", "Bearer realm=\"invalid_token\"", 0},
  {"a scheme named like the param", "error=\"invalid_token\"", 0},
  {"APIM's subscription-key challenge",
   "AzureApiManagementKey realm=\"https://x.azure-api.net/v1\", "
   "name=\"Ocp-Apim-Subscription-Key\", type=\"header\"", 0},
  {"an unterminated quote", "Bearer error=\"invalid_token", 0},
  {"a quoted-pair at the end", "Bearer error=\"invalid_token\\", 0},
  {"not a challenge list", "\"Bearer\" error=\"invalid_token\"", 0},
  {"an empty value", "", 0},
  {"commas only", " , ,", 0},
  {"a name with no value", "Bearer error=", 0},
};

static void test_challenges(void) {
  size_t i;
  for (i = 0; i < COUNT(challenges); i++) {
    const char *v = challenges[i].v;
    size_t n = strlen(v);
    char *copy = malloc(n ? n : 1);   /* (read v[0..n) only: the sanitizers see past it) */
    CASE("bearer_invalid_token: %s", challenges[i].name);
    memcpy(copy, v, n);
    CHECK_INT(soget_bearer_invalid_token(copy, n), challenges[i].want);
    free(copy);
  }
  CASE("bearer_invalid_token: reads no further than n");
  CHECK_INT(soget_bearer_invalid_token("Bearer error=\"invalid_token\"", 26), 0);
  CHECK_INT(soget_bearer_invalid_token("Bearer error=invalid_tokenX", 26), 1);
}

int main(void) {
  test_origins();
  test_resolves();
  test_valids();
  test_afters();
  test_dates();
  test_challenges();
  return CHECK_DONE();
}
