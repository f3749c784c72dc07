/* Token state for the OAuth2 client-credentials flow. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

void soget_wipe(void *p, size_t n) {
  volatile unsigned char *v = p;
  while (n--) *v++ = 0;
}

void soget_auth_init(soget_auth *a) {
  a->token = NULL;
  a->token_len = 0;
  a->renew_at = 0;
  a->is_static = 0;
  a->gen = 0;
}

void soget_auth_free(soget_auth *a) {
  if (a->token) {
    soget_wipe(a->token, a->token_len);
    free(a->token);
  }
  a->token = NULL;
  a->token_len = 0;
  a->renew_at = 0;
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
  soget_auth_free(a);
  a->token = copy;
  a->token_len = len;
  a->gen++;
  a->is_static = is_static;
  if (expires_in <= 0) expires_in = 3600;
  margin = expires_in / 10 < SOGET_TOKEN_MARGIN ? expires_in / 10
                                                 : SOGET_TOKEN_MARGIN;
  a->renew_at = now + expires_in - margin;
  return 0;
}

int soget_auth_invalidate(soget_auth *a) {
  if (a->is_static) return 0;
  soget_auth_free(a);
  a->gen++;
  return 1;
}
