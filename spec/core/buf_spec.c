#define _POSIX_C_SOURCE 200809L
/* src/core/buf.c: a buffer through a table of operations, each with what
 * it returns and what the buffer holds after it; every append succeeds or
 * leaves the buffer as it was. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "memscan.h"
#include "core/auth.h"
#include "core/buf.h"

enum { ADD, ADDS, ADDC, ADDF, RESERVE, RESET, RTRIM, FREE };

static const struct {
  const char *name;
  int op;
  const char *arg; size_t n;   /* ADD: bytes; ADDS, ADDF: string; ADDC: arg[0]; RESERVE: n */
  int rc;
  const char *want; size_t want_len;
} ops[] = {
  {"add", ADD, BYTES("abc"), 0, BYTES("abc")},
  {"add nothing", ADD, BYTES(""), 0, BYTES("abc")},
  {"add a NUL", ADD, BYTES("\0z"), 0, BYTES("abc\0z")},
  {"adds", ADDS, BYTES("def"), 0, BYTES("abc\0zdef")},
  {"addc", ADDC, BYTES("!"), 0, BYTES("abc\0zdef!")},
  {"reset", RESET, BYTES(""), 0, BYTES("")},
  {"addf", ADDF, BYTES("n=%d s=%s"), 0, BYTES("n=42 s=str")},
  {"reserve keeps the bytes", RESERVE, NULL, 1000, 0, BYTES("n=42 s=str")},
  {"rtrim without blanks", RTRIM, BYTES(""), 0, BYTES("n=42 s=str")},
  {"add blanks", ADD, BYTES(" \t \r\t "), 0, BYTES("n=42 s=str \t \r\t ")},
  {"rtrim drops spaces and tabs only", RTRIM, BYTES(""), 0, BYTES("n=42 s=str \t \r")},
  {"reset again", RESET, BYTES(""), 0, BYTES("")},
  {"rtrim empty", RTRIM, BYTES(""), 0, BYTES("")},
  {"only blanks", ADD, BYTES(" \t "), 0, BYTES(" \t ")},
  {"rtrim to empty", RTRIM, BYTES(""), 0, BYTES("")},
  {"addf after rtrim", ADDF, BYTES("n=%d s=%s"), 0, BYTES("n=42 s=str")},
  {"free", FREE, BYTES(""), 0, NULL, 0},
  {"rtrim after free", RTRIM, BYTES(""), 0, NULL, 0},
  {"adds after free", ADDS, BYTES("again"), 0, BYTES("again")},
  {"reserve past size_t fails", RESERVE, NULL, SIZE_MAX, -1, BYTES("again")},
  {"reserve just past size_t fails", RESERVE, NULL, SIZE_MAX - 5, -1, BYTES("again")},
};

static void test_ops(void) {
  soget_buf b;
  size_t i;
  soget_buf_init(&b, 0);
  CASE("ops: a new buffer is empty");
  CHECK(b.data == NULL);
  CHECK_INT(b.len, 0);
  for (i = 0; i < COUNT(ops); i++) {
    int rc = 0;
    CASE("ops: %s", ops[i].name);
    switch (ops[i].op) {
      case ADD: rc = soget_buf_add(&b, ops[i].arg, ops[i].n); break;
      case ADDS: rc = soget_buf_adds(&b, ops[i].arg); break;
      case ADDC: rc = soget_buf_addc(&b, ops[i].arg[0]); break;
      case ADDF: rc = soget_buf_addf(&b, ops[i].arg, 42, "str"); break;
      case RESERVE: rc = soget_buf_reserve(&b, ops[i].n); break;
      case RESET: soget_buf_reset(&b); break;
      case RTRIM: soget_buf_rtrim(&b); break;
      case FREE: soget_buf_free(&b); break;
    }
    CHECK_INT(rc, ops[i].rc);
    CHECK_INT(b.len, ops[i].want_len);
    CHECK_MEM(b.data, b.data ? b.len : 0, ops[i].want, ops[i].want_len);
    if (b.data) CHECK_INT(b.data[b.len], 0);   /* NUL-terminated */
    CHECK(b.data == NULL || b.cap > b.len);
  }
  soget_buf_free(&b);
}

