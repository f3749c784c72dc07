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
  if (n == 0 || n >= sizeof tmp) return -1;
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
