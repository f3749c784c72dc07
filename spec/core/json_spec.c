#define _POSIX_C_SOURCE 200809L
/* src/core/json.cpp and json.h: bodies parsed by simdjson and read back
 * from its tape as values. Each case is a body and the values read,
 * written compactly ({n and [n open an object or array of n members, }
 * ends one, "..." a string, i/u/d a number, t f n), or BAD when the parse
 * fails. Also: a parser reused across bodies small and large, released
 * and used again; and the -0 scan, both forms, against a reference. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "memscan.h"
#include "core/auth.h"
#include "core/json.h"

#define BAD "BAD"

static const struct {
  const char *name;
  const char *body; size_t len;
  const char *want;
} cases[] = {
  {"an object", BYTES("{\"total\":1,\"items\":[]}"), "{2 \"total\" i1 \"items\" [0 } }"},
  {"nesting and counts", BYTES("{\"a\":[1,[2,{}],{\"b\":null}],\"c\":{\"d\":true,\"e\":false}}"),
   "{2 \"a\" [3 i1 [2 i2 {0 } } {1 \"b\" n } } \"c\" {2 \"d\" t \"e\" f } }"},
  {"white space between tokens", BYTES(" \t\r\n{ \"a\" : [ 1 , 2 ] } \n"), "{1 \"a\" [2 i1 i2 } }"},
  {"a string at the root", BYTES("\"x\""), "\"x\""},
  {"a number at the root", BYTES("12"), "i12"},
  {"escapes", BYTES("[\"a\\n\\t\\\"\\\\\\/\\u00e9\"]"), "[1 \"a\\x0a\\x09\\x22\\x5c/\\xc3\\xa9\" }"},
  {"a NUL escape is a byte of the string", BYTES("[\"a\\u0000b\"]"), "[1 \"a\\x00b\" }"},
  {"a surrogate pair", BYTES("[\"\\ud83d\\ude00\"]"), "[1 \"\\xf0\\x9f\\x98\\x80\" }"},
  {"keys are strings too", BYTES("{\"\":\"\",\"k\\u0041\":1}"), "{2 \"\" \"\" \"kA\" i1 }"},
  {"repeated keys, both kept", BYTES("{\"a\":1,\"a\":2}"), "{2 \"a\" i1 \"a\" i2 }"},
  {"int64's range", BYTES("[9223372036854775807,-9223372036854775808,0]"),
   "[3 i9223372036854775807 i-9223372036854775808 i0 }"},
  {"above int64: unsigned", BYTES("[9223372036854775808,18446744073709551615]"),
   "[2 u9223372036854775808 u18446744073709551615 }"},
  {"-0 is the integer 0 (decode.c looks for it)", BYTES("[-0]"), "[1 i0 }"},
  {"doubles, correctly rounded", BYTES("[1.5,-0.0,1e2,2.5E-3,0.1,1.7976931348623157e308]"),
   "[6 d1.5 d-0 d100 d0.0025000000000000001 d0.10000000000000001 d1.7976931348623157e+308 }"},
  {"UTF-8 kept", BYTES("[\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]"), "[1 \"caf\\xc3\\xa9 \\xf0\\x9f\\x98\\x80\" }"},
  /* what simdjson refuses: the builder asks libyajl instead */
  {"empty", BYTES(""), BAD},
  {"only white space", BYTES("  "), BAD},
  {"trailing text", BYTES("{} x"), BAD},
  {"two values", BYTES("{}{}"), BAD},
  {"a trailing comma", BYTES("[1,]"), BAD},
  {"an unterminated string", BYTES("[\"ab"), BAD},
  {"an unclosed object", BYTES("{\"a\":1"), BAD},
  {"a raw control character inside a string", BYTES("[\"a\tb\"]"), BAD},
  {"a raw NUL inside a string", BYTES("[\"a\0b\"]"), BAD},
  {"a NUL after the value", BYTES("{}\0"), BAD},
  {"a vertical tab between tokens", BYTES("[1,\v2]"), BAD},
  {"bytes that are not UTF-8", BYTES("[\"\xff\"]"), BAD},
  {"an overlong encoding", BYTES("[\"\xc0\x80\"]"), BAD},
  {"a lone high surrogate", BYTES("[\"\\ud800\"]"), BAD},
  {"a lone low surrogate", BYTES("[\"\\udc00\"]"), BAD},
  {"a bad escape", BYTES("[\"\\x\"]"), BAD},
  {"a leading zero", BYTES("[01]"), BAD},
  {"a bare minus", BYTES("[-]"), BAD},
  {"a number that overflows a double", BYTES("[1e400]"), BAD},
  {"an integer above uint64", BYTES("[18446744073709551616]"), BAD},
  {"a misspelled literal", BYTES("[tru]"), BAD},
  {"a letter after a number", BYTES("[1x]"), BAD},
};

