/* Writing JSON strings and numbers (see jsonw.h). */
#include "jsonw.h"

#include <locale.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int soget_jsonw_string(soget_buf *b, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, run = 0;   /* bytes copied as they are, not yet appended */
  if (soget_buf_addc(b, '"')) return -1;
  while (i < len) {
    unsigned long cp;
    size_t k;
    char esc[24];
    const char *out = NULL;
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {   /* the common case */
      i++;
      run++;
      continue;
    }
    k = soget_utf8_seq(p + i, len - i, &cp);
    /* U+FFFD is written as the escape that stands for a byte that is not
     * UTF-8 too: two strings that read back the same are the same bytes
     * (soget.encode tells two keys that would read back as one so) */
    if (k == 0 || cp == 0xfffd) {
      out = "\\ufffd";
      if (k == 0) k = 1;
    } else if (cp == '"') out = "\\\"";
    else if (cp == '\\') out = "\\\\";
    else if (cp == '\b') out = "\\b";
    else if (cp == '\f') out = "\\f";
    else if (cp == '\n') out = "\\n";
    else if (cp == '\r') out = "\\r";
    else if (cp == '\t') out = "\\t";
    else if (cp > 0xffff && soget_invisible_control(cp)) {   /* (a tag, private use) */
      unsigned long v = cp - 0x10000;
      snprintf(esc, sizeof esc, "\\u%04lx\\u%04lx", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      out = esc;
    } else if (cp < 0x20 || cp == 0x7f || soget_invisible_control(cp)) {
      snprintf(esc, sizeof esc, "\\u%04lx", cp);
      out = esc;
    }
    if (!out) {   /* other UTF-8: as it is */
      i += k;
      run += k;
      continue;
    }
    if (run && soget_buf_add(b, p + i - run, run)) return -1;
    run = 0;
    if (soget_buf_adds(b, out)) return -1;
    i += k;
  }
  if (run && soget_buf_add(b, p + i - run, run)) return -1;
  return soget_buf_addc(b, '"');
}

int soget_jsonw_integer(soget_buf *b, long long v) {
  return soget_buf_addf(b, "%lld", v);
}

int soget_jsonw_number(soget_buf *b, double d) {
  char num[40];
  const char *dp;
  size_t dpn, i, n;
  int prec;
  if (d != d) return -1;
  if (isinf(d)) return soget_buf_adds(b, d > 0 ? "1e400" : "-1e400");
  /* a whole number below 2^53 in digits, as an integer of Lua 5.3+ is
   * written (soget.decode gives one there, a float on 5.1 and LuaJIT):
   * the same bytes on every runtime */
  if (d == floor(d) && fabs(d) < 9007199254740992.0) {
    if (d == 0 && signbit(d)) return soget_buf_adds(b, "-0");
    return soget_buf_addf(b, "%.0f", d);
  }
  /* the fewest digits that read back: a normal double whose shortest form
   * has 15 digits or fewer reads back from %.15g, which drops trailing
   * zeros; a subnormal one has fewer digits of precision, down to one */
  for (prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
    snprintf(num, sizeof num, "%.*g", prec, d);
    if (strtod(num, NULL) == d) break;
  }
  /* %g and strtod use the locale's decimal point: JSON's is '.' */
  dp = localeconv()->decimal_point;
  dpn = dp ? strlen(dp) : 0;
  n = strlen(num);
  if (dpn > 0 && !(dpn == 1 && dp[0] == '.')) {
    char *at = strstr(num, dp);
    if (at) {
      *at = '.';
      memmove(at + 1, at + dpn, n - (size_t)(at - num) - dpn + 1);
      n = strlen(num);
    }
  }
  for (i = 0; i < n; i++)   /* "1e+20" is JSON; nothing else needs care */
    if (num[i] == ',') num[i] = '.';
  return soget_buf_add(b, num, n);
}
