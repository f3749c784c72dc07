/* Growable byte buffer: every append either succeeds or leaves the buffer
 * as it was and returns -1 (out of memory, or over the buffer's limit). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

void soget_buf_init(soget_buf *b, size_t limit) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->limit = limit;
}

void soget_buf_free(soget_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void soget_buf_free_wiped(soget_buf *b) {
  if (b->data) soget_wipe(b->data, b->cap);
  soget_buf_free(b);
}

void soget_buf_reset(soget_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void soget_buf_rtrim(soget_buf *b) {
  while (b->len > 0 && (b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\t'))
    b->data[--b->len] = '\0';
}

int soget_buf_reserve(soget_buf *b, size_t extra) {
  size_t need, ncap;
  char *p;
  if (extra > (size_t)-1 - b->len - 1) return -1;
  need = b->len + extra + 1;
  if (b->limit && b->len + extra > b->limit) return -1;
  if (need <= b->cap) return 0;
  ncap = b->cap ? b->cap : 256;
  while (ncap < need) {
    if (ncap > (size_t)-1 / 2) { ncap = need; break; }
    ncap *= 2;
  }
  /* never more than the limit allows (len + extra <= limit, so need fits):
   * a body at a cap of 2^k took 2^(k+1) for its NUL */
  if (b->limit && ncap > b->limit + 1) ncap = b->limit + 1;
  /* Not realloc: a block it moves is freed as it is, and buffers hold
   * secrets (a token answer, the token request's form, credentials). The
   * old block is copied whole (an owner may have written past len), then
   * wiped and freed. */
  p = malloc(ncap);
  if (!p) return -1;
  if (b->data) {
    memcpy(p, b->data, b->cap);
    soget_wipe(b->data, b->cap);
    free(b->data);
  }
  b->data = p;
  b->cap = ncap;
  return 0;
}

int soget_buf_add(soget_buf *b, const void *p, size_t n) {
  if (soget_buf_reserve(b, n) != 0) return -1;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int soget_buf_adds(soget_buf *b, const char *s) {
  return soget_buf_add(b, s, strlen(s));
}

int soget_buf_addc(soget_buf *b, char c) {
  return soget_buf_add(b, &c, 1);
}

int soget_buf_addf(soget_buf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  char small[128];
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return -1;
  if ((size_t)n < sizeof small) return soget_buf_add(b, small, (size_t)n);
  if (soget_buf_reserve(b, (size_t)n) != 0) return -1;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}
