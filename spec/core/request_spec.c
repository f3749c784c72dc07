/* src/core/request.c: the request URL and the token form byte for byte,
 * percent-encoding, and the checks of header and query values. */
#include <stdlib.h>

#include "check.h"
#include "core/request.h"

#define NONE NULL, 0

static const struct {
  const char *name, *base;
  const char *ref; size_t ref_len;   /* NULL: not sent */
  const char *spi; size_t spi_len;
  int desc, limit;
  long offset;
  const char *want;
} urls[] = {
  {"reference only", "https://api.test/v1", BYTES("CGMU2436601"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=CGMU2436601"},
  {"spi only", "https://api.test/v1", NONE, BYTES("7654321098765"), -1, 0, -1,
   "https://api.test/v1/handling-units?spi=7654321098765"},
  {"reference and spi", "https://api.test/v1", BYTES("CGMU"), BYTES("123"), -1, 0, -1,
   "https://api.test/v1/handling-units?reference=CGMU&spi=123"},
  {"nothing at all", "https://api.test/v1", NONE, NONE, -1, 0, -1,
   "https://api.test/v1/handling-units"},
  {"desc 0", "https://api.test/v1", BYTES("CGMU"), NONE, 0, 0, -1,
   "https://api.test/v1/handling-units?reference=CGMU&desc=false"},
  {"desc 1", "https://api.test/v1", BYTES("CGMU"), NONE, 1, 0, -1,
   "https://api.test/v1/handling-units?reference=CGMU&desc=true"},
  {"desc alone is the first parameter", "https://api.test/v1", NONE, NONE, 1, 0, -1,
   "https://api.test/v1/handling-units?desc=true"},
  {"limit 1", "https://api.test/v1", BYTES("CGMU"), NONE, -1, 1, -1,
   "https://api.test/v1/handling-units?reference=CGMU&limit=1"},
  {"limit 10", "https://api.test/v1", BYTES("CGMU"), NONE, -1, 10, -1,
   "https://api.test/v1/handling-units?reference=CGMU&limit=10"},
  {"offset 0 is sent", "https://api.test/v1", BYTES("CGMU"), NONE, -1, 0, 0,
   "https://api.test/v1/handling-units?reference=CGMU&offset=0"},
  {"offset int32 max", "https://api.test/v1", BYTES("CGMU"), NONE, -1, 0, SOGET_OFFSET_MAX,
   "https://api.test/v1/handling-units?reference=CGMU&offset=2147483647"},
  {"everything, in the API's order", "https://api.test/v1", BYTES("CGMU"), BYTES("42"), 1, 5, 20,
   "https://api.test/v1/handling-units?reference=CGMU&spi=42&desc=true&limit=5&offset=20"},
  {"space", "https://api.test/v1", BYTES("CGMU 243"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=CGMU%20243"},
  {"plus", "https://api.test/v1", BYTES("A+B"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=A%2BB"},
  {"slash", "https://api.test/v1", BYTES("A/B"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=A%2FB"},
  {"query syntax cannot inject a parameter", "https://api.test/v1", BYTES("A&spi=1#x?y%"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=A%26spi%3D1%23x%3Fy%25"},
  {"unreserved characters stay", "https://api.test/v1", BYTES("Az09-._~"), BYTES("~"), -1, 0, -1,
   "https://api.test/v1/handling-units?reference=Az09-._~&spi=~"},
  {"UTF-8, two bytes", "https://api.test/v1", BYTES("caf\xc3\xa9"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=caf%C3%A9"},
  {"UTF-8, three and four bytes", "https://api.test/v1", BYTES("\xe6\x97\xa5\xf0\x9f\x98\x80"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=%E6%97%A5%F0%9F%98%80"},
  {"the length given, not the NUL, ends a value", "https://api.test/v1", "CGMU2436601", 4, "123456", 2, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=CGMU&spi=12"},
  {"a NUL inside is encoded (refused earlier by the check)", "https://api.test/v1", BYTES("A\0B"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=A%00B"},
  {"an empty value is left out", "https://api.test/v1", BYTES(""), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units"},
  {"an empty reference beside an spi", "https://api.test/v1", BYTES(""), BYTES("CNI0000063978"),
   -1, 0, -1, "https://api.test/v1/handling-units?spi=CNI0000063978"},
  {"an empty spi beside a reference", "https://api.test/v1", BYTES("CGMU"), BYTES(""), -1, 5, 0,
   "https://api.test/v1/handling-units?reference=CGMU&limit=5&offset=0"},
  {"trailing slash on base", "https://api.test/v1/", BYTES("CGMU"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=CGMU"},
  {"several trailing slashes", "https://api.test/v1///", BYTES("CGMU"), NONE, -1, 0, -1,
   "https://api.test/v1/handling-units?reference=CGMU"},
  {"base without a path", "http://127.0.0.1:8443", BYTES("CGMU"), NONE, -1, 0, -1,
   "http://127.0.0.1:8443/handling-units?reference=CGMU"},
};

static const struct {
  const char *name, *id, *secret, *want;
} forms[] = {
  {"plain", "client", "s3cret",
   "grant_type=client_credentials&client_id=client&client_secret=s3cret"},
  {"form syntax is encoded", "my id+1", "a&b=c%d",
   "grant_type=client_credentials&client_id=my%20id%2B1&client_secret=a%26b%3Dc%25d"},
  {"slash, colon, UTF-8", "id/x:y", "\xc3\xa9t\xc3\xa9",
   "grant_type=client_credentials&client_id=id%2Fx%3Ay&client_secret=%C3%A9t%C3%A9"},
  {"unreserved stay", "A-z.0_9~", "~-._",
   "grant_type=client_credentials&client_id=A-z.0_9~&client_secret=~-._"},
  {"control characters and DEL", "a\r\nb", "\t\x7f",
   "grant_type=client_credentials&client_id=a%0D%0Ab&client_secret=%09%7F"},
  {"empty", "", "", "grant_type=client_credentials&client_id=&client_secret="},
};

static const struct {
  const char *name;
  const char *s; size_t n;
  const char *want;
} encodes[] = {
  {"empty", BYTES(""), ""},
  {"unreserved", BYTES("ABCXYZabcxyz0189-._~"), "ABCXYZabcxyz0189-._~"},
  {"reserved (gen-delims)", BYTES(":/?#[]@"), "%3A%2F%3F%23%5B%5D%40"},
  {"reserved (sub-delims)", BYTES("!$&'()*+,;="), "%21%24%26%27%28%29%2A%2B%2C%3B%3D"},
  {"space is %20, never +", BYTES("a b"), "a%20b"},
  {"percent", BYTES("100%"), "100%25"},
  {"NUL", BYTES("\0"), "%00"},
  {"controls and DEL", BYTES("\x01\x1f\x7f"), "%01%1F%7F"},
  {"high bytes, upper-case hex", BYTES("\x80\xab\xff"), "%80%AB%FF"},
  {"UTF-8", BYTES("\xc3\xa9\xe2\x82\xac"), "%C3%A9%E2%82%AC"},
  {"quote and backslash", BYTES("\"\\`"), "%22%5C%60"},
};

static const struct {
  const char *name;
  const char *s; size_t n;
  const char *header;   /* soget_header_value_problem, NULL: may be sent */
  const char *query;    /* soget_query_value_problem */
} values[] = {
  {"token", BYTES("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"), NULL, NULL},
  {"inner space", BYTES("a b"), NULL, NULL},
  {"inner tab", BYTES("a\tb"), NULL, "contains a control character"},
  {"empty", BYTES(""), "is empty", NULL},
  {"CR", BYTES("a\rb"), "contains a line break", "contains a line break"},
  {"LF", BYTES("a\nb"), "contains a line break", "contains a line break"},
  {"CRLF and a header", BYTES("k\r\nX-Evil: 1"), "contains a line break", "contains a line break"},
  {"NUL", BYTES("a\0b"), "contains a NUL byte", "contains a NUL byte"},
  {"NUL first", BYTES("\0"), "contains a NUL byte", "contains a NUL byte"},
  {"SOH", BYTES("a\x01"), "contains a control character", "contains a control character"},
  {"ESC", BYTES("\x1b[2J"), "contains a control character", "contains a control character"},
  {"US", BYTES("a\x1f" "b"), "contains a control character", "contains a control character"},
  {"DEL", BYTES("a\x7f" "b"), "contains a control character", "contains a control character"},
  {"leading space", BYTES(" ab"), "has leading or trailing white space", NULL},
  {"trailing space", BYTES("ab "), "has leading or trailing white space", NULL},
  {"leading tab", BYTES("\tab"), "has leading or trailing white space", "contains a control character"},
  {"trailing tab", BYTES("ab\t"), "has leading or trailing white space", "contains a control character"},
  {"UTF-8 (checked elsewhere for queries)", BYTES("caf\xc3\xa9"), NULL, NULL},
  {"C1 CSI (U+009B, as ESC [)", BYTES("a\xc2\x9b" "31m"), NULL, "contains a control character"},
  {"C1 NEL (U+0085)", BYTES("BL\xc2\x85" "1"), NULL, "contains a control character"},
  {"C1's first and last", BYTES("\xc2\x80\xc2\x9f"), NULL, "contains a control character"},
  {"U+00A0 is no control character", BYTES("a\xc2\xa0" "b"), NULL, NULL},
  {"query syntax", BYTES("&=?#%+/"), NULL, NULL},
};

static void test_urls(void) {
  size_t i;
  for (i = 0; i < COUNT(urls); i++) {
    soget_query q;
    soget_buf b;
    CASE("url: %s", urls[i].name);
    soget_query_init(&q, &soget_lookup_endpoint);
    if (urls[i].ref) soget_query_set(&q, SOGET_LOOKUP_REFERENCE, urls[i].ref, urls[i].ref_len);
    if (urls[i].spi) soget_query_set(&q, SOGET_LOOKUP_SPI, urls[i].spi, urls[i].spi_len);
    q.desc = urls[i].desc; q.limit = urls[i].limit; q.offset = urls[i].offset;
    soget_buf_init(&b, 0);
    CHECK_INT(soget_request_url(&b, urls[i].base, &q), 0);
    CHECK_STR(b.data, urls[i].want);
    CHECK_INT(b.len, strlen(urls[i].want));
    soget_buf_free(&b);
  }
}

/* The search endpoint: its own path and parameter names, in its order,
 * whatever order they were set in; desc, limit and offset after them. */
static const struct {
  const char *name;
  const char *v[SOGET_QUERY_TEXTS];
  int desc, limit;
  long offset;
  const char *want;
} searches[] = {
  {"a document reference", {"3714238101"}, -1, 0, -1,
   "https://x.test/in-mass/v1/handling-units/search?documentReference=3714238101"},
  {"every parameter", {"BL 1/2", "VAG+1", "S1-ID", "Transhipment", "CMA"}, 1, 10, 20,
   "https://x.test/in-mass/v1/handling-units/search?documentReference=BL%201%2F2"
   "&voyageAgentReference=VAG%2B1&voyageAgentId=S1-ID&customsFlag=Transhipment"
   "&freightAgent=CMA&desc=true&limit=10&offset=20"},
  {"empty values left out", {"", "OWL-RDM-2305", "", NULL, ""}, -1, 0, -1,
   "https://x.test/in-mass/v1/handling-units/search?voyageAgentReference=OWL-RDM-2305"},
  {"a voyage and a customs flag", {NULL, "OWL-RDM-2305", NULL, "Import"}, -1, 0, 0,
   "https://x.test/in-mass/v1/handling-units/search?voyageAgentReference=OWL-RDM-2305"
   "&customsFlag=Import&offset=0"},
};

static void test_search_urls(void) {
  size_t i;
  int j;
  for (i = 0; i < COUNT(searches); i++) {
    soget_query q;
    soget_buf b;
    CASE("search url: %s", searches[i].name);
    soget_query_init(&q, &soget_search_endpoint);
    for (j = SOGET_QUERY_TEXTS - 1; j >= 0; j--)
      if (searches[i].v[j]) soget_query_set(&q, j, searches[i].v[j], strlen(searches[i].v[j]));
    q.desc = searches[i].desc; q.limit = searches[i].limit; q.offset = searches[i].offset;
    soget_buf_init(&b, 0);
    CHECK_INT(soget_request_url(&b, "https://x.test/in-mass/v1/", &q), 0);
    CHECK_STR(b.data, searches[i].want);
    soget_buf_free(&b);
  }
  CASE("search: a text index the endpoint does not have is ignored");
  {
    soget_query q;
    soget_query_init(&q, &soget_lookup_endpoint);
    soget_query_set(&q, SOGET_SEARCH_CUSTOMS_FLAG, "Import", 6);
    CHECK(q.text[SOGET_SEARCH_CUSTOMS_FLAG] == NULL);
  }
}

static void test_query_init(void) {
  soget_query q;
  CASE("query_init: nothing is sent");
  memset(&q, 0x55, sizeof q);
  soget_query_init(&q, &soget_search_endpoint);
  CHECK(q.ep == &soget_search_endpoint);
  CHECK(q.text[0] == NULL && q.text[1] == NULL && q.text[4] == NULL);
  CHECK_INT(q.desc, -1);
  CHECK_INT(q.limit, 0);
  CHECK_INT(q.offset, -1);
}

static void test_url_too_big(void) {
  soget_query q;
  soget_buf b;
  CASE("url: a buffer that cannot hold it gives -1");
  soget_query_init(&q, &soget_lookup_endpoint);
  soget_query_set(&q, SOGET_LOOKUP_REFERENCE, "CGMU2436601", 11);
  soget_buf_init(&b, 16);
  CHECK_INT(soget_request_url(&b, "https://api.test/v1", &q), -1);
  soget_buf_free(&b);
}

/* The URL cache gives what soget_request_url builds, whatever came
 * before it: each table above, in order, then backwards, every query
 * twice; lookups and searches interleaved, on two bases. */
static void set_lookup(soget_query *q, size_t i) {
  soget_query_init(q, &soget_lookup_endpoint);
  if (urls[i].ref) soget_query_set(q, SOGET_LOOKUP_REFERENCE, urls[i].ref, urls[i].ref_len);
  if (urls[i].spi) soget_query_set(q, SOGET_LOOKUP_SPI, urls[i].spi, urls[i].spi_len);
  q->desc = urls[i].desc; q->limit = urls[i].limit; q->offset = urls[i].offset;
}

static void set_search(soget_query *q, size_t i) {
  int j;
  soget_query_init(q, &soget_search_endpoint);
  for (j = 0; j < SOGET_QUERY_TEXTS; j++)
    if (searches[i].v[j]) soget_query_set(q, j, searches[i].v[j], strlen(searches[i].v[j]));
  q->desc = searches[i].desc; q->limit = searches[i].limit; q->offset = searches[i].offset;
}

static void check_cached(soget_url_cache *c, const char *base, const soget_query *q) {
  soget_buf want;
  size_t n = 0;
  const char *got = soget_url_cached(c, base, q, &n);
  soget_buf_init(&want, 0);
  CHECK_INT(soget_request_url(&want, base, q), 0);
  CHECK_MEM(got, got ? n : 0, want.data, want.len);
  CHECK(got && got[n] == '\0');
  soget_buf_free(&want);
}

static void test_url_cache(void) {
  static const char lookup_base[] = "https://api.test/v1", search_base[] = "https://x.test/in-mass/v1/";
  soget_url_cache c;
  soget_query q;
  size_t i, k, n;
  soget_url_cache_init(&c);
  CASE("url cache: every lookup, forwards and backwards, twice each");
  for (k = 0; k < 2 * COUNT(urls); k++) {
    i = k < COUNT(urls) ? k : 2 * COUNT(urls) - 1 - k;
    SUBCASE("url cache: %s", urls[i].name);
    set_lookup(&q, i);
    check_cached(&c, lookup_base, &q);
    check_cached(&c, lookup_base, &q);
  }
  CASE("url cache: lookups and searches in turn");
  for (k = 0; k < COUNT(urls); k++) {
    SUBCASE("url cache: %s, then a search", urls[k].name);
    set_lookup(&q, k);
    check_cached(&c, lookup_base, &q);
    set_search(&q, k % COUNT(searches));
    check_cached(&c, search_base, &q);
    check_cached(&c, search_base, &q);
  }
  CASE("url cache: the same query on another base");
  set_lookup(&q, 0);
  check_cached(&c, lookup_base, &q);
  check_cached(&c, search_base, &q);
  CASE("url cache: a repeated query is not encoded again");
  set_lookup(&q, 0);
  check_cached(&c, lookup_base, &q);
  c.url.data[c.url.len - 1] = '#';   /* what a rebuild would overwrite */
  CHECK(soget_url_cached(&c, lookup_base, &q, &n) == c.url.data);
  CHECK(c.url.data[n - 1] == '#');
  CASE("url cache: values are compared by their bytes, not their address");
  {
    char ref[] = "AAAA";
    soget_query_init(&q, &soget_lookup_endpoint);
    soget_query_set(&q, SOGET_LOOKUP_REFERENCE, ref, 4);
    CHECK_STR(soget_url_cached(&c, lookup_base, &q, &n),
              "https://api.test/v1/handling-units?reference=AAAA");
    memcpy(ref, "BBBB", 4);
    CHECK_STR(soget_url_cached(&c, lookup_base, &q, &n),
              "https://api.test/v1/handling-units?reference=BBBB");
    soget_query_set(&q, SOGET_LOOKUP_REFERENCE, ref, 3);
    CHECK_STR(soget_url_cached(&c, lookup_base, &q, &n),
              "https://api.test/v1/handling-units?reference=BBB");
    q.text[SOGET_LOOKUP_REFERENCE] = NULL;
    soget_query_set(&q, SOGET_LOOKUP_SPI, ref, 3);
    CHECK_STR(soget_url_cached(&c, lookup_base, &q, &n),
              "https://api.test/v1/handling-units?spi=BBB");
  }
  soget_url_cache_free(&c);
  CASE("url cache: out of memory leaves it empty, and it works again after");
  soget_url_cache_init(&c);
  c.url.limit = 16;
  set_lookup(&q, 0);
  CHECK(soget_url_cached(&c, lookup_base, &q, &n) == NULL);
  CHECK(c.ep == NULL);
  c.url.limit = 0;
  check_cached(&c, lookup_base, &q);
  soget_url_cache_free(&c);
}

static void test_forms(void) {
  size_t i;
  for (i = 0; i < COUNT(forms); i++) {
    soget_buf b;
    CASE("token form: %s", forms[i].name);
    soget_buf_init(&b, 0);
    CHECK_INT(soget_request_token_form(&b, forms[i].id, forms[i].secret), 0);
    CHECK_STR(b.data, forms[i].want);
    soget_buf_free(&b);
  }
}

static void test_encodes(void) {
  size_t i;
  int c;
  for (i = 0; i < COUNT(encodes); i++) {
    soget_buf b;
    CASE("url_encode: %s", encodes[i].name);
    soget_buf_init(&b, 0);
    CHECK_INT(soget_url_encode(&b, encodes[i].s, encodes[i].n), 0);
    CHECK_STR(b.data, encodes[i].want);
    CHECK_INT(b.len, strlen(encodes[i].want));
    soget_buf_free(&b);
  }
  /* every byte: RFC 3986 unreserved as it is, anything else %XX */
  CASE("url_encode: each of the 256 bytes");
  for (c = 0; c < 256; c++) {
    soget_buf b;
    char in = (char)c, want[4];
    SUBCASE("url_encode: byte 0x%02x", c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~')
      snprintf(want, sizeof want, "%c", c);
    else
      snprintf(want, sizeof want, "%%%02X", c);
    soget_buf_init(&b, 0);
    CHECK_INT(soget_url_encode(&b, &in, 1), 0);
    CHECK_STR(b.data, want);
    soget_buf_free(&b);
  }
  CASE("url_encode: appends to what the buffer holds");
  {
    soget_buf b;
    soget_buf_init(&b, 0);
    CHECK_INT(soget_buf_adds(&b, "x="), 0);
    CHECK_INT(soget_url_encode(&b, "a b", 3), 0);
    CHECK_STR(b.data, "x=a%20b");
    soget_buf_free(&b);
  }
}

static void test_values(void) {
  size_t i;
  for (i = 0; i < COUNT(values); i++) {
    CASE("value: %s", values[i].name);
    CHECK_STR(soget_header_value_problem(values[i].s, values[i].n), values[i].header);
    CHECK_STR(soget_query_value_problem(values[i].s, values[i].n), values[i].query);
  }
  CASE("value: every C0 control and DEL is refused in both");
  for (i = 0; i < 0x80; i++) {
    char s[3] = {'a', (char)i, 'b'};
    int control = i < 0x20 || i == 0x7f;
    if (i == '\t') continue;   /* allowed inside a header value */
    CHECK((soget_header_value_problem(s, 3) != NULL) == control);
    CHECK((soget_query_value_problem(s, 3) != NULL) == control);
  }
  CASE("value: a header value of SOGET_HEADER_VALUE_MAX bytes, and one more");
  {
    char *big = malloc(SOGET_HEADER_VALUE_MAX + 1);
    if (!CHECK(big != NULL)) return;
    memset(big, 'k', SOGET_HEADER_VALUE_MAX + 1);
    CHECK_STR(soget_header_value_problem(big, SOGET_HEADER_VALUE_MAX), NULL);
    CHECK_STR(soget_header_value_problem(big, SOGET_HEADER_VALUE_MAX + 1),
              "is longer than 65536 bytes");
    CHECK_INT(SOGET_HEADER_VALUE_MAX, 65536);   /* the message says so */
    CHECK_STR(soget_query_value_problem(big, SOGET_HEADER_VALUE_MAX + 1), NULL);
    free(big);
  }
}

int main(void) {
  test_urls();
  test_query_init();
  test_search_urls();
  test_url_too_big();
  test_url_cache();
  test_forms();
  test_encodes();
  test_values();
  return CHECK_DONE();
}
