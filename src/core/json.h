/* JSON text to a sequence of values, by libsimdjson: the fast path of the
 * page builder (src/lua/decode.c), which turns the values into tables. No
 * Lua here, and no C++ in the interface: the one C++ translation unit
 * (json.cpp) parses and returns, so no C++ frame is on the stack while the
 * builder calls Lua (whose errors unwind with longjmp).
 *
 * simdjson's DOM parser reads the whole body at once, with the kernel it
 * picks for the CPU at run time, and checks all of it: structure, UTF-8,
 * escapes, numbers, nothing but white space after the value. It leaves
 * the values in its tape, one 64-bit word each (two for a number), in the
 * body's order, which soget_json_next reads in place: simdjson describes
 * the tape in its doc/tape.md, and it is unchanged from simdjson 1.x to
 * 3.x (json.cpp checks the version at build time; spec/core/json_spec.c
 * the values read).
 *
 * A parse either gives the whole body or fails; it never says why: on any
 * failure the builder parses the body again with libyajl, which names the
 * problem and its position, and keeps the choices decode.c documents
 * (bytes that are not UTF-8 inside strings are kept, where simdjson
 * refuses them). */
#ifndef SOGET_CORE_JSON_H
#define SOGET_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "visibility.h"

#ifdef __cplusplus
extern "C" {
#endif

SOGET_HIDDEN_BEGIN

/* What soget_json_next reads. A string is a key or a value as its place
 * says: in an object, strings in key places alternate with the values. */
enum {
  SOGET_JSON_OBJECT,   /* n: its members (UINT32_MAX: too many to tell) */
  SOGET_JSON_ARRAY,    /* n: its elements (the same) */
  SOGET_JSON_END,      /* of the innermost object or array */
  SOGET_JSON_STRING,   /* s, n: unescaped (it may hold NUL bytes) */
  SOGET_JSON_INT,      /* i: a whole number in int64's range */
  SOGET_JSON_UINT,     /* u: a whole number above int64's range */
  SOGET_JSON_DOUBLE,   /* d: any other number, correctly rounded */
  SOGET_JSON_TRUE,
  SOGET_JSON_FALSE,
  SOGET_JSON_NULL,
  SOGET_JSON_DONE,     /* the value is read */
  SOGET_JSON_BROKEN    /* a word soget does not know: give up the parse */
};

typedef struct soget_json_val {
  union {
    const char *s;
    int64_t i;
    uint64_t u;
    double d;
  } v;
  uint32_t n;
} soget_json_val;

/* The tape of one parse, read from w to end. */
typedef struct soget_json_it {
  const uint64_t *w, *end;
  const unsigned char *strings;
} soget_json_it;

typedef struct soget_json soget_json;   /* a parser, reusable */

/* A new parser, or NULL when out of memory. */
soget_json *soget_json_new(void);
void soget_json_free(soget_json *j);

/* Results of soget_json_parse. */
enum {
  SOGET_JSON_OK,
  SOGET_JSON_BAD,      /* not JSON as simdjson reads it */
  SOGET_JSON_NOMEM
};

/* Parses body (len bytes, any content). On SOGET_JSON_OK, *it reads the
 * whole value; it and the strings it gives stay valid until the next
 * parse, soget_json_release or soget_json_free. The parser keeps its
 * buffers (about 14 times the largest body parsed) for the next body. */
int soget_json_parse(soget_json *j, const char *body, size_t len, soget_json_it *it);

/* Frees the buffers the parser keeps; it stays usable. Its copy of the
 * body and the strings it unescaped are wiped first (so they are by
 * soget_json_free, and when a larger body makes simdjson replace them). */
void soget_json_release(soget_json *j);

/* simdjson reads the number -0 as the integer 0, where the page builder
 * keeps the sign of a float: 1 when body (len bytes) may hold one, a '-'
 * then a '0' followed by anything but a digit, '.', 'e' or 'E' (or by the
 * end), inside a string or not; then the builder asks libyajl. Dates are
 * full of "-0" followed by a digit, so the bytes are compared 32 at a time
 * with AVX2 where the CPU has it (chosen at run time: the build stays
 * plain x86-64), else a '-' at a time with memchr. The second form is the
 * memchr loop alone, which the tests hold the first to. */
int soget_json_minus_zero(const char *body, size_t len);
int soget_json_minus_zero_portable(const char *body, size_t len);

/* The next value of the tape into *v: returns its SOGET_JSON_* type.
 * Word layout (simdjson's doc/tape.md): the type's character in the top
 * byte; '{' and '[' hold their count in bits 32 to 55 (0xFFFFFF: that
 * many or more); '"' an offset into the string buffer, where a 32-bit
 * length precedes the bytes; 'l', 'u' and 'd' are followed by a word
 * holding the value; the tape ends with an 'r' word. */
#define SOGET_JSON_PAYLOAD(w) ((w) & UINT64_C(0x00FFFFFFFFFFFFFF))

/* A word's type character, for a reader that dispatches on the words
 * themselves (the page builder's walk) rather than through
 * soget_json_next; the two helpers below read what its payload holds. */
#define SOGET_JSON_TAG(w) ((unsigned)((w) >> 56))

/* '{' or '[': the count (UINT32_MAX: that many or more). */
static inline uint32_t soget_json_count(uint64_t w) {
  uint32_t n = (uint32_t)((w >> 32) & 0xFFFFFF);
  return n == 0xFFFFFF ? UINT32_MAX : n;
}

/* '"': the string's bytes, and its length in *n; the second form with
 * it->strings at hand, for a loop that keeps it in a local. */
static inline const char *soget_json_str_in(const unsigned char *strings, uint64_t w,
                                            uint32_t *n) {
  const unsigned char *p = strings + SOGET_JSON_PAYLOAD(w);
  memcpy(n, p, sizeof *n);
  return (const char *)(p + sizeof *n);
}

static inline const char *soget_json_str(const soget_json_it *it, uint64_t w, uint32_t *n) {
  return soget_json_str_in(it->strings, w, n);
}

/* 'l', 'u' or 'd': the number's 8 bytes, the word at *w, into out (an
 * int64_t, a uint64_t or a double), and *w past it; 0 when the tape ends
 * first. */
static inline int soget_json_number(const uint64_t **w, const uint64_t *end, void *out) {
  if (*w >= end) return 0;
  memcpy(out, (*w)++, sizeof **w);
  return 1;
}

static inline int soget_json_next(soget_json_it *it, soget_json_val *v) {
  uint64_t w;
  if (it->w >= it->end) return SOGET_JSON_DONE;
  w = *it->w++;
  switch (SOGET_JSON_TAG(w)) {
    case '{':
    case '[':
      v->n = soget_json_count(w);
      return SOGET_JSON_TAG(w) == '{' ? SOGET_JSON_OBJECT : SOGET_JSON_ARRAY;
    case '}':
    case ']':
      return SOGET_JSON_END;
    case '"':
      v->v.s = soget_json_str(it, w, &v->n);
      return SOGET_JSON_STRING;
    case 'l':
      return soget_json_number(&it->w, it->end, &v->v.i) ? SOGET_JSON_INT : SOGET_JSON_BROKEN;
    case 'u':
      return soget_json_number(&it->w, it->end, &v->v.u) ? SOGET_JSON_UINT : SOGET_JSON_BROKEN;
    case 'd':
      return soget_json_number(&it->w, it->end, &v->v.d) ? SOGET_JSON_DOUBLE : SOGET_JSON_BROKEN;
    case 't': return SOGET_JSON_TRUE;
    case 'f': return SOGET_JSON_FALSE;
    case 'n': return SOGET_JSON_NULL;
  }
  return SOGET_JSON_BROKEN;
}

SOGET_HIDDEN_END

#ifdef __cplusplus
}
#endif

#endif
