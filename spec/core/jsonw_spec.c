/* src/core/jsonw.c: JSON strings escaped so that they decode to the same
 * text and cannot act on a terminal; numbers with the fewest digits that
 * read back, under any decimal point. */
#include <locale.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/jsonw.h"

static const struct {
  const char *name;
  const char *s;
  size_t n;
  const char *json;
} strings[] = {
  {"plain", BYTES("CGMU2436601"), "\"CGMU2436601\""},
  {"empty", BYTES(""), "\"\""},
  {"quote and backslash", BYTES("a\"b\\c"), "\"a\\\"b\\\\c\""},
  {"the short escapes", BYTES("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\""},
  {"other C0 controls and DEL", BYTES("\x01\x1b[2J\x7f"), "\"\\u0001\\u001b[2J\\u007f\""},
  {"a NUL byte", BYTES("a\0b"), "\"a\\u0000b\""},
  {"UTF-8 as it is", BYTES("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2"),
   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2\""},
  {"a C1 control", BYTES("x\xc2\x9by"), "\"x\\u009by\""},
  {"bidi controls", BYTES("\xe2\x80\xae\xe2\x81\xa6\xd8\x9c"), "\"\\u202e\\u2066\\u061c\""},
  {"line and paragraph separators", BYTES("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\""},
  {"zero-width and format characters", BYTES("a\xe2\x80\x8b" "b\xc2\xad" "c\xef\xbb\xbf"),
   "\"a\\u200bb\\u00adc\\ufeff\""},
  {"a tag character: a surrogate pair", BYTES("x\xf3\xa0\x81\x81"), "\"x\\udb40\\udc41\""},
  {"private use: U+E000, U+10FFFD (a surrogate pair)", BYTES("\xee\x80\x80\xf4\x8f\xbf\xbd"),
   "\"\\ue000\\udbff\\udffd\""},
  {"an emoji stays", BYTES("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\""},
  {"a byte that is not UTF-8", BYTES("a\xffz"), "\"a\\ufffdz\""},
  {"a cut sequence", BYTES("a\xe2\x82"), "\"a\\ufffd\\ufffd\""},
  {"an overlong form", BYTES("\xc0\xaf"), "\"\\ufffd\\ufffd\""},
  {"a surrogate in UTF-8", BYTES("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\""},
  {"slashes stay", BYTES("a/b"), "\"a/b\""},
};

static const struct {
  const char *name;
  double d;
  const char *json;
} numbers[] = {
  {"zero", 0.0, "0"},
  {"minus zero", -0.0, "-0"},
  {"a whole number", 13030.0, "13030"},
  {"a negative whole number", -42.0, "-42"},
  {"below 10^15", 999999999999999.0, "999999999999999"},
  {"10^15, in digits (below 2^53: as Lua 5.3+ writes the integer)", 1e15, "1000000000000000"},
  {"2^53 - 1, in digits", 9007199254740991.0, "9007199254740991"},
  {"-(2^53 - 1), in digits", -9007199254740991.0, "-9007199254740991"},
  {"2^53 is written as %g", 9007199254740992.0, "9007199254740992"},
  {"10^16 is written as %g", 1e16, "1e+16"},
  {"a decimal", 33.2, "33.2"},
  {"0.1", 0.1, "0.1"},
  {"0.1 + 0.2 needs 17 digits", 0.1 + 0.2, "0.30000000000000004"},
  /* subnormal: fewer digits of precision, the fewest that read back */
  {"the smallest double", 4.9e-324, "5e-324"},
  {"a subnormal", 2.5e-310, "2.5e-310"},
  {"-(a subnormal)", -1.23456e-315, "-1.23456e-315"},
  {"the smallest normal double, 17 digits", 2.2250738585072014e-308, "2.2250738585072014e-308"},
  {"the largest double", 1.7976931348623157e308, "1.7976931348623157e+308"},
  {"2^53 + a half", 9007199254740993.5, "9007199254740994"},
  {"infinity", HUGE_VAL, "1e400"},
  {"minus infinity", -HUGE_VAL, "-1e400"},
};

static void test_strings(void) {
  size_t i;
  for (i = 0; i < COUNT(strings); i++) {
    soget_buf b;
    CASE("string: %s", strings[i].name);
    soget_buf_init(&b, 0);
    CHECK_INT(soget_jsonw_string(&b, strings[i].s, strings[i].n), 0);
    CHECK_MEM(b.data, b.len, strings[i].json, strlen(strings[i].json));
    soget_buf_free(&b);
  }
}

static void test_numbers(const char *locale) {
  size_t i;
  for (i = 0; i < COUNT(numbers); i++) {
    soget_buf b;
    CASE("number (%s): %s", locale, numbers[i].name);
    soget_buf_init(&b, 0);
    CHECK_INT(soget_jsonw_number(&b, numbers[i].d), 0);
    CHECK_MEM(b.data, b.len, numbers[i].json, strlen(numbers[i].json));
    if (!isinf(numbers[i].d) && b.data) {   /* reads back, in the C locale's strtod */
      char *save = setlocale(LC_NUMERIC, NULL);
      char copy[64];
      snprintf(copy, sizeof copy, "%s", save ? save : "C");
      setlocale(LC_NUMERIC, "C");
      CHECK(strtod(b.data, NULL) == numbers[i].d);
      setlocale(LC_NUMERIC, copy);
    }
    soget_buf_free(&b);
  }
}

static void test_misc(void) {
  soget_buf b;
  CASE("NaN is no JSON number");
  soget_buf_init(&b, 0);
  CHECK_INT(soget_jsonw_number(&b, nan("")), -1);
  CHECK_INT(b.len, 0);
  CASE("integers");
  CHECK_INT(soget_jsonw_integer(&b, -9223372036854775807LL - 1), 0);
  CHECK_STR(b.data, "-9223372036854775808");
  soget_buf_free(&b);
  CASE("a buffer's limit: out of memory");
  soget_buf_init(&b, 4);
  CHECK_INT(soget_jsonw_string(&b, BYTES("CGMU2436601")), -1);
  soget_buf_free(&b);
}

int main(void) {
  test_strings();
  test_numbers("C");
  /* a decimal comma, when one is installed (spec/unit/encode_spec.lua makes
   * one with localedef when none is): the numbers must not change */
  if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
    test_numbers(setlocale(LC_NUMERIC, NULL));
    setlocale(LC_NUMERIC, "C");
  }
  test_misc();
  return CHECK_DONE();
}
