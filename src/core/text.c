/* UTF-8 validation and printable text (see text.h). */
#include "text.h"

#include <stdio.h>
#include <string.h>

/* Decodes the UTF-8 sequence at s (n bytes left): its length, with the
 * code point in *cp, or 0 when it is not valid UTF-8 (RFC 3629). */
size_t soget_utf8_seq(const unsigned char *s, size_t n, unsigned long *cp) {
  unsigned long c = s[0];
  size_t len, i;
  if (c < 0x80) { *cp = c; return 1; }
  if (c >= 0xC2 && c <= 0xDF) { len = 2; c &= 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; c &= 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; c &= 0x07; }
  else return 0;
  if (n < len) return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
      (c >= 0xD800 && c <= 0xDFFF))
    return 0;
  *cp = c;
  return len;
}

size_t soget_utf8_count(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, n = 0;
  while (i < len) {
    unsigned long cp;
    size_t k = soget_utf8_seq(p + i, len - i, &cp);
    if (k == 0) return (size_t)-1;
    i += k;
    n++;
  }
  return n;
}

/* Code points that show nothing of their own and can disguise a text
 * (CGMU\u200b2436601 looks like CGMU2436601): Unicode's format characters
 * (general category Cf) and its other default-ignorable code points
 * (fillers, variation selectors, tags), as of Unicode 15; and the braille
 * blank U+2800, a symbol with no dot that is no space (text tools neither
 * trim nor split at it) and passes for one, and the other symbols drawn
 * blank (the Khitan filler U+16FE4, the musical null notehead U+1D159).
 * Also the code points with no look anyone agreed on, which a font may
 * draw as anything or nothing: private use (U+E000..U+F8FF, planes 15 and
 * 16) and the noncharacters (U+FDD0..U+FDEF, the last two of each plane). */
static int invisible_format(unsigned long cp) {
  if (cp < 0xAD) return 0;
  if ((cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
      (cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000)
    return 1;
  if (cp < 0x2000)
    return cp == 0xAD || cp == 0x34F || (cp >= 0x600 && cp <= 0x605) || cp == 0x6DD ||
           cp == 0x70F || cp == 0x890 || cp == 0x891 || cp == 0x8E2 || cp == 0x115F ||
           cp == 0x1160 || cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F);
  if (cp < 0x10000)
    return (cp >= 0x200B && cp <= 0x200D) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0x2800 ||
           cp == 0x3164 ||
           (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || cp == 0xFFA0 ||
           (cp >= 0xFFF0 && cp <= 0xFFFB);
  return cp == 0x110BD || cp == 0x110CD || (cp >= 0x13430 && cp <= 0x1343F) ||
         cp == 0x16FE4 || (cp >= 0x1BCA0 && cp <= 0x1BCA3) || cp == 0x1D159 ||
         (cp >= 0x1D173 && cp <= 0x1D17A) ||
         (cp >= 0xE0000 && cp <= 0xE0FFF);
}

/* Code points that reorder, break or disguise the text around them. */
int soget_invisible_control(unsigned long cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
         cp == 0x2028 || cp == 0x2029 || invisible_format(cp);
}

size_t soget_printable(char *dst, size_t dstsz, const char *s, size_t len,
                       int keep_lines) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, o = 0;
  while (i < len) {
    unsigned long cp;
    size_t k = soget_utf8_seq(p + i, len - i, &cp);
    char esc[24];
    const char *out = (const char *)p + i;
    size_t outn = k;
    if (k != 0 && keep_lines && (cp == '\n' || cp == '\t')) {
      /* copied as it is */
    } else if (k != 0 && (cp == '\r' || cp == '\n' || cp == '\t')) {
      esc[0] = '\\';
      esc[1] = cp == '\r' ? 'r' : cp == '\n' ? 'n' : 't';
      out = esc;
      outn = 2;
    } else if (k == 0 || cp < 0x20 || cp == 0x7F) {
      snprintf(esc, sizeof esc, "\\x%02x", p[i]);
      out = esc;
      outn = 4;
      k = 1;
    } else if (soget_invisible_control(cp)) {
      outn = (size_t)snprintf(esc, sizeof esc, cp > 0xFFFF ? "\\U%08lx" : "\\u%04lx", cp);
      out = esc;
    }
    if (o + outn >= dstsz) break;
    memcpy(dst + o, out, outn);
    o += outn;
    i += k;
  }
  dst[o] = '\0';
  return o;
}

int soget_hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t soget_json_prefix(const char *s, size_t n) {
  const char *v = memchr(s, '\v', n);
  size_t cut = v ? (size_t)(v - s) : n;
  const char *f = memchr(s, '\f', cut);
  return f ? (size_t)(f - s) : cut;
}

/* The code unit of the \u escape at p (six bytes there): a digit that is
 * no hex digit makes it larger than any surrogate (shifted as unsigned,
 * no UB). */
static unsigned escape_unit(const unsigned char *p) {
  return (unsigned)soget_hex_digit(p[2]) << 12 | (unsigned)soget_hex_digit(p[3]) << 8 |
         (unsigned)soget_hex_digit(p[4]) << 4 | (unsigned)soget_hex_digit(p[5]);
}

const char *soget_json_unpaired_surrogate(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
    unsigned u;
    if (end - p < 6 || p[1] != 'u') {
      if (end - p <= 2) break;
      p += 2;
      continue;
    }
    u = escape_unit(p);
    if (u >= 0xD800 && u <= 0xDBFF && end - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
        escape_unit(p + 6) >= 0xDC00 && escape_unit(p + 6) <= 0xDFFF) {
      p += 12;
    } else if (u >= 0xD800 && u <= 0xDFFF) {
      return (const char *)p;
    } else {
      p += 6;
    }
  }
  return NULL;
}
