/* ISO 6346 check digit: letters map to 10..38 skipping multiples of 11,
 * each position weighted by 2^i, sum mod 11, and 10 counts as 0. */
#include "iso6346.h"

#include <stdio.h>

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
  int i, cd;
  if (len != 11) return "must be 11 characters long";
  for (i = 0; i < 3; i++)
    if (s[i] < 'A' || s[i] > 'Z')
      return "owner code (characters 1-3) must be capital letters";
  if (s[3] != 'U' && s[3] != 'J' && s[3] != 'Z')
    return "category identifier (character 4) must be U, J or Z";
  for (i = 4; i < 11; i++)
    if (s[i] < '0' || s[i] > '9')
      return "serial number and check digit (characters 5-11) must be digits";
  cd = soget_iso6346_check_digit(s);
  if (cd != s[10] - '0') {
    snprintf(buf, bufsz, "check digit is %c, expected %d", s[10], cd);
    return buf;
  }
  return NULL;
}
