/* Token state: when a bearer token is needed, cached, renewed or dropped.
 * Knows nothing about Lua or libcurl; times are monotonic seconds. */
#ifndef SOGET_AUTH_H
#define SOGET_AUTH_H

#include <stddef.h>
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* Renew this long before the server's expiry (capped at a tenth of the
 * token's lifetime, so very short-lived tokens are still used). */
#define SOGET_TOKEN_MARGIN 30.0

/* How many tokens before the current one are kept (to be scrubbed). */
#define SOGET_TOKENS_RETIRED 8

typedef struct soget_auth {
  char *token;        /* current bearer token, NULL when none */
  size_t token_len;
  double renew_at;    /* monotonic time after which it is renewed */
  double expires_at;  /* and when it expires (set_token's: as told, else its
                       * renew_at) */
  int is_static;      /* a user-given access_token: never renewed */
  unsigned long gen;  /* changes whenever the token is set or dropped */
  /* the tokens before it, the latest first, NULL past the last: a token
   * renewed before it expired, or refused by one server of many, may still
   * be valid a while, so each is still a secret to scrub */
  char *retired[SOGET_TOKENS_RETIRED];
  size_t retired_len[SOGET_TOKENS_RETIRED];
} soget_auth;

void soget_auth_init(soget_auth *a);
void soget_auth_free(soget_auth *a);   /* wipes the tokens' bytes */

/* 1 when a token must be fetched before the next call. */
int soget_auth_needs_token(const soget_auth *a, double now);

/* Stores a new token; expires_in <= 0 means "no expiry given" (an hour).
 * Returns 0, or -1 on no memory. */
int soget_auth_set(soget_auth *a, const char *tok, size_t len,
                   double expires_in, double now, int is_static);

/* A token renewed ahead of its expiry, whose renewal failed: whether the
 * one held can still be used until then (at least SOGET_TOKEN_SLACK
 * seconds left); if so, its renewal is tried again after
 * SOGET_RENEW_RETRY seconds, or halfway to the expiry when that is
 * sooner. */
#define SOGET_TOKEN_SLACK 2.0
#define SOGET_RENEW_RETRY 5.0
int soget_auth_keep(soget_auth *a, double now);
/* Whether soget_auth_keep would keep it, changing nothing. */
int soget_auth_keepable(const soget_auth *a, double now);

/* Drops the token after the API refused it (a 401). Returns 1 when a new
 * one can be fetched, 0 when it was a static token. */
int soget_auth_invalidate(soget_auth *a);

/* Overwrites n bytes with zeros in a way the compiler keeps. */
void soget_wipe(void *p, size_t n);

/* Memory for the libraries that keep what they read in blocks of their
 * own (zlib's window, libyajl's buffer of an unescaped string): each block
 * keeps its size in front of it (malloc's alignment kept) and is wiped
 * before it is freed, or left for a larger one by soget_wiping_realloc.
 * NULL when out of memory or n is too large; free of NULL does nothing. */
void *soget_wiping_malloc(size_t n);
void *soget_wiping_realloc(void *p, size_t n);
void soget_wiping_free(void *p);

SOGET_HIDDEN_END

#endif
