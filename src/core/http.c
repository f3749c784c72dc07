/* HTTP facts the call logic needs and no transport owns: URLs compared
 * and resolved with libcurl's URL parser (no I/O), Retry-After parsed. */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3). */
double soget_parse_retry_after(const char *v, size_t n) {
  char tmp[64];
  char *end;
  long secs;
  time_t when;
  if (n == 0 || n >= sizeof tmp || memchr(v, '\0', n)) return -1;   /* (a NUL: not all of it read) */
  memcpy(tmp, v, n);
  tmp[n] = '\0';
  /* delay-seconds are digits alone (RFC 9110, 10.2.3): a sign makes the
   * value invalid, ignored as the rest (the retry then waits its backoff) */
  {
    const char *q = tmp;   /* (strtol would skip white space before a sign) */
    while (*q == ' ' || *q == '\t') q++;
    if (*q == '-' || *q == '+') return -1;
  }
  secs = strtol(tmp, &end, 10);   /* LONG_MAX when larger: capped below */
  if (end != tmp && *end == '\0')
    return secs < 0 ? -1 : secs > (long)SOGET_RETRY_AFTER_CAP ? SOGET_RETRY_AFTER_CAP : (double)secs;
  when = curl_getdate(tmp, NULL);
  if (when == (time_t)-1) return -1;
  {
    double d = difftime(when, time(NULL));
    return d < 0 ? 0 : d > SOGET_RETRY_AFTER_CAP ? SOGET_RETRY_AFTER_CAP : d;
  }
}

/* RFC 9110's tchar, in ASCII whatever the locale. */
static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t skip_ows(const char *v, size_t i, size_t n) {
  while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
  return i;
}

/* Case-insensitive: is v[s..e) the ASCII word w? */
static int word_is(const char *v, size_t s, size_t e, const char *w) {
  size_t wl = strlen(w);
  return e - s == wl && strncasecmp(v + s, w, wl) == 0;
}

int soget_bearer_invalid_token(const char *v, size_t n) {
  static const char want[] = "invalid_token";
  size_t i = 0;
  int bearer = 0;   /* the challenge being read is Bearer's */
  int fresh = 0;    /* just past its scheme: a token68 may follow */
  while (i < n) {
    size_t s, e, j;
    if (v[i] == ' ' || v[i] == '\t') {
      i++;
      continue;
    }
    if (v[i] == ',') {   /* between challenges, or a challenge's params */
      fresh = 0;
      i++;
      continue;
    }
    /* a scheme, a param's name, or a token68 ('/' is token68's, not a tchar) */
    for (s = i; i < n && (is_tchar((unsigned char)v[i]) || v[i] == '/'); i++) {
    }
    e = i;
    if (e == s) return 0;   /* no challenge list */
    j = skip_ows(v, i, n);
    if (j < n && v[j] == '=') {
      size_t k = j + 1, m;
      while (k < n && v[k] == '=') k++;
      m = skip_ows(v, k, n);
      fresh = 0;
      if (k - j > 1 || m >= n || v[m] == ',') {   /* a token68 and its padding */
        i = k;
        continue;
      }
      if (v[m] == '"') {   /* name="value" (a quoted-string: \ quotes the next byte) */
        size_t w = 0;
        int same = 1;
        for (i = m + 1; i < n && v[i] != '"'; i++) {
          unsigned char c;
          if (v[i] == '\\' && ++i >= n) return 0;
          c = (unsigned char)v[i];
          if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
          if (w < sizeof want - 1 && c == (unsigned char)want[w])
            w++;
          else
            same = 0;
        }
        if (i >= n) return 0;   /* unterminated */
        i++;
        same = same && w == sizeof want - 1;
        if (bearer && same && word_is(v, s, e, "error")) return 1;
      } else {             /* name=token */
        for (i = m; i < n && is_tchar((unsigned char)v[i]); i++) {
        }
        if (i == m) return 0;
        if (bearer && word_is(v, s, e, "error") && word_is(v, m, i, want)) return 1;
      }
      continue;
    }
    if (fresh) {   /* the scheme's token68 */
      fresh = 0;
      continue;
    }
    bearer = word_is(v, s, e, "bearer");   /* a challenge begins */
    fresh = 1;
  }
  return 0;
}

/* "scheme://" and then the authority: libcurl is lenient there, and reads
 * "https:///x" or "https:/x" as the host x, which the text does not give. */
static int has_authority(const char *s) {
  const char *p = s;
  while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.') p++;
  return p > s && strncmp(p, "://", 3) == 0 && p[3] && !strchr("/\\?#", p[3]);
}

int soget_url_valid(const char *s) {
  CURLU *u;
  char *host = NULL;
  int ok;
  if (!has_authority(s)) return 0;
  u = curl_url();
  ok = u && curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
       curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && host[0];
  curl_free(host);
  curl_url_cleanup(u);
  return ok;
}

int soget_url_has_userinfo(const char *s) {
  CURLU *u;
  char *part = NULL;
  int has = 1;   /* cannot tell: as if it had */
  u = curl_url();
  if (u && curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK) {
    CURLUcode rc = curl_url_get(u, CURLUPART_USER, &part, 0);
    curl_free(part);
    part = NULL;
    has = rc != CURLUE_NO_USER;
    if (!has) {
      rc = curl_url_get(u, CURLUPART_PASSWORD, &part, 0);
      curl_free(part);
      has = rc != CURLUE_NO_PASSWORD;
    }
  }
  curl_url_cleanup(u);
  return has;
}

int soget_url_is_origin(const char *s) {
  CURLU *u;
  char *path = NULL;
  int ok;
  if (strpbrk(s, "?#")) return 0;   /* a query or a fragment, empty ones too */
  u = curl_url();
  ok = u && curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
       curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && path &&
       (strcmp(path, "/") == 0 || path[0] == '\0');
  curl_free(path);
  curl_url_cleanup(u);
  return ok;
}

int soget_url_resolve(soget_buf *out, const char *base, const char *ref) {
  CURLU *u;
  char *abs = NULL;
  const char *p;
  int rc = -1;
  for (p = ref; *p; p++)   /* a Location is one line of visible characters */
    if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) return -1;
  u = curl_url();
  if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK) {
    soget_buf_reset(out);
    rc = soget_buf_adds(out, abs) == 0 ? 0 : -1;
  }
  curl_free(abs);
  curl_url_cleanup(u);
  return rc;
}

/* Compares scheme, host and port with libcurl's own URL parser. */
int soget_same_origin(const char *a, const char *b) {
  static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
  CURLU *ua = curl_url(), *ub = curl_url();
  int same = 0;
  size_t i;
  if (!ua || !ub) goto done;
  if (curl_url_set(ua, CURLUPART_URL, a, 0) != CURLUE_OK ||
      curl_url_set(ub, CURLUPART_URL, b, 0) != CURLUE_OK)
    goto done;
  same = 1;
  for (i = 0; i < sizeof parts / sizeof parts[0] && same; i++) {
    char *pa = NULL, *pb = NULL;
    if (curl_url_get(ua, parts[i], &pa, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_get(ub, parts[i], &pb, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        strcasecmp(pa, pb) != 0)
      same = 0;
    curl_free(pa);
    curl_free(pb);
  }
done:
  curl_url_cleanup(ua);
  curl_url_cleanup(ub);
  return same;
}
