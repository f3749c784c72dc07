/* src/core/isotime.c: ISO 8601 date-times as the API sends them, to
 * seconds since the epoch; what is not one is refused. */
#include "check.h"
#include "core/isotime.h"

#include <string.h>

static const struct {
  const char *name;
  const char *s;
  double t;
} good[] = {
  {"the document's own offset", "2019-11-12T07:41:00+08:30", 1573513860.0},
  {"summer time in France", "2020-05-14T09:12:00+02:00", 1589440320.0},
  {"west of Greenwich", "2020-05-14T09:12:00-05:00", 1589465520.0},
  {"the same instant, three ways", "2020-05-14T07:12:00Z", 1589440320.0},
  {"an offset without a colon", "2020-05-14T09:12:00+0200", 1589440320.0},
  {"an offset of hours alone", "2020-05-14T09:12:00+02", 1589440320.0},
  {"+00:00", "2022-11-19T22:00:00+00:00", 1668895200.0},
  {"-00:00", "2022-11-19T22:00:00-00:00", 1668895200.0},
  {"z", "2022-11-19T22:00:00z", 1668895200.0},
  {"t and a space", "2022-11-19t22:00:00Z", 1668895200.0},
  {"a space for T", "2022-11-19 22:00:00Z", 1668895200.0},
  {"no offset: UTC", "2022-11-19T22:00:00", 1668895200.0},
  {"no seconds", "2022-11-19T22:00Z", 1668895200.0},
  {"a fraction", "2020-05-14T09:12:00.250+02:00", 1589440320.25},
  {"a comma fraction", "2020-05-14T09:12:00,5+02:00", 1589440320.5},
  {"a long fraction", "2020-05-14T09:12:00.1234567890123456789Z", 1589447520.1234567890123},
  {"the epoch", "1970-01-01T00:00:00Z", 0.0},
  {"a date alone", "1970-01-01", 0.0},
  {"before the epoch", "1969-12-31T23:59:59Z", -1.0},
  {"a leap day", "2000-02-29T23:59:59Z", 951868799.0},
  {"a leap second", "2016-12-31T23:59:60Z", 1483228800.0},
  {"a leap second shown with an offset", "2017-01-01T00:59:60+01:00", 1483228800.0},
  {"a leap second shown west of UTC", "2016-12-31T18:29:60.5-05:30", 1483228800.5},
  {"year 1", "0001-01-01T00:00:00Z", -62135596800.0},
  {"year 9999", "9999-12-31T23:59:59Z", 253402300799.0},
  {"an offset across midnight", "2024-12-13T03:58:37+01:00", 1734058717.0},
  {"the largest offset", "2024-01-01T00:00:00+23:59", 1704067200.0 - 86340.0},
};

static const struct {
  const char *name;
  const char *s;
  size_t n;
} bad[] = {
  {"empty", BYTES("")},
  {"a year of 3 digits", BYTES("202-05-14T09:12:00Z")},
  {"slashes", BYTES("2020/05/14T09:12:00Z")},
  {"month 0", BYTES("2020-00-14T09:12:00Z")},
  {"month 13", BYTES("2020-13-14T09:12:00Z")},
  {"day 0", BYTES("2020-05-00T09:12:00Z")},
  {"April 31", BYTES("2020-04-31T09:12:00Z")},
  {"February 29 of 1900", BYTES("1900-02-29T00:00:00Z")},
  {"second 60 of another minute", BYTES("2020-05-20T12:34:60Z")},
  {"second 60 of 23:59 in another zone", BYTES("2016-12-31T23:59:60+01:00")},
  {"February 30 of 2000", BYTES("2000-02-30T00:00:00Z")},
  {"hour 24", BYTES("2020-05-14T24:00:00Z")},
  {"minute 60", BYTES("2020-05-14T09:60:00Z")},
  {"second 61", BYTES("2020-05-14T09:12:61Z")},
  {"one digit of hour", BYTES("2020-05-14T9:12:00Z")},
  {"the date alone, cut", BYTES("2020-05-1")},
  {"T and nothing", BYTES("2020-05-14T")},
  {"an hour alone", BYTES("2020-05-14T09")},
  {"a dot and no digits", BYTES("2020-05-14T09:12:00.Z")},
  {"an offset of 24 hours", BYTES("2020-05-14T09:12:00+24:00")},
  {"an offset minute of 60", BYTES("2020-05-14T09:12:00+02:60")},
  {"an offset cut after its colon", BYTES("2020-05-14T09:12:00+02:")},
  {"an offset of one digit", BYTES("2020-05-14T09:12:00+2")},
  {"text after Z", BYTES("2020-05-14T09:12:00Zjunk")},
  {"text after the offset", BYTES("2020-05-14T09:12:00+02:00 ")},
  {"a letter zone", BYTES("2020-05-14T09:12:00CET")},
  {"a leading space", BYTES(" 2020-05-14T09:12:00Z")},
  {"a NUL inside", BYTES("2020-05-14T09\0:12:00Z")},
};

