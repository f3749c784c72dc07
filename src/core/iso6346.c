/* ISO 6346 check digit: letters map to 10..38 skipping multiples of 11,
 * each position weighted by 2^i, sum mod 11, and 10 counts as 0. */
#include "iso6346.h"

#include <stdio.h>

#include "text.h"

static int letter_value(char c) {
  static const int v[26] = {10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24,
                            25, 26, 27, 28, 29, 30, 31, 32, 34, 35, 36, 37, 38};
  return (c >= 'A' && c <= 'Z') ? v[c - 'A'] : -1;
}

int soget_iso6346_check_digit(const char *s) {
  int i, sum = 0;
  for (i = 0; i < 10; i++) {
    int v;
    if (i < 4) v = letter_value(s[i]);
    else v = (s[i] >= '0' && s[i] <= '9') ? s[i] - '0' : -1;
    if (v < 0) return -1;
    sum += v << i;
  }
  return (sum % 11) % 10;
}

const char *soget_iso6346_problem(const char *s, size_t len, char *buf,
                                  size_t bufsz) {
  /* The length in characters, as a person counts them (UTF-8; a byte that
   * is not UTF-8 counts as one), so that 11 characters with a letter
   * outside ASCII (U+00C4, a fullwidth C) are told by the position that
   * letter is at, not called too long: each position keeps its
   * character's first byte, which for any character but ASCII is at
   * least 0x80 and passes no check below. */
  char c[11];
  size_t i = 0, n = 0;
  int k, cd;
  while (i < len) {
    unsigned long cp;
    size_t step = soget_utf8_seq((const unsigned char *)s + i, len - i, &cp);
    if (n < sizeof c) c[n] = s[i];
    n++;
    i += step ? step : 1;
  }
  if (n != 11) return "must be 11 characters long";
  for (k = 0; k < 3; k++)
    if (c[k] < 'A' || c[k] > 'Z')
      return "owner code (characters 1-3) must be capital letters";
  if (c[3] != 'U' && c[3] != 'J' && c[3] != 'Z')
    return "category identifier (character 4) must be U, J or Z";
  for (k = 4; k < 11; k++)
    if (c[k] < '0' || c[k] > '9')
      return "serial number and check digit (characters 5-11) must be digits";
  /* every character ASCII here: c holds s */
  cd = soget_iso6346_check_digit(c);
  if (cd != c[10] - '0') {
    snprintf(buf, bufsz, "check digit is %c, expected %d", c[10], cd);
    return buf;
  }
  return NULL;
}
