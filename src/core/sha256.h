/* SHA-256 (FIPS 180-4), for keys that must not reveal what they are made
 * of (the command's token cache is named by a digest of the credentials).
 * Knows nothing about Lua. */
#ifndef SOGET_SHA256_H
#define SOGET_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include "visibility.h"

SOGET_HIDDEN_BEGIN

typedef struct soget_sha256 {
  uint32_t h[8];
  uint64_t bytes;          /* message length so far */
  unsigned char block[64];
  size_t used;             /* bytes waiting in block */
} soget_sha256;

void soget_sha256_init(soget_sha256 *c);
void soget_sha256_update(soget_sha256 *c, const void *data, size_t len);
/* Writes the 32-byte digest; c must be initialized again to be reused. */
void soget_sha256_final(soget_sha256 *c, unsigned char out[32]);
/* The digest of data as 64 lower-case hex digits and a NUL. */
void soget_sha256_hex(const void *data, size_t len, char out[65]);

SOGET_HIDDEN_END

#endif
