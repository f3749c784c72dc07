#define _POSIX_C_SOURCE 200809L
/* src/core/auth.c: when a token is needed, its renewal margin, static
 * tokens, invalidation, the generation counter, wiping. */
#include <stdint.h>

#include "check.h"
#include "memscan.h"
#include "core/auth.h"

/* soget_auth_set(expires_in) at `now`: renewed from renew_at on, which is
 * the expiry less min(30 s, a tenth of the lifetime); no expiry given
 * (expires_in <= 0) is an hour. */
static const struct {
  const char *name;
  double expires_in, now, renew_at;
} margins[] = {
  {"an hour: 30 s early", 3600, 100, 100 + 3600 - 30},
  {"five minutes: 30 s early", 300, 0, 270},
  {"exactly 300 s: a tenth is 30 s", 300, 50, 50 + 270},
  {"200 s: a tenth, 20 s", 200, 10, 10 + 180},
  {"100 s: 10 s early", 100, 0, 90},
  {"10 s: 1 s early", 10, 1000, 1009},
  {"1 s: 0.1 s early", 1, 0, 0.9},
  {"a day: still 30 s", 86400, 0, 86370},
  {"no expiry given (0): an hour", 0, 100, 100 + 3570},
  {"negative expiry: an hour", -5, 100, 100 + 3570},
  {"fractional now", 3600, 0.25, 3570.25},
};

static void test_margins(void) {
  size_t i;
  for (i = 0; i < COUNT(margins); i++) {
    soget_auth a;
    double at = margins[i].renew_at;
    CASE("margin: %s", margins[i].name);
    soget_auth_init(&a);
    CHECK_INT(soget_auth_set(&a, "tok1", 4, margins[i].expires_in, margins[i].now, 0), 0);
    CHECK_NEAR(a.renew_at, at, 1e-9);
    CHECK_INT(soget_auth_needs_token(&a, margins[i].now), 0);
    CHECK_INT(soget_auth_needs_token(&a, at - 0.01), 0);
    CHECK_INT(soget_auth_needs_token(&a, at), 1);
    CHECK_INT(soget_auth_needs_token(&a, at + 1e6), 1);
    soget_auth_free(&a);
  }
}

/* One client's token over time: each row does one thing and says what
 * holds after it. */
enum { SET, SET_STATIC, INVALIDATE, FREE, ASK };
static const struct {
  const char *name;
  int op;
  const char *tok;       /* SET: the token; after: the token held (NULL: none) */
  double expires_in, now;
  int rc;                /* what the operation returns */
  double ask_at;         /* needs_token asked at this time... */
  int needs;             /* ...answers this */
  int gen_changes;
} steps[] = {
  {"set a token", SET, "first-token", 100, 0, 0, 50, 0, 1},
  {"due at 90 s", ASK, "first-token", 0, 0, 0, 90, 1, 0},
  {"renewed", SET, "second-token-longer", 100, 90, 0, 100, 0, 1},
  {"a 401 drops it", INVALIDATE, NULL, 0, 0, 1, 100, 1, 1},
  {"dropping none again still changes gen", INVALIDATE, NULL, 0, 0, 1, 100, 1, 1},
  {"set again", SET, "third", 0, 200, 0, 200, 0, 1},
  {"freed", FREE, NULL, 0, 0, 0, 200, 1, 0},
  {"a user's static token", SET_STATIC, "user-token", 0, 0, 0, 1e9, 0, 1},
  {"a static token is never renewed, even expired", SET_STATIC, "user-token", 10, 0, 0, 1e12, 0, 1},
  {"a 401 cannot drop a static token", INVALIDATE, "user-token", 0, 0, 0, 1e12, 0, 0},
  {"client credentials replace it", SET, "fetched", 100, 0, 0, 95, 1, 1},
  {"and can be dropped", INVALIDATE, NULL, 0, 0, 1, 0, 1, 1},
};

static void test_steps(void) {
  soget_auth a;
  size_t i;
  CASE("steps: a new state needs a token");
  soget_auth_init(&a);
  CHECK(a.token == NULL);
  CHECK_INT(a.token_len, 0);
  CHECK_INT(a.gen, 0);
  CHECK_INT(soget_auth_needs_token(&a, 0), 1);
  for (i = 0; i < COUNT(steps); i++) {
    unsigned long gen = a.gen;
    int rc = 0;
    CASE("steps: %s", steps[i].name);
    switch (steps[i].op) {
      case SET:
      case SET_STATIC:
        rc = soget_auth_set(&a, steps[i].tok, strlen(steps[i].tok), steps[i].expires_in,
                            steps[i].now, steps[i].op == SET_STATIC);
        break;
      case INVALIDATE: rc = soget_auth_invalidate(&a); break;
      case FREE: soget_auth_free(&a); break;
      case ASK: break;
    }
    CHECK_INT(rc, steps[i].rc);
    CHECK_STR(a.token, steps[i].tok);
    CHECK_INT(a.token_len, steps[i].tok ? strlen(steps[i].tok) : 0);
    CHECK_INT(soget_auth_needs_token(&a, steps[i].ask_at), steps[i].needs);
    CHECK_INT(a.gen != gen, steps[i].gen_changes);
  }
  soget_auth_free(&a);
}

