/* SHA-256, by OpenSSL's libcrypto (already in the process: libcurl's),
 * for keys that must not reveal what they are made of (the command's token
 * cache is named by a digest of the credentials). Knows nothing about Lua. */
#ifndef SOGET_SHA256_H
#define SOGET_SHA256_H

#include <stddef.h>
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* The digest of data as 64 lower-case hex digits and a NUL: returns 0, or
 * -1 (out empty) when libcrypto could not make it (memory). */
int soget_sha256_hex(const void *data, size_t len, char out[65]);

SOGET_HIDDEN_END

#endif
