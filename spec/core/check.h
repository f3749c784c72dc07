/* Checks for the C tests of src/core/ (spec/core/): plain C11, no Lua,
 * no framework. Each test file is a table of cases and a loop over it:
 *
 *   CASE("%s", t->name);              names the case the next checks are of
 *   SUBCASE("byte %d", c);            names a step of it (not counted)
 *   CHECK(cond);                      CHECK_INT(got, want);
 *   CHECK_STR(got, want);             CHECK_MEM(got, gotlen, want, wantlen);
 *   CHECK_NEAR(got, want, tolerance); return CHECK_DONE();
 *
 * A failed check prints file:line, the case and both values (bytes that are
 * not printable ASCII as \xNN), and is counted; CHECK_DONE prints one line
 * for the file and gives main's exit status (0 when every check passed). */
#ifndef SOGET_SPEC_CHECK_H
#define SOGET_SPEC_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures, check_checks, check_cases;
static char check_case[200];

#define CASE(...) \
  (check_cases++, snprintf(check_case, sizeof check_case, __VA_ARGS__))
/* Renames the current case for the checks that follow (a loop's step),
 * without counting another case. */
#define SUBCASE(...) snprintf(check_case, sizeof check_case, __VA_ARGS__)

static inline void check_show(const char *s, size_t n) {
  size_t i;
  if (!s) { fputs("NULL", stderr); return; }
  fputc('"', stderr);
  for (i = 0; i < n && i < 300; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') fputc(c, stderr);
    else fprintf(stderr, "\\x%02x", c);
  }
  fputs(i < n ? "\"... (" : "\" (", stderr);
  fprintf(stderr, "%zu bytes)", n);
}

static inline int check_fail(const char *file, int line, const char *what) {
  check_failures++;
  fprintf(stderr, "%s:%d: FAILED [%s] %s\n", file, line, check_case, what);
  return 0;
}

static inline int check_mem(const char *file, int line, const char *expr,
                            const char *got, size_t gn, const char *want, size_t wn) {
  check_checks++;
  if ((!got && !want) || (got && want && gn == wn && memcmp(got, want, gn) == 0))
    return 1;
  check_fail(file, line, expr);
  fputs("    got:  ", stderr); check_show(got, gn); fputc('\n', stderr);
  fputs("    want: ", stderr); check_show(want, wn); fputc('\n', stderr);
  return 0;
}

static inline int check_int(const char *file, int line, const char *expr,
                            long long got, long long want) {
  check_checks++;
  if (got == want) return 1;
  check_fail(file, line, expr);
  fprintf(stderr, "    got:  %lld\n    want: %lld\n", got, want);
  return 0;
}

static inline int check_near(const char *file, int line, const char *expr,
                             double got, double want, double tol) {
  check_checks++;
  if (got >= want - tol && got <= want + tol) return 1;
  check_fail(file, line, expr);
  fprintf(stderr, "    got:  %.17g\n    want: %.17g (+/- %g)\n", got, want, tol);
  return 0;
}

static inline int check_true(const char *file, int line, const char *expr, int ok) {
  check_checks++;
  return ok ? 1 : check_fail(file, line, expr);
}

#define CHECK(cond) check_true(__FILE__, __LINE__, #cond, (cond) != 0)
#define CHECK_INT(got, want) \
  check_int(__FILE__, __LINE__, #got " == " #want, (long long)(got), (long long)(want))
#define CHECK_NEAR(got, want, tol) \
  check_near(__FILE__, __LINE__, #got " ~ " #want, (got), (want), (tol))
#define CHECK_MEM(got, gn, want, wn) \
  check_mem(__FILE__, __LINE__, #got " == " #want, (got), (gn), (want), (wn))
#define CHECK_STR(got, want)                                                \
  do {                                                                      \
    const char *check_g_ = (got), *check_w_ = (want);                       \
    check_mem(__FILE__, __LINE__, #got " == " #want, check_g_,              \
              check_g_ ? strlen(check_g_) : 0, check_w_,                    \
              check_w_ ? strlen(check_w_) : 0);                             \
  } while (0)

/* One line for the file; main's exit status. */
#define CHECK_DONE() check_done(__FILE__)
static inline int check_done(const char *file) {
  if (check_failures == 0) {
    printf("%s: %d cases passed (%d checks)\n", file, check_cases, check_checks);
    return 0;
  }
  printf("%s: FAILED: %d of %d checks (%d cases)\n", file, check_failures,
         check_checks, check_cases);
  return 1;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal as two table fields, its bytes and its length (NULs
 * inside included): { BYTES("a\0b") } is { "a\0b", 3 }. */
#define BYTES(lit) lit, sizeof(lit) - 1

#endif