/* The values of it, written as the cases want them. */
static void render(soget_json_it *it, char *out, size_t size) {
  size_t n = 0;
  int t;
  soget_json_val v = {{0}, 0};
  out[0] = '\0';
  while ((t = soget_json_next(it, &v)) != SOGET_JSON_DONE && n < size - 64) {
    size_t i;
    if (n > 0) out[n++] = ' ';
    switch (t) {
      case SOGET_JSON_OBJECT: n += (size_t)snprintf(out + n, size - n, "{%" PRIu32, v.n); break;
      case SOGET_JSON_ARRAY: n += (size_t)snprintf(out + n, size - n, "[%" PRIu32, v.n); break;
      case SOGET_JSON_END: out[n++] = '}'; break;
      case SOGET_JSON_STRING:
        out[n++] = '"';
        for (i = 0; i < v.n && n < size - 8; i++) {
          unsigned char c = (unsigned char)v.v.s[i];
          if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') out[n++] = (char)c;
          else n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        }
        out[n++] = '"';
        break;
      case SOGET_JSON_INT: n += (size_t)snprintf(out + n, size - n, "i%" PRId64, v.v.i); break;
      case SOGET_JSON_UINT: n += (size_t)snprintf(out + n, size - n, "u%" PRIu64, v.v.u); break;
      case SOGET_JSON_DOUBLE: n += (size_t)snprintf(out + n, size - n, "d%.17g", v.v.d); break;
      case SOGET_JSON_TRUE: out[n++] = 't'; break;
      case SOGET_JSON_FALSE: out[n++] = 'f'; break;
      case SOGET_JSON_NULL: out[n++] = 'n'; break;
      default: n += (size_t)snprintf(out + n, size - n, "?%d", t); break;
    }
    out[n] = '\0';
  }
}

static void check_parse(soget_json *j, const char *name, const char *body, size_t len,
                        const char *want) {
  soget_json_it it;
  char got[2048];
  int r;
  CASE("%s", name);
  r = soget_json_parse(j, body, len, &it);
  if (want == NULL) {                      /* parsed; the values not checked */
    CHECK_INT(r, SOGET_JSON_OK);
    return;
  }
  if (strcmp(want, BAD) == 0) {
    CHECK_INT(r, SOGET_JSON_BAD);
    return;
  }
  CHECK_INT(r, SOGET_JSON_OK);
  if (r != SOGET_JSON_OK) return;
  render(&it, got, sizeof got);
  CHECK_STR(got, want);
}

/* The -0 scan, as the cases of json.h say it: '-', '0', then anything but
 * a digit, '.', 'e' or 'E', or the end. */
static int minus_zero_ref(const char *s, size_t n) {
  size_t i;
  for (i = 0; i + 1 < n; i++) {
    char c = i + 2 < n ? s[i + 2] : ' ';
    if (s[i] == '-' && s[i + 1] == '0' && !(c >= '0' && c <= '9') && c != '.' && c != 'e' &&
        c != 'E')
      return 1;
  }
  return 0;
}

/* Both forms of the scan against the reference, on body (n bytes) copied
 * to an allocation of its own size, so that a read past it is a
 * sanitizer's error. */
