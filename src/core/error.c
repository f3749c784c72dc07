/* Error values: kinds, messages, and the scrubbing of secrets from them.
 * Knows nothing about Lua (src/lua/errors.c makes soget.Error tables). */
#include "error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "request.h"
#include "text.h"

void soget_err_clear(soget_err *e) {
  e->kind = NULL;
  e->status = 0;
  e->code[0] = '\0';
  e->message[0] = '\0';
  e->retryable = 0;
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
  e->nomem = 0;
  va_start(ap, fmt);
  n = vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  e->cut = n < 0 || (size_t)n >= sizeof e->message;
}

/* Does text at t match the pattern p (n bytes)? With hexfold, the two hex
 * digits after each '%' of p match in either case (a percent-encoded
 * secret echoed by a server that re-encodes it). */
static int match(const char *t, const char *p, size_t n, int hexfold) {
  size_t i;
  for (i = 0; i < n; i++) {
    char a = t[i], b = p[i];
    if (a == b) continue;
    if (!a || !hexfold || i == 0) return 0;
    if (p[i - 1] != '%' && !(i >= 2 && p[i - 2] == '%')) return 0;
    if (tolower((unsigned char)a) != tolower((unsigned char)b)) return 0;
  }
  return 1;
}

/* Replaces every whole occurrence of the pattern in text with "***", and,
 * when text was cut, a start of it (4 bytes or more) that ends text. After
 * each replacement the search goes back far enough to see an occurrence
 * the mask itself completes (a secret that begins or ends with '*'): each
 * replacement shortens the text, so the search ends. */
static void scrub_text(char *text, const char *pat, size_t pl, int hexfold, int cut) {
  char *p = text;
  size_t tl, k;
  while (*p) {
    if (match(p, pat, pl, hexfold)) {
      memmove(p + 3, p + pl, strlen(p + pl) + 1);
      memcpy(p, "***", 3);
      p = (size_t)(p - text) >= pl - 1 ? p - (pl - 1) : text;
    } else {
      p++;
    }
  }
  if (!cut) return;
  tl = strlen(text);
  for (k = (pl - 1 < tl ? pl - 1 : tl); k >= SOGET_SECRET_MIN; k--) {
    if (match(text + tl - k, pat, k, hexfold)) {
      strcpy(text + tl - k, "***");
      break;
    }
  }
}

static void scrub_all(soget_err *e, const char *pat, size_t pl, int hexfold) {
  scrub_text(e->message, pat, pl, hexfold, e->cut);
  scrub_text(e->code, pat, pl, hexfold, strlen(e->code) + 1 >= sizeof e->code);
}

/* The percent-encoded form soget sends a secret in (the token request's
 * form body), into a new string; NULL on no memory. */
static char *form_encoded(const char *s, size_t sl) {
  soget_buf b;
  soget_buf_init(&b, 0);
  if (soget_url_encode(&b, s, sl) != 0) {
    soget_buf_free(&b);
    return NULL;
  }
  return b.data;
}

void soget_err_scrub(soget_err *e, const char *const *secrets, int n) {
  int i;
  for (i = 0; i < n; i++) {
    const char *s = secrets[i];
    size_t sl;
    char *enc;
    if (!s || (sl = strlen(s)) < SOGET_SECRET_MIN) continue;
    scrub_all(e, s, sl, 0);
    enc = form_encoded(s, sl);
    if (!enc) {   /* cannot tell: say nothing a server sent */
      soget_err_set(e, e->kind, e->status, e->retryable, "%s",
                    "(message withheld: out of memory checking it for secrets)");
      e->code[0] = '\0';
      e->nomem = 1;
      return;
    }
    if (strcmp(enc, s) != 0) scrub_all(e, enc, strlen(enc), 1);
    soget_wipe(enc, strlen(enc));
    free(enc);
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
