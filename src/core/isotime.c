/* ISO 8601 date-times to seconds since the epoch (see isotime.h). */
#include "isotime.h"

/* n digits at s[*i] as a number, advancing *i; -1 when they are not all
 * there. */
static long digits(const char *s, size_t len, size_t *i, int n) {
  long v = 0;
  int k;
  if (len - *i < (size_t)n) return -1;
  for (k = 0; k < n; k++) {
    char c = s[*i + (size_t)k];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *i += (size_t)n;
  return v;
}

static int leap(long y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(long y, long m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static long days_from_civil(long y, long m, long d) {
  long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int soget_isotime_parse_ns(const char *s, size_t len, long long *sec_out, long *ns_out) {
  size_t i = 0;
  long y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, ns = 0, scale = 100000000L;
  int sign = 0;
  if (!s) return -1;
  if ((y = digits(s, len, &i, 4)) < 0 || i >= len || s[i++] != '-') return -1;
  if ((mo = digits(s, len, &i, 2)) < 1 || mo > 12 || i >= len || s[i++] != '-') return -1;
  if ((d = digits(s, len, &i, 2)) < 1 || d > month_days(y, mo)) return -1;
  if (i < len) {
    char c = s[i++];
    if (c != 'T' && c != 't' && c != ' ') return -1;
    if ((h = digits(s, len, &i, 2)) < 0 || h > 23 || i >= len || s[i++] != ':') return -1;
    if ((mi = digits(s, len, &i, 2)) < 0 || mi > 59) return -1;
    if (i < len && s[i] == ':') {
      i++;
      if ((sec = digits(s, len, &i, 2)) < 0 || sec > 60) return -1;
      if (i < len && (s[i] == '.' || s[i] == ',')) {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
          ns += (s[i] - '0') * scale;   /* nanoseconds: digits beyond, dropped */
          scale /= 10;
          i++;
        }
        if (i == start) return -1;
      }
    }
    if (i < len) {
      c = s[i++];
      if (c == 'Z' || c == 'z') {
        if (i != len) return -1;
      } else if (c == '+' || c == '-') {
        sign = c == '+' ? 1 : -1;
        if ((oh = digits(s, len, &i, 2)) < 0 || oh > 23) return -1;
        if (i < len) {
          if (s[i] == ':') i++;
          if ((om = digits(s, len, &i, 2)) < 0 || om > 59) return -1;
        }
        if (i != len) return -1;
      } else {
        return -1;
      }
    }
  }
  if (sec == 60) {   /* a leap second: 23:59:60 UTC, whatever the offset shown */
    long m = (h * 60 + mi - sign * (oh * 60 + om)) % 1440;
    if (m < 0) m += 1440;
    if (m != 1439) return -1;
    sec = 59;             /* counted in the second before it, past its end: */
    ns += 1000000000L;    /* after 23:59:59.999999999, before the next day */
  }
  *sec_out = (long long)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
             sign * (oh * 3600 + om * 60);
  *ns_out = ns;
  return 0;
}

int soget_isotime_parse(const char *s, size_t len, double *t) {
  long long sec;
  long ns;
  if (soget_isotime_parse_ns(s, len, &sec, &ns) != 0) return -1;
  *t = (double)sec + (double)ns / 1e9;
  return 0;
}