static void test_copy(void) {
  soget_auth a;
  char tok[] = "abc\0def-and-more";
  CASE("set: copies len bytes and ends them with a NUL");
  soget_auth_init(&a);
  CHECK_INT(soget_auth_set(&a, tok, 7, 60, 0, 0), 0);
  CHECK(a.token != tok);
  CHECK_MEM(a.token, a.token_len, "abc\0def", 7);
  CHECK_INT(a.token[7], 0);
  tok[0] = 'X';   /* the caller's bytes are not the state's */
  CHECK_INT(a.token[0], 'a');
  soget_auth_free(&a);
  CHECK(a.token == NULL);
  CHECK_INT(a.token_len, 0);
  soget_auth_free(&a);   /* twice is harmless */
  CHECK(a.token == NULL);
}

static const struct {
  const char *name;
  size_t from, n;
} wipes[] = {
  {"nothing", 0, 0},
  {"one byte", 3, 1},
  {"a middle run", 2, 9},
  {"all", 0, 16},
};

static void test_wipe(void) {
  size_t i, k;
  for (i = 0; i < COUNT(wipes); i++) {
    char buf[16];
    int ok = 1;
    CASE("wipe: %s", wipes[i].name);
    memset(buf, 'x', sizeof buf);
    soget_wipe(buf + wipes[i].from, wipes[i].n);
    for (k = 0; k < sizeof buf; k++) {
      int wiped = k >= wipes[i].from && k < wipes[i].from + wipes[i].n;
      ok &= buf[k] == (wiped ? 0 : 'x');
    }
    CHECK(ok);
  }
}

/* The wiping allocator zlib and libyajl are given: malloc's alignment,
 * realloc's contents, the sizes it refuses, and nothing of a block left
 * once it is freed or left for a larger one. */
static void test_wiping_alloc(void) {
  unsigned char *p, *q;
  size_t i;
  int ok = 1;
  long n;
  CASE("wiping allocator: aligned as malloc, contents kept by realloc, too large refused");
  p = soget_wiping_malloc(100);
  CHECK(p != NULL);
  if (!p) return;
  CHECK_INT((uintptr_t)p % _Alignof(max_align_t), 0);
  for (i = 0; i < 100; i++) p[i] = (unsigned char)i;
  q = soget_wiping_realloc(p, 5000);
  CHECK(q != NULL);
  if (!q) return;
  for (i = 0; i < 100; i++) ok &= q[i] == (unsigned char)i;
  CHECK(ok);
  p = soget_wiping_realloc(q, 10);   /* smaller: the first 10 bytes */
  CHECK(p != NULL);
  if (!p) return;
  for (i = 0, ok = 1; i < 10; i++) ok &= p[i] == (unsigned char)i;
  CHECK(ok);
  soget_wiping_free(p);
  soget_wiping_free(NULL);
  CHECK(soget_wiping_malloc((size_t)-1) == NULL);
  CHECK(soget_wiping_malloc((size_t)-1 - 8) == NULL);
  q = soget_wiping_realloc(NULL, 16);   /* realloc of NULL is malloc */
  CHECK(q != NULL);
  soget_wiping_free(q);

  CASE("wiping allocator: a block left for a larger one, and one freed, keep nothing");
  p = soget_wiping_malloc(256);
  CHECK(p != NULL);
  if (!p) return;
  memset(p, '.', 256);
  memscan_fill(p + 64, 909);
  q = soget_wiping_realloc(p, 64 * 1024);   /* a block of another size class: it moves */
  CHECK(q != NULL);
  if (!q) return;
  n = memscan_count(909, NULL, 0);
  if (n < 0) {
    printf("  (no /proc/self/mem: left out)\n");
  } else {
    CHECK_INT(n, 1);   /* the new block */
    CHECK_INT(memscan_count(909, q, 64 * 1024), 0);
  }
  soget_wiping_free(q);
  if (n >= 0) CHECK_INT(memscan_count(909, NULL, 0), 0);
}

int main(void) {
  test_margins();
  test_steps();
  test_copy();
  test_wipe();
  test_wiping_alloc();
  return CHECK_DONE();
}
