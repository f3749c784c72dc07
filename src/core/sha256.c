#include "core/sha256.h"

#include <openssl/evp.h>

int soget_sha256_hex(const void *data, size_t len, char out[65]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0, i;
  out[0] = '\0';
  if (EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) != 1 || n != 32) return -1;
  for (i = 0; i < 32; i++) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  out[64] = '\0';
  return 0;
}