/* A buffer with a limit of 8 bytes. */
static const struct {
  const char *name;
  int op;
  const char *arg; size_t n;
  int rc;
  const char *want;
} limited[] = {
  {"up to the limit", ADDS, BYTES("abcdefgh"), 0, "abcdefgh"},
  {"one more byte fails", ADDC, BYTES("i"), -1, "abcdefgh"},
  {"adding nothing at the limit", ADD, BYTES(""), 0, "abcdefgh"},
  {"reset frees room", RESET, BYTES(""), 0, ""},
  {"too long at once fails whole", ADDS, BYTES("123456789"), -1, ""},
  {"addf within", ADDF, BYTES("%d-%s"), 0, "42-str"},
  {"addf past it fails whole", ADDF, BYTES("%d-%s"), -1, "42-str"},
  {"reserve within", RESERVE, NULL, 2, 0, "42-str"},
  {"reserve past it", RESERVE, NULL, 3, -1, "42-str"},
};

static void test_limited(void) {
  soget_buf b;
  size_t i;
  soget_buf_init(&b, 8);
  for (i = 0; i < COUNT(limited); i++) {
    int rc = 0;
    CASE("limit 8: %s", limited[i].name);
    switch (limited[i].op) {
      case ADD: rc = soget_buf_add(&b, limited[i].arg, limited[i].n); break;
      case ADDS: rc = soget_buf_adds(&b, limited[i].arg); break;
      case ADDC: rc = soget_buf_addc(&b, limited[i].arg[0]); break;
      case ADDF: rc = soget_buf_addf(&b, limited[i].arg, 42, "str"); break;
      case RESERVE: rc = soget_buf_reserve(&b, limited[i].n); break;
      case RESET: soget_buf_reset(&b); break;
    }
    CHECK_INT(rc, limited[i].rc);
    CHECK_STR(b.data, limited[i].want);
    CHECK(b.len <= 8);
  }
  soget_buf_free(&b);
}

/* A buffer filled to its limit holds no more room than the limit and its
 * NUL: a body at the cap (a power of two) did not double it. */
static void test_room_at_limit(void) {
  soget_buf b;
  char piece[1000];
  size_t i;
  CASE("room stops at the limit and its NUL");
  memset(piece, 'x', sizeof piece);
  soget_buf_init(&b, 4096);
  for (i = 0; i < 4; i++) CHECK_INT(soget_buf_add(&b, piece, sizeof piece), 0);
  CHECK_INT(soget_buf_add(&b, piece, 96), 0);
  CHECK_INT(b.len, 4096);
  CHECK_INT(b.cap, 4097);
  CHECK_INT(b.data[4096], 0);
  CHECK_INT(soget_buf_addc(&b, 'y'), -1);
  CHECK_INT(b.cap, 4097);
  soget_buf_free(&b);
  CASE("a small limit: room for it alone");
  soget_buf_init(&b, 8);
  CHECK_INT(soget_buf_adds(&b, "abc"), 0);
  CHECK_INT(b.cap, 9);
  soget_buf_free(&b);
}