static void check_minus_zero(const char *body, size_t n, int want) {
  char *copy = malloc(n ? n : 1);
  CHECK(copy != NULL);
  if (copy == NULL) return;
  memcpy(copy, body, n);
  CHECK_INT(minus_zero_ref(copy, n), want);
  CHECK_INT(soget_json_minus_zero(copy, n), want);
  CHECK_INT(soget_json_minus_zero_portable(copy, n), want);
  free(copy);
}

static void minus_zero_cases(void) {
  static const char *const after[] = {"", ",", "}", "]", " ", "\n", "x", "\"",
                                      "0", "5", "9", ".", "e", "E", "-"};
  static const char fill[] = "\"2024-06-09T14:00:00-01:00\",1,-5,-10,\"ONEF-FOS\",-0.5,";
  char body[256];
  size_t at, a, k;
  unsigned seed = 12345;
  CASE("the -0 scan: a -0 at each place of a 100-byte body, before each byte");
  for (at = 0; at < 100; at++) {
    for (a = 0; a < sizeof after / sizeof after[0]; a++) {
      size_t n = 0, f = strlen(after[a]);
      int want = !(f > 0 && (strchr("0123456789.eE", after[a][0]) != NULL));
      for (k = 0; k < at; k++) body[n++] = fill[k % (sizeof fill - 1)];
      /* a date cut after its "-0": that -0 ends at this one's '-' */
      if (at >= 2 && body[at - 2] == '-' && body[at - 1] == '0') want = 1;
      body[n++] = '-';
      body[n++] = '0';
      memcpy(body + n, after[a], f);
      n += f;
      SUBCASE("the -0 scan: at %zu, then \"%s\"", at, after[a]);
      /* the filler has no -0 of its own: its "-01:00" and "-0.5" go on */
      check_minus_zero(body, n, want);
      /* and the same with more filler after it, past a 32-byte block */
      for (k = 0; k < 40; k++) body[n++] = fill[k % (sizeof fill - 1)];
      check_minus_zero(body, n, want);
    }
  }
  CASE("the -0 scan: dates and numbers only, no -0 (a 60 KB body)");
  {
    size_t n = 0, cap = 61440;
    char *big = malloc(cap);
    CHECK(big != NULL);
    if (big != NULL) {
      while (n + sizeof fill <= cap) {
        memcpy(big + n, fill, sizeof fill - 1);
        n += sizeof fill - 1;
      }
      check_minus_zero(big, n, 0);
      big[n - 3] = '-';                    /* "-0" ending the body, then "," */
      big[n - 2] = '0';
      check_minus_zero(big, n - 1, 1);
      check_minus_zero(big, n, 1);
      free(big);
    }
  }
  CASE("the -0 scan: 20,000 random bodies of -, 0, digits, '.', 'e', 'E' and others");
  for (k = 0; k < 20000; k++) {
    static const char alphabet[] = "-0-0-01.eE,] x";
    size_t n, i;
    seed = seed * 1103515245u + 12345u;
    n = (seed >> 16) % 200;
    for (i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      body[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
    }
    SUBCASE("the -0 scan: random body %zu", k);
    check_minus_zero(body, n, minus_zero_ref(body, n));
  }
}

int main(void) {
  soget_json *j = soget_json_new();
  size_t i, k;
  CHECK(j != NULL);
  if (j == NULL) return CHECK_DONE();
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_parse(j, cases[i].name, cases[i].body, cases[i].len, cases[i].want);

  /* The same parser, again in the other order (buffers reused). */
  for (i = sizeof cases / sizeof cases[0]; i-- > 0;)
    check_parse(j, cases[i].name, cases[i].body, cases[i].len, cases[i].want);

  /* A large body, then a small one; released, then used again. */
  {
    size_t count = 20000, n = 0;
    char *big = malloc(count * 12 + 16);
    soget_json_it it;
    soget_json_val v = {{0}, 0};
    CASE("a large array");
    CHECK(big != NULL);
    if (big != NULL) {
      big[n++] = '[';
      for (k = 0; k < count; k++) n += (size_t)sprintf(big + n, "%s\"v%zu\"", k ? "," : "", k);
      big[n++] = ']';
      CHECK_INT(soget_json_parse(j, big, n, &it), SOGET_JSON_OK);
      CHECK_INT(soget_json_next(&it, &v), SOGET_JSON_ARRAY);
      CHECK_INT(v.n, count);
      for (k = 0; k < count; k++) {
        char want[16];
        int t = soget_json_next(&it, &v);
        snprintf(want, sizeof want, "v%zu", k);
        if (t != SOGET_JSON_STRING || v.n != strlen(want) || memcmp(v.v.s, want, v.n) != 0) break;
      }
      CHECK_INT(k, count);
      CHECK_INT(soget_json_next(&it, &v), SOGET_JSON_END);
      CHECK_INT(soget_json_next(&it, &v), SOGET_JSON_DONE);
      CHECK_INT(soget_json_next(&it, &v), SOGET_JSON_DONE);
      free(big);
    }
    check_parse(j, "small after large", BYTES("{\"a\":[1]}"), "{1 \"a\" [1 i1 } }");
    soget_json_release(j);
    check_parse(j, "after a release", BYTES("{\"a\":[1]}"), "{1 \"a\" [1 i1 } }");
    soget_json_release(j);
    soget_json_release(j);
  }

  /* A body's bytes are wiped when the parser lets them go: its copy and
   * the strings simdjson unescaped, when a larger body replaces them, at a
   * release and when the parser is freed. */
  {
    /* white space after: simdjson reads a body's last 64 bytes or fewer
     * from a copy on the stack, which the next calls write over; the
     * pattern stays out of them */
    /* and the pattern well inside each block: a block freed begins with
     * the allocator's own pointers */
    static const char head[] = "{\"first\":\"a string of more than forty-eight bytes to begin\","
                               "\"secret\":\"",
                      tail[] = "\"}                                                                 "
                               "                                                               ";
    size_t n = sizeof head - 1 + MEMSCAN_LEN + sizeof tail - 1, big_n = 300000, step;
    char *body = malloc(n), *big = malloc(big_n);
    soget_json *w = soget_json_new();
    soget_json_it it;
    long seen;
    CASE("a body's bytes are wiped when the parser lets them go");
    CHECK(body != NULL && big != NULL && w != NULL);
    if (body != NULL && big != NULL && w != NULL) {
      memset(big, ' ', big_n);
      big[0] = '[';
      big[big_n - 1] = ']';
      for (step = 0; step < 3; step++) {
        memcpy(body, head, sizeof head - 1);
        memscan_fill(body + sizeof head - 1, 777);
        memcpy(body + sizeof head - 1 + MEMSCAN_LEN, tail, sizeof tail - 1);
        SUBCASE("a body's bytes are wiped: %s",
                step == 0 ? "a larger body" : step == 1 ? "a release" : "the parser freed");
        CHECK_INT(soget_json_parse(w, body, n, &it), SOGET_JSON_OK);
        soget_wipe(body, n);
        seen = memscan_count(777, NULL, 0);
        if (seen < 0) {
          printf("  (no /proc/self/mem: left out)\n");
          break;
        }
        CHECK_INT(seen, 2);   /* the parser's copy of the body, its string */
        if (step == 0) CHECK_INT(soget_json_parse(w, big, big_n, &it), SOGET_JSON_OK);
        else if (step == 1) soget_json_release(w);
        else soget_json_free(w), w = NULL;
        CHECK_INT(memscan_count(777, NULL, 0), 0);
        if (step == 0) {   /* and the large body's buffers are let go too */
          soget_json_release(w);
        }
      }
    }
    free(body);
    free(big);
    soget_json_free(w);
  }

  /* Nesting: simdjson's own limit (1024) is above the builder's (200). */
  {
    char deep[2 * 1100];
    for (k = 0; k < 1000; k++) deep[k] = '[';
    for (k = 0; k < 1000; k++) deep[1000 + k] = ']';
    check_parse(j, "1,000 nested arrays", deep, 2000, NULL);
  }
  soget_json_free(j);
  soget_json_free(NULL);
  minus_zero_cases();
  return CHECK_DONE();
}
