/* Token and error bodies through libyajl's event parser: only the
 * top-level members soget needs are kept; nothing else is built. */
#include "body.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "auth.h"
#include "text.h"

#define BODY_MAX_DEPTH 200   /* as the page decoder's */

enum { KEY_NONE, KEY_A, KEY_B, KEY_NUM };

typedef struct reader {
  int depth;
  int pending;              /* which wanted key the last top-level key was */
  int top_object;           /* the body's value is an object */
  const char *akey, *bkey, *numkey;
  /* error fields: copied into the caller's buffers */
  char *a, *b;
  size_t asz, bsz;
  /* token: a malloc'ed copy (a), its length; nomem when a copy failed */
  int copy_a;
  char *tok;
  size_t tok_len;
  int tok_is_string;
  int b_seen;               /* bkey was given, whatever its value */
  int nomem;
  double num;               /* numkey's value, NaN when absent or bad */
  yajl_handle h;
  size_t end;               /* where the body's value ends; 0 until it has */
} reader;

/* A number as JSON writes it, whatever the locale's decimal point. */
static double parse_number(const char *s, size_t n) {
  char buf[64], *end;
  const char *dp = localeconv()->decimal_point;
  size_t i;
  double d;
  if (n == 0 || n >= sizeof buf) return strtod("nan", NULL);
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '.' && dp && dp[0] && !dp[1]) c = dp[0];
    buf[i] = c;
  }
  buf[n] = '\0';
  d = strtod(buf, &end);
  while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
  return end != buf && *end == '\0' ? d : strtod("nan", NULL);
}

static void copy_c(char *dst, size_t dstsz, const unsigned char *s, size_t n) {
  size_t i;
  if (n >= dstsz) n = dstsz - 1;
  for (i = 0; i < n; i++) dst[i] = s[i] ? (char)s[i] : '?';
  dst[n] = '\0';
}

static int on_value(reader *r) {
  if (r->depth == 1) r->pending = KEY_NONE;
  if (r->depth == 0) r->end = yajl_get_bytes_consumed(r->h);
  return 1;
}

/* A top-level member that is no string: a wanted key repeated so is no
 * longer given (the last one counts). */
static void not_string(reader *r) {
  if (r->depth != 1) return;
  switch (r->pending) {
    case KEY_A:
      if (r->copy_a) r->tok_is_string = 0;
      else r->a[0] = '\0';
      break;
    case KEY_B: r->b[0] = '\0'; break;
    case KEY_NUM: r->num = strtod("nan", NULL); break;
  }
}

static int cb_null(void *ctx) {
  reader *r = ctx;
  not_string(r);
  if (r->depth == 1 && r->pending == KEY_B) r->b_seen = 0;   /* null: as if left out */
  return on_value(r);
}

static int cb_boolean(void *ctx, int v) {
  (void)v;
  not_string(ctx);
  return on_value(ctx);
}

static int cb_number(void *ctx, const char *s, size_t n) {
  reader *r = ctx;
  if (r->depth == 1 && r->pending == KEY_NUM) r->num = parse_number(s, n);
  else not_string(r);
  return on_value(r);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n) {
  reader *r = ctx;
  if (r->depth != 1) return on_value(r);
  switch (r->pending) {
    case KEY_A:
      if (r->copy_a) {
        char *t = malloc(n + 1);
        if (!t) {
          r->nomem = 1;
          return 0;
        }
        memcpy(t, s, n);
        t[n] = '\0';
        if (r->tok) {
          soget_wipe(r->tok, r->tok_len);
          free(r->tok);
        }
        r->tok = t;
        r->tok_len = n;
        r->tok_is_string = 1;
      } else {
        copy_c(r->a, r->asz, s, n);
      }
      break;
    case KEY_B:
      copy_c(r->b, r->bsz, s, n);
      break;
    case KEY_NUM: {
      /* a decimal number as JSON writes one, and all of the string:
       * "300\u0000x" holds no number, nor do "0x10", "inf" or "nan",
       * which strtod would read */
      size_t i;
      for (i = 0; i < n && strchr("0123456789+-.eE \t\r\n", s[i]) && s[i]; i++) {}
      r->num = i < n ? strtod("nan", NULL) : parse_number((const char *)s, n);
      break;
    }
  }
  return on_value(r);
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t n) {
  reader *r = ctx;
  if (r->depth != 1) return 1;
  r->pending = KEY_NONE;
  if (r->akey && n == strlen(r->akey) && memcmp(k, r->akey, n) == 0) r->pending = KEY_A;
  else if (r->bkey && n == strlen(r->bkey) && memcmp(k, r->bkey, n) == 0) {
    r->pending = KEY_B;
    r->b_seen = 1;
  }
  else if (r->numkey && n == strlen(r->numkey) && memcmp(k, r->numkey, n) == 0)
    r->pending = KEY_NUM;
  return 1;
}

