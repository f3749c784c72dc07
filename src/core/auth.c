/* Token state for the OAuth2 client-credentials flow. */
/* explicit_bzero is declared by glibc's <string.h> under _DEFAULT_SOURCE
 * (the Makefile builds with -std=c11, which hides it otherwise). */
#define _DEFAULT_SOURCE 1
#include "auth.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A wipe the compiler must keep even when the memory is freed next: a
 * plain memset before free() is a dead store it may drop.
 *
 *  - explicit_bzero (glibc 2.25+, the BSDs) is made for exactly this and
 *    runs at memset's speed;
 *  - else, with GCC or Clang, memset followed by an empty asm statement
 *    that takes the pointer and clobbers memory: the compiler must assume
 *    the asm reads the zeroed bytes, so the stores stay;
 *  - else, a byte loop through a volatile pointer (portable C11, slow:
 *    one store per byte, which the compiler may not merge). */
#if (defined(__GLIBC__) &&                                                     \
     (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))) ||          \
    defined(__OpenBSD__) || defined(__FreeBSD__) || defined(__NetBSD__)
#define SOGET_HAVE_EXPLICIT_BZERO 1
#endif

void soget_wipe(void *p, size_t n) {
  if (!p || n == 0) return;
#if defined(SOGET_HAVE_EXPLICIT_BZERO)
  explicit_bzero(p, n);
#elif defined(__GNUC__) || defined(__clang__)
  memset(p, 0, n);
  __asm__ __volatile__("" : : "r"(p) : "memory");
#else
  {
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
  }
#endif
}

void soget_auth_init(soget_auth *a) {
  a->token = NULL;
  a->token_len = 0;
  a->renew_at = a->expires_at = 0;
  a->is_static = 0;
  a->gen = 0;
  memset(a->retired, 0, sizeof a->retired);
  memset(a->retired_len, 0, sizeof a->retired_len);
}

static void drop(char **p, size_t *n) {
  if (*p) {
    soget_wipe(*p, *n);
    free(*p);
  }
  *p = NULL;
  *n = 0;
}

/* The current token becomes the latest retired one (the oldest is wiped
 * when all the places are taken). */
static void retire(soget_auth *a) {
  const int last = SOGET_TOKENS_RETIRED - 1;
  if (!a->token) return;
  drop(&a->retired[last], &a->retired_len[last]);
  memmove(&a->retired[1], &a->retired[0], last * sizeof a->retired[0]);
  memmove(&a->retired_len[1], &a->retired_len[0], last * sizeof a->retired_len[0]);
  a->retired[0] = a->token;
  a->retired_len[0] = a->token_len;
  a->token = NULL;
  a->token_len = 0;
}

void soget_auth_free(soget_auth *a) {
  int i;
  drop(&a->token, &a->token_len);
  for (i = 0; i < SOGET_TOKENS_RETIRED; i++) drop(&a->retired[i], &a->retired_len[i]);
  a->renew_at = a->expires_at = 0;
}

int soget_auth_needs_token(const soget_auth *a, double now) {
  if (!a->token) return !a->is_static;
  if (a->is_static) return 0;
  return now >= a->renew_at;
}

int soget_auth_set(soget_auth *a, const char *tok, size_t len,
                   double expires_in, double now, int is_static) {
  char *copy = malloc(len + 1);
  double margin;
  if (!copy) return -1;
  memcpy(copy, tok, len);
  copy[len] = '\0';
  retire(a);
  a->token = copy;
  a->token_len = len;
  a->gen++;
  a->is_static = is_static;
  if (expires_in <= 0) expires_in = 3600;
  margin = expires_in / 10 < SOGET_TOKEN_MARGIN ? expires_in / 10
                                                 : SOGET_TOKEN_MARGIN;
  a->renew_at = now + expires_in - margin;
  a->expires_at = now + expires_in;
  return 0;
}

int soget_auth_keepable(const soget_auth *a, double now) {
  return a->token && !a->is_static && a->expires_at - now >= SOGET_TOKEN_SLACK;
}

int soget_auth_keep(soget_auth *a, double now) {
  double left = a->expires_at - now, wait;
  if (!soget_auth_keepable(a, now)) return 0;
  wait = left / 2 < SOGET_RENEW_RETRY ? left / 2 : SOGET_RENEW_RETRY;
  a->renew_at = now + wait;
  return 1;
}

int soget_auth_invalidate(soget_auth *a) {
  if (a->is_static) return 0;
  retire(a);
  a->renew_at = 0;
  a->gen++;
  return 1;
}

typedef union {
  size_t n;
  max_align_t align;
} wiping_head;

void *soget_wiping_malloc(size_t n) {
  wiping_head *h;
  if (n > (size_t)-1 - sizeof *h) return NULL;
  h = malloc(sizeof *h + n);
  if (!h) return NULL;
  h->n = n;
  return h + 1;
}

void soget_wiping_free(void *p) {
  wiping_head *h;
  if (!p) return;
  h = (wiping_head *)p - 1;
  soget_wipe(h, sizeof *h + h->n);
  free(h);
}

void *soget_wiping_realloc(void *p, size_t n) {
  void *q;
  size_t had;
  if (!p) return soget_wiping_malloc(n);
  if ((q = soget_wiping_malloc(n)) == NULL) return NULL;
  had = ((wiping_head *)p - 1)->n;
  memcpy(q, p, had < n ? had : n);
  soget_wiping_free(p);
  return q;
}