static void test_long(void) {
  soget_buf b;
  char big[1000];
  size_t i;
  int ok = 1;
  CASE("addf: longer than its 128-byte first try");
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  soget_buf_init(&b, 0);
  CHECK_INT(soget_buf_addf(&b, "<%s|%d>", big, 7), 0);
  CHECK_INT(b.len, 1 + 999 + 3);
  CHECK(b.len > 0 && b.data[0] == '<' && b.data[1000] == '|' && strcmp(b.data + 1000, "|7>") == 0);
  CASE("addf: a long one after a short one, limit just enough");
  soget_buf_free(&b);
  soget_buf_init(&b, 4 + 999);
  CHECK_INT(soget_buf_adds(&b, "pre:"), 0);
  CHECK_INT(soget_buf_addf(&b, "%s", big), 0);
  CHECK_INT(b.len, 4 + 999);
  CHECK_INT(soget_buf_addf(&b, "%s", "y"), -1);
  CHECK_INT(b.len, 4 + 999);
  soget_buf_free(&b);
  CASE("grows a byte at a time to 100,000");
  soget_buf_init(&b, 0);
  for (i = 0; i < 100000; i++) ok &= soget_buf_addc(&b, (char)('a' + i % 26)) == 0;
  CHECK(ok);
  CHECK_INT(b.len, 100000);
  for (i = 0; i < 100000 && ok; i++) ok &= b.data[i] == (char)('a' + i % 26);
  CHECK(ok);
  CHECK_INT(b.data[b.len], 0);
  soget_buf_free(&b);
  soget_buf_free(&b);   /* twice is harmless */
  CHECK(b.data == NULL);
}

/* A buffer that moves as it grows leaves no copy of its bytes in the
 * blocks it left: the pattern is found in the live block only, and nowhere
 * once that is wiped and freed. Blocks allocated between the appends keep
 * it from growing in place. */
static void test_moves_leave_nothing(void) {
  soget_buf b;
  void *blockers[24];
  char pat[MEMSCAN_LEN], filler[200];
  size_t i, moves = 0;
  long n;
  CASE("a buffer that moves as it grows leaves none of its bytes behind");
  memset(filler, '.', sizeof filler);
  soget_buf_init(&b, 0);
  CHECK_INT(soget_buf_adds(&b, "the first 32 bytes, then a secret"), 0);
  memscan_fill(pat, 4242);
  CHECK_INT(soget_buf_add(&b, pat, sizeof pat), 0);
  soget_wipe(pat, sizeof pat);
  for (i = 0; i < sizeof blockers / sizeof blockers[0]; i++) {
    char *was = b.data;
    blockers[i] = malloc(40);
    CHECK_INT(soget_buf_add(&b, filler, sizeof filler), 0);
    moves += b.data != was;
  }
  CHECK(moves >= 4);   /* 256 bytes, doubled to 8 KB */
  n = memscan_count(4242, NULL, 0);
  if (n < 0) {
    printf("  (no /proc/self/mem: left out)\n");
  } else {
    CHECK_INT(n, 1);   /* the live block */
    CHECK_INT(memscan_count(4242, b.data, b.cap), 0);
    soget_wipe(b.data, b.cap);
    CHECK_INT(memscan_count(4242, NULL, 0), 0);
  }
  soget_buf_free(&b);
  for (i = 0; i < sizeof blockers / sizeof blockers[0]; i++) free(blockers[i]);
}

/* soget_buf_free_wiped leaves none of the bytes in the block it frees,
 * past its length too (a longer content before a reset). */
static void test_free_wiped(void) {
  soget_buf b;
  char pat[MEMSCAN_LEN];
  long n;
  CASE("soget_buf_free_wiped wipes the whole block before freeing it");
  soget_buf_init(&b, 0);
  memscan_fill(pat, 4343);
  CHECK_INT(soget_buf_adds(&b, "an answer that echoes a secret: "), 0);
  CHECK_INT(soget_buf_add(&b, pat, sizeof pat), 0);
  soget_wipe(pat, sizeof pat);
  soget_buf_reset(&b);   /* (the bytes stay past len) */
  CHECK_INT(soget_buf_adds(&b, "short"), 0);
  n = memscan_count(4343, NULL, 0);
  if (n < 0) {
    printf("  (no /proc/self/mem: left out)\n");
  } else {
    CHECK_INT(n, 1);
  }
  soget_buf_free_wiped(&b);
  CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
  if (n >= 0) CHECK_INT(memscan_count(4343, NULL, 0), 0);
  soget_buf_free_wiped(&b);   /* an empty buffer: nothing to do */
}

int main(void) {
  test_ops();
  test_limited();
  test_room_at_limit();
  test_long();
  test_moves_leave_nothing();
  test_free_wiped();
  return CHECK_DONE();
}
