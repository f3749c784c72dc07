/* src/core/iso6346.c: container numbers checked, check digits computed. */
#include "check.h"
#include "core/iso6346.h"

static const struct {
  const char *name;
  const char *s; size_t n;
  const char *problem;   /* NULL: valid */
} numbers[] = {
  {"the standard's example", BYTES("CSQU3054383"), NULL},
  {"category J", BYTES("CSQJ3054386"), NULL},
  {"category Z", BYTES("CSQZ3054387"), NULL},
  {"a sum of 10 mod 11 gives 0", BYTES("CSQU0000070"), NULL},
  {"the API spec's own example", BYTES("CGMU2436601"), "check digit is 1, expected 8"},
  {"a wrong check digit", BYTES("CSQU3054384"), "check digit is 4, expected 3"},
  {"10 is not a check digit", BYTES("CSQU0000071"), "check digit is 1, expected 0"},
  {"empty", BYTES(""), "must be 11 characters long"},
  {"ten characters", BYTES("CSQU305438"), "must be 11 characters long"},
  {"twelve characters", BYTES("CSQU30543830"), "must be 11 characters long"},
  {"the length given, not the NUL", "CSQU3054383", 10, "must be 11 characters long"},
  {"lower-case owner", BYTES("csqU3054383"), "owner code (characters 1-3) must be capital letters"},
  {"a digit in the owner", BYTES("C5QU3054383"), "owner code (characters 1-3) must be capital letters"},
  {"a NUL in the owner", BYTES("C\0QU3054383"), "owner code (characters 1-3) must be capital letters"},
  {"category X", BYTES("CSQX3054383"), "category identifier (character 4) must be U, J or Z"},
  {"category u", BYTES("CSQu3054383"), "category identifier (character 4) must be U, J or Z"},
  {"a letter in the serial", BYTES("CSQU30543B3"), "serial number and check digit (characters 5-11) must be digits"},
  {"a letter as check digit", BYTES("CSQU305438X"), "serial number and check digit (characters 5-11) must be digits"},
  {"a space in the serial", BYTES("CSQU 054383"), "serial number and check digit (characters 5-11) must be digits"},
  /* the length in characters (UTF-8), the check still ASCII: a letter
   * other than ASCII gets the reason of its position */
  {"a letter with a diaeresis in the owner", BYTES("\xc3\x84" "BCU1234567"),
   "owner code (characters 1-3) must be capital letters"},
  {"a fullwidth letter in the owner", BYTES("\xef\xbc\xa3" "SQU3054383"),
   "owner code (characters 1-3) must be capital letters"},
  {"an emoji in the owner", BYTES("CS\xf0\x9f\x98\x80" "U3054383"),
   "owner code (characters 1-3) must be capital letters"},
  {"a Cyrillic U as category", BYTES("CSQ\xd0\xa3" "3054383"),
   "category identifier (character 4) must be U, J or Z"},
  {"an Arabic-Indic digit in the serial", BYTES("CSQU305438\xd9\xa3"),
   "serial number and check digit (characters 5-11) must be digits"},
  {"a fullwidth digit in the serial", BYTES("CSQU\xef\xbc\x93" "054383"),
   "serial number and check digit (characters 5-11) must be digits"},
  {"an owner code fault before a serial one", BYTES("c\xc3\x84QU30543\xd9\xa3" "3"),
   "owner code (characters 1-3) must be capital letters"},
  {"a byte that is not UTF-8 counts as one", BYTES("\xffSQU3054383"),
   "owner code (characters 1-3) must be capital letters"},
  {"a cut sequence counts byte by byte", BYTES("\xc3SQU3054383"),
   "owner code (characters 1-3) must be capital letters"},
  {"ten characters in twelve bytes", BYTES("\xc3\x84" "\xc3\x84" "CU12345"),
   "must be 11 characters long"},
  {"twelve characters in thirteen bytes", BYTES("\xc3\x84" "BCU12345678"),
   "must be 11 characters long"},
  {"eleven bytes, ten characters", BYTES("\xc3\x84" "BCU123456"), "must be 11 characters long"},
};

static const struct {
  const char *s;
  int digit;
} digits[] = {
  {"CSQU305438", 3},
  {"CGMU243660", 8},
  {"CSQU000007", 0},    /* 4025 mod 11 = 10, which counts as 0 */
  {"AAAU000000", 7},
  {"ZZZU999999", 2},
  /* with those above, every letter's value (10..38, multiples of 11 skipped) */
  {"HLXU123456", 1},
  {"MSKU907032", 3},
  {"BVWU000001", 9},
  {"KLVJ555555", 2},
  {"OPIZ000000", 9},
  {"DEFU102030", 0},
  {"GHIU000000", 0},
  {"NQRU000000", 2},
  {"TUXU000000", 0},
  {"YZAU000000", 2},
  {"CSQU30543", -1},    /* ends (NUL) before ten characters */
  {"csqu305438", -1},
  {"CSQ1305438", -1},
  {"CSQU30543A", -1},
};

static void test_numbers(void) {
  size_t i;
  for (i = 0; i < COUNT(numbers); i++) {
    char buf[64];
    const char *got;
    CASE("problem: %s", numbers[i].name);
    got = soget_iso6346_problem(numbers[i].s, numbers[i].n, buf, sizeof buf);
    CHECK_STR(got, numbers[i].problem);
  }
  CASE("problem: a check digit message is formatted into buf, cut to its size");
  {
    char buf[10];
    CHECK(soget_iso6346_problem("CSQU3054384", 11, buf, sizeof buf) == buf);
    CHECK_STR(buf, "check dig");
  }
}

static void test_digits(void) {
  size_t i;
  for (i = 0; i < COUNT(digits); i++) {
    CASE("check_digit: %s", digits[i].s);
    CHECK_INT(soget_iso6346_check_digit(digits[i].s), digits[i].digit);
  }
}

int main(void) {
  test_numbers();
  test_digits();
  return CHECK_DONE();
}