static int open_container(reader *r, int object) {
  if (r->depth == 0) r->top_object = object;
  not_string(r);
  if (r->depth == 1) r->pending = KEY_NONE;
  return ++r->depth <= BODY_MAX_DEPTH;
}

static int cb_start_map(void *ctx) { return open_container(ctx, 1); }
static int cb_start_array(void *ctx) { return open_container(ctx, 0); }

static int cb_end(void *ctx) {
  reader *r = ctx;
  if (--r->depth == 0) r->end = yajl_get_bytes_consumed(r->h);
  return 1;
}

static const yajl_callbacks callbacks = {cb_null,      cb_boolean, NULL,   NULL,
                                         cb_number,    cb_string,  cb_start_map,
                                         cb_map_key,   cb_end,     cb_start_array,
                                         cb_end};

/* libyajl's memory: its lexer unescapes a string with escapes (a token
 * sent as "a\/b") into a buffer of its own, which it grows and frees:
 * wiped each time (auth.h). */
static void *y_malloc(void *ctx, size_t n) {
  (void)ctx;
  return soget_wiping_malloc(n);
}

static void *y_realloc(void *ctx, void *p, size_t n) {
  (void)ctx;
  return soget_wiping_realloc(p, n);
}

static void y_free(void *ctx, void *p) {
  (void)ctx;
  soget_wiping_free(p);
}

static yajl_alloc_funcs wiping_alloc = {y_malloc, y_realloc, y_free, NULL};

/* Parses body with r: 0 when it is valid JSON, else -1 with why (a static
 * or yajl-owned message copied into why). Where libyajl is laxer than
 * JSON, this decides as the page decoder does (src/lua/decode.c): a
 * vertical tab or a form feed fails, an unpaired surrogate escape (which
 * yajl would make '?' or another code point: another token) fails, and
 * only white space may follow the value (yajl lets an unterminated string
 * there pass). */
static int run(reader *r, const char *body, size_t len, char *why, size_t whysz) {
  size_t cut = soget_json_prefix(body, len), i;
  const char *u;
  yajl_status st;
  int ok;
  r->h = yajl_alloc(&callbacks, &wiping_alloc, r);
  if (!r->h) {
    r->nomem = 1;
    return -1;
  }
  yajl_config(r->h, yajl_dont_validate_strings, 1);   /* bytes as sent */
  st = yajl_parse(r->h, (const unsigned char *)body, cut);
  if (st == yajl_status_ok && cut == len) {
    st = yajl_complete_parse(r->h);
    /* (a number alone is only ended by the end of the text, where yajl
     * counts its own bytes, not the body's: the value ends the body) */
    if (st == yajl_status_ok && r->end == 0) r->end = len;
  }
  ok = st == yajl_status_ok && r->end > 0;
  if (!ok && why) {
    if (r->depth > BODY_MAX_DEPTH) {
      snprintf(why, whysz, "nested too deeply");
    } else if (st == yajl_status_ok) {   /* the text before it was JSON, unfinished */
      snprintf(why, whysz, "%s at character %lu", body[cut] == '\v' ? "a vertical tab" :
               "a form feed", (unsigned long)cut + 1);
    } else {
      unsigned char *m = yajl_get_error(r->h, 0, (const unsigned char *)body, len);
      size_t n = m ? strcspn((const char *)m, "\n") : 0;
      const char *p = m ? (const char *)m : "";
      if (strncmp(p, "parse error: ", 13) == 0) p += 13, n -= 13;
      copy_c(why, whysz, (const unsigned char *)p, n);
      if (m) yajl_free_error(r->h, m);
    }
  }
  yajl_free(r->h);
  r->h = NULL;
  if (!ok) return -1;
  for (i = r->end; i < len; i++) {
    if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' && body[i] != '\t') {
      if (why)
        snprintf(why, whysz, "%s at character %lu", body[i] == '\v' ? "a vertical tab" :
                 body[i] == '\f' ? "a form feed" : "trailing garbage", (unsigned long)i + 1);
      return -1;
    }
  }
  if ((u = soget_json_unpaired_surrogate(body, len)) != NULL) {
    if (why) snprintf(why, whysz, "an unpaired UTF-16 surrogate escape at character %lu",
                      (unsigned long)(u - body) + 1);
    return -1;
  }
  return 0;
}

