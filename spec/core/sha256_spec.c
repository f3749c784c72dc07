/* src/core/sha256.c (libcrypto's SHA-256 as hex): FIPS 180-2's examples,
 * every way the padding can fall, and a million 'a's. */
#include <stdlib.h>

#include "check.h"
#include "core/sha256.h"

static const struct {
  const char *name;
  const char *m;
  size_t n;
  const char *hex;
} digests[] = {
  {"empty", "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
  {"abc (FIPS 180-2 B.1)", "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
  {"the 448-bit message (FIPS 180-2 B.2)", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  {"the 896-bit message (FIPS 180-2 C.2's, under SHA-256)", "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
  {"55 bytes: the length fits the block", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
  {"56 bytes: one more block", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
  {"63 bytes", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
  {"64 bytes: a whole block", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
  {"65 bytes", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
  {"a NUL and high bytes", "x\x00""\xff""\x80""y", 5, "31efe78f95a44348ea9f4287dd44077fc43d8ce61830751c06827839956c5173"},
};

static void test_digests(void) {
  size_t i;
  for (i = 0; i < COUNT(digests); i++) {
    char out[65];
    CASE("digest: %s", digests[i].name);
    CHECK_INT(soget_sha256_hex(digests[i].m, digests[i].n, out), 0);
    CHECK_STR(out, digests[i].hex);
  }
}

static void test_million(void) {
  char *m = malloc(1000000), out[65];
  CASE("a million 'a' (FIPS 180-2 B.3)");
  if (!CHECK(m != NULL)) return;
  memset(m, 'a', 1000000);
  soget_sha256_hex(m, 1000000, out);
  CHECK_STR(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(m);
}

int main(void) {
  test_digests();
  test_million();
  return CHECK_DONE();
}