static void test_good(void) {
  size_t i;
  for (i = 0; i < COUNT(good); i++) {
    double t = -12345;
    CASE("reads: %s", good[i].name);
    CHECK_INT(soget_isotime_parse(good[i].s, strlen(good[i].s), &t), 0);
    CHECK_NEAR(t, good[i].t, 1e-6);
  }
}

static void test_bad(void) {
  size_t i;
  for (i = 0; i < COUNT(bad); i++) {
    double t = -12345;
    CASE("refuses: %s", bad[i].name);
    CHECK_INT(soget_isotime_parse(bad[i].s, bad[i].n, &t), -1);
    CHECK_NEAR(t, -12345, 0);
  }
}

static void test_length(void) {
  double t = 0;
  CASE("reads len bytes, not to a NUL");
  CHECK_INT(soget_isotime_parse("2020-05-14T09:12:00Z trailing", 20, &t), 0);
  CHECK_NEAR(t, 1589447520.0, 0);
  CHECK_INT(soget_isotime_parse("2020-05-14T09:12:00Z", 19, &t), 0);   /* no zone: UTC */
  CHECK_NEAR(t, 1589447520.0, 0);
  CHECK_INT(soget_isotime_parse("2020-05-14", 7, &t), -1);
  CHECK_INT(soget_isotime_parse(NULL, 0, &t), -1);
}

/* s read exactly: whole seconds and nanoseconds. */
static void check_exact(const char *s, long long want_sec, long want_ns) {
  long long sec = 0;
  long ns = 0;
  CHECK_INT(soget_isotime_parse_ns(s, strlen(s), &sec, &ns), 0);
  CHECK_INT(sec, want_sec);
  CHECK_INT(ns, want_ns);
}

static void test_exact(void) {
  long long sec = 0;
  long ns = 0;
  CASE("whole seconds and nanoseconds as sent, past a double's reach");
  check_exact("2020-05-20T03:27:41.000000002Z", 1589945261, 2);
  check_exact("2020-05-20T05:27:41,1234567891+02:00", 1589945261, 123456789);   /* the tenth digit dropped */
  check_exact("1969-12-31T23:59:59.5Z", -1, 500000000);
  CHECK_INT(soget_isotime_parse_ns("2020-13-01", 10, &sec, &ns), -1);
  CASE("a leap second: after the second before it, before the next day");
  check_exact("2016-12-31T23:59:59.999999999Z", 1483228799, 999999999);
  check_exact("2016-12-31T23:59:60Z", 1483228799, 1000000000);
  check_exact("2016-12-31T23:59:60.999999999Z", 1483228799, 1999999999);
  check_exact("2017-01-01T00:00:00Z", 1483228800, 0);
}

int main(void) {
  test_good();
  test_bad();
  test_length();
  test_exact();
  return CHECK_DONE();
}