int soget_body_error_fields(const char *body, size_t len, const char *codekey,
                            char *code, size_t codesz, const char *msgkey, char *msg,
                            size_t msgsz) {
  reader r;
  code[0] = msg[0] = '\0';
  if (len == 0) return 0;
  memset(&r, 0, sizeof r);
  r.akey = codekey;
  r.bkey = msgkey;
  r.a = code;
  r.asz = codesz;
  r.b = msg;
  r.bsz = msgsz;
  if (run(&r, body, len, NULL, 0) != 0 || !r.top_object) {
    code[0] = msg[0] = '\0';
    return 0;
  }
  return code[0] || msg[0];
}

/* A token_type that says Bearer: ASCII letters in any case (RFC 6749,
 * 5.1), nothing before or after. */
static int is_bearer(const char *t) {
  static const char want[] = "bearer";
  size_t i;
  for (i = 0; want[i]; i++) {
    char c = t[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != want[i]) return 0;
  }
  return t[i] == '\0';
}

double soget_body_token(const char *body, size_t len, char **tok, size_t *tok_len,
                        soget_err *e) {
  reader r;
  char why[128];
  char type[8];   /* one byte more than "bearer" needs: a longer one differs */
  double expires_in;
  memset(&r, 0, sizeof r);
  r.akey = "access_token";
  r.bkey = "token_type";
  r.b = type;
  r.bsz = sizeof type;
  type[0] = '\0';
  r.numkey = "expires_in";
  r.copy_a = 1;
  r.num = strtod("nan", NULL);
  why[0] = '\0';
  *tok = NULL;
  *tok_len = 0;
  if (run(&r, body, len, why, sizeof why) != 0 || !r.top_object || r.nomem) {
    if (r.nomem) soget_err_nomem(e, "reading the token response");
    else if (why[0]) soget_err_set(e, "decode", 0, 0, "token response is not valid JSON: %s", why);
    else soget_err_set(e, "decode", 0, 0, "token response is not a JSON object");
    if (r.tok) {
      soget_wipe(r.tok, r.tok_len);
      free(r.tok);
    }
    return -1;
  }
  if (!r.tok || !r.tok_is_string || r.tok_len == 0) {
    if (r.tok) {
      soget_wipe(r.tok, r.tok_len);
      free(r.tok);
    }
    soget_err_set(e, "decode", 0, 0, "token response has no access_token");
    return -1;
  }
  if (r.b_seen && !is_bearer(type)) {
    /* RFC 6749, 7.1: a client must not use a token whose type it does not
     * understand; its value is not repeated (a server's text, maybe a
     * secret sent back) */
    soget_wipe(r.tok, r.tok_len);
    free(r.tok);
    soget_err_set(e, "auth", 0, 0, "token response: its token_type is not Bearer, "
                  "the only kind of token soget sends");
    return -1;
  }
  expires_in = r.num;
  if (!(expires_in >= 0) || expires_in > 1e9) expires_in = 0;
  *tok = r.tok;
  *tok_len = r.tok_len;
  return expires_in;
}
