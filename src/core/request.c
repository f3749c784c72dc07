/* Request building: URL, query and form encoding, header-value checks. */
#include "request.h"

#include <stdio.h>
#include <string.h>

const soget_endpoint soget_lookup_endpoint = {
    "handling_units", SOGET_API_TRACING, "/handling-units", {"reference", "spi", NULL}};

const soget_endpoint soget_search_endpoint = {
    "handling_units_search",
    SOGET_API_IN_MASS,
    "/handling-units/search",
    {"documentReference", "voyageAgentReference", "voyageAgentId", "customsFlag",
     "freightAgent", NULL}};

void soget_query_init(soget_query *q, const soget_endpoint *ep) {
  int i;
  q->ep = ep;
  for (i = 0; i < SOGET_QUERY_TEXTS; i++) {
    q->text[i] = NULL;
    q->text_len[i] = 0;
  }
  q->desc = -1;
  q->limit = 0;
  q->offset = -1;
}

void soget_query_set(soget_query *q, int i, const char *s, size_t len) {
  if (i < 0 || i >= SOGET_QUERY_TEXTS || !q->ep->texts[i]) return;
  q->text[i] = s;
  q->text_len[i] = len;
}

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

int soget_url_encode(soget_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  if (soget_buf_reserve(b, len * 3) != 0) return -1;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (unreserved(c)) {
      b->data[b->len++] = (char)c;
    } else {
      b->data[b->len++] = '%';
      b->data[b->len++] = hex[c >> 4];
      b->data[b->len++] = hex[c & 15];
    }
  }
  b->data[b->len] = '\0';
  return 0;
}

static int add_param(soget_buf *b, int *first, const char *name,
                     const char *v, size_t vlen) {
  if (soget_buf_addc(b, *first ? '?' : '&') || soget_buf_adds(b, name) ||
      soget_buf_addc(b, '=') || soget_url_encode(b, v, vlen))
    return -1;
  *first = 0;
  return 0;
}

static int add_prefix(soget_buf *b, const char *base, const soget_query *q) {
  size_t blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/') blen--;
  return soget_buf_add(b, base, blen) || soget_buf_adds(b, q->ep->path) ? -1 : 0;
}

/* "?name=value&..." of q. An empty text is no filter (the API's default
 * for reference and spi is ""): it is left out, so that no server reads
 * it as a filter on "". */
static int add_query(soget_buf *b, const soget_query *q) {
  int first = 1;
  char num[32];
  int n, i;
  for (i = 0; i < SOGET_QUERY_TEXTS && q->ep->texts[i]; i++)
    if (q->text[i] && q->text_len[i] > 0 &&
        add_param(b, &first, q->ep->texts[i], q->text[i], q->text_len[i]))
      return -1;
  if (q->desc >= 0 &&
      add_param(b, &first, "desc", q->desc ? "true" : "false", q->desc ? 4 : 5))
    return -1;
  if (q->limit > 0) {
    n = snprintf(num, sizeof num, "%d", q->limit);
    if (add_param(b, &first, "limit", num, (size_t)n)) return -1;
  }
  if (q->offset >= 0) {
    n = snprintf(num, sizeof num, "%ld", q->offset);
    if (add_param(b, &first, "offset", num, (size_t)n)) return -1;
  }
  return 0;
}

int soget_request_url(soget_buf *b, const char *base, const soget_query *q) {
  return add_prefix(b, base, q) || add_query(b, q) ? -1 : 0;
}

void soget_url_cache_init(soget_url_cache *c) {
  c->ep = NULL;
  c->base = NULL;
  c->prefix = 0;
  soget_buf_init(&c->url, 0);
  soget_buf_init(&c->texts, 0);
}

void soget_url_cache_free(soget_url_cache *c) {
  soget_buf_free(&c->url);
  soget_buf_free(&c->texts);
  c->ep = NULL;
  c->base = NULL;
}

/* 1 when the cache holds the URL of q (on the same base, by pointer). */
static int cache_holds(const soget_url_cache *c, const char *base, const soget_query *q) {
  const char *t = c->texts.data;
  int i;
  if (c->ep != q->ep || c->base != base || c->desc != q->desc || c->limit != q->limit ||
      c->offset != q->offset)
    return 0;
  for (i = 0; i < SOGET_QUERY_TEXTS; i++) {
    size_t n = q->text[i] ? q->text_len[i] : (size_t)-1;
    if (n != c->text_len[i]) return 0;
    if (n != (size_t)-1) {
      if (n && memcmp(t, q->text[i], n) != 0) return 0;
      t += n;
    }
  }
  return 1;
}

const char *soget_url_cached(soget_url_cache *c, const char *base, const soget_query *q,
                             size_t *len) {
  int i, r = 0;
  if (cache_holds(c, base, q)) {
    *len = c->url.len;
    return c->url.data;
  }
  if (c->ep == q->ep && c->base == base) {   /* the same "{base}{path}" */
    c->url.len = c->prefix;
    c->url.data[c->prefix] = '\0';
  } else {
    soget_buf_reset(&c->url);
    r = add_prefix(&c->url, base, q);
    c->prefix = c->url.len;
  }
  soget_buf_reset(&c->texts);
  for (i = 0; i < SOGET_QUERY_TEXTS; i++) {
    c->text_len[i] = q->text[i] ? q->text_len[i] : (size_t)-1;
    if (q->text[i]) r |= soget_buf_add(&c->texts, q->text[i], q->text_len[i]);
  }
  r |= add_query(&c->url, q);
  if (r) {
    soget_url_cache_free(c);
    return NULL;
  }
  c->ep = q->ep;
  c->base = base;
  c->desc = q->desc;
  c->limit = q->limit;
  c->offset = q->offset;
  *len = c->url.len;
  return c->url.data;
}

int soget_request_token_form(soget_buf *b, const char *client_id,
                             const char *client_secret) {
  return soget_buf_adds(b, "grant_type=client_credentials&client_id=") ||
         soget_url_encode(b, client_id, strlen(client_id)) ||
         soget_buf_adds(b, "&client_secret=") ||
         soget_url_encode(b, client_secret, strlen(client_secret));
}

const char *soget_header_value_problem(const char *s, size_t len) {
  size_t i;
  if (len == 0) return "is empty";
  if (len > SOGET_HEADER_VALUE_MAX) return "is longer than 65536 bytes";
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r' || c == '\n') return "contains a line break";
    if (c == '\0') return "contains a NUL byte";
    if (c < 0x20 && c != '\t') return "contains a control character";
    if (c == 0x7f) return "contains a control character";
  }
  if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
    return "has leading or trailing white space";
  return NULL;
}

const char *soget_query_value_problem(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\0') return "contains a NUL byte";
    if (c == '\r' || c == '\n') return "contains a line break";
    if (c < 0x20 || c == 0x7f) return "contains a control character";
    /* C1 (U+0080 to U+009F) in UTF-8: CSI (U+009B) acts as ESC [ */
    if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9f &&
        (unsigned char)s[i + 1] >= 0x80)
      return "contains a control character";
  }
  return NULL;
}

