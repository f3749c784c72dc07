/* Error values: kinds, messages, and the scrubbing of secrets from them.
 * Knows nothing about Lua (src/lua/errors.c makes soget.Error tables). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

void soget_err_clear(soget_err *e) {
  e->kind = NULL;
  e->status = 0;
  e->code[0] = '\0';
  e->message[0] = '\0';
  e->retryable = 0;
  e->retry_after = -1;
  e->nomem = 0;
  e->cut = 0;
}

void soget_err_nomem(soget_err *e, const char *what) {
  soget_err_set(e, NULL, 0, 0, "not enough memory %s", what);
  e->code[0] = '\0';
  e->nomem = 1;
}

void soget_err_interrupted(soget_err *e) {
  soget_err_set(e, SOGET_KIND_INTERRUPTED, 0, 0, "stopped before the call completed");
}

void soget_err_set(soget_err *e, const char *kind, long status, int retryable,
                   const char *fmt, ...) {
  va_list ap;
  int n;
  e->kind = kind;
  e->status = status;
  e->retryable = retryable;
  e->retry_after = -1;
  e->nomem = 0;
  va_start(ap, fmt);
  n = vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  e->cut = n < 0 || (size_t)n >= sizeof e->message;
}

/* A secret is looked for in a text read three ways: as it is; with each
 * %XX read as the byte it encodes (hex digits in either case: soget's own
 * percent-encoding of the token form, a server's re-encoding of it, or of
 * a URL soget sent, `~` as %7E...); and with '+' read as a space too (the
 * form encoding of other software). */
enum { READ_AS_IS, READ_PERCENT, READ_FORM };

/* text (at most SCRUB_MAX - 1 bytes) as `how` reads it, into out; at[i]
 * is where out[i] begins in text, at[n] its end. Returns n. */
#define SCRUB_MAX (sizeof ((soget_err *)0)->message)
static size_t read_as(const char *text, int how, char *out, unsigned short *at) {
  size_t i = 0, n = 0;
  while (text[i]) {
    int hi, lo;
    at[n] = (unsigned short)i;
    if (how != READ_AS_IS && text[i] == '%' &&
        (hi = soget_hex_digit((unsigned char)text[i + 1])) >= 0 &&
        (lo = soget_hex_digit((unsigned char)text[i + 2])) >= 0) {
      out[n++] = (char)(hi * 16 + lo);
      i += 3;
    } else if (how == READ_FORM && text[i] == '+') {
      out[n++] = ' ';
      i++;
    } else {
      out[n++] = text[i++];
    }
  }
  at[n] = (unsigned short)i;
  return n;
}

/* Replaces text[from, to) with "***" (to - from >= SOGET_SECRET_MIN: the
 * text gets shorter). */
static void mask(char *text, size_t from, size_t to) {
  memmove(text + from + 3, text + to, strlen(text + to) + 1);
  memcpy(text + from, "***", 3);
}

/* Masks in text one occurrence of the secret s (sl bytes) as `how` reads
 * it, or of a start of it (SOGET_SECRET_MIN bytes or more) that the text
 * shows was cut: one that ends a text that was cut (a '%' and a hex digit
 * of an escape cut after it go too), or that "..." follows (soget's mark
 * of a path cut between its segments). Returns whether it masked one. */
static int mask_one(char *text, const char *s, size_t sl, int how, int cut) {
  char r[SCRUB_MAX];
  unsigned short at[SCRUB_MAX + 1];
  size_t n = read_as(text, how, r, at), i, k, tl, end;
  if (n >= sl) {
    for (i = 0; i + sl <= n; i++) {
      if (r[i] == s[0] && memcmp(r + i, s, sl) == 0) {
        mask(text, at[i], at[i + sl]);
        return 1;
      }
    }
  }
  for (i = SOGET_SECRET_MIN; i + 3 <= n; i++) {
    if (memcmp(r + i, "...", 3) != 0) continue;
    for (k = i < sl - 1 ? i : sl - 1; k >= SOGET_SECRET_MIN; k--) {
      if (memcmp(r + i - k, s, k) == 0) {
        mask(text, at[i - k], at[i]);
        return 1;
      }
    }
  }
  if (!cut) return 0;
  tl = strlen(text);
  end = n;   /* an escape cut at the end: its '%' (and hex digit) left out */
  if (how != READ_AS_IS) {
    if (tl >= 1 && text[tl - 1] == '%') end = n - 1;
    else if (tl >= 2 && text[tl - 2] == '%' && soget_hex_digit((unsigned char)text[tl - 1]) >= 0)
      end = n - 2;
  }
  for (k = end < sl - 1 ? end : sl - 1; k >= SOGET_SECRET_MIN; k--) {
    if (memcmp(r + end - k, s, k) == 0) {
      mask(text, at[end - k], tl);
      return 1;
    }
  }
  return 0;
}

/* Masks every occurrence, read every way, until none is left: each mask
 * shortens the text, so this ends; looking again from the start finds an
 * occurrence a mask itself completes (a secret that begins or ends with
 * '*'). */
static void scrub_text(char *text, const char *s, size_t sl, int cut) {
  int how = READ_AS_IS;
  while (how <= READ_FORM) {
    if (mask_one(text, s, sl, how, cut)) how = READ_AS_IS;
    else how++;
  }
}

void soget_err_scrub(soget_err *e, const char *const *secrets, int n) {
  int i;
  for (i = 0; i < n; i++) {
    const char *s = secrets[i];
    size_t sl;
    if (!s || (sl = strlen(s)) < SOGET_SECRET_MIN) continue;
    scrub_text(e->message, s, sl, e->cut);
    scrub_text(e->code, s, sl, strlen(e->code) + 1 >= sizeof e->code);
  }
}

void soget_err_printable(soget_err *e) {
  char tmp[sizeof e->message];
  size_t n = soget_printable(tmp, sizeof tmp, e->message, strlen(e->message), 0);
  if (n + 11 > sizeof tmp) e->cut = 1;   /* its escapes (10 bytes at most) may not all fit */
  memcpy(e->message, tmp, n + 1);
  n = soget_printable(tmp, sizeof e->code, e->code, strlen(e->code), 0);
  memcpy(e->code, tmp, n + 1);
}
