/* src/core/error.c: error values set and cut, secrets scrubbed in every
 * form soget sends them, messages and codes made printable. */
#include "check.h"
#include "core/error.h"

#define MSG_MAX (sizeof ((soget_err *)0)->message - 1)   /* 511 */

static void test_set(void) {
  soget_err e;
  char want[600];
  CASE("err_clear");
  memset(&e, 0x55, sizeof e);
  soget_err_clear(&e);
  CHECK(e.kind == NULL);
  CHECK_INT(e.status, 0);
  CHECK_STR(e.code, "");
  CHECK_STR(e.message, "");
  CHECK_INT(e.retryable, 0);
  CHECK_INT(e.nomem, 0);

  CASE("err_set: fields and a formatted message");
  e.nomem = 1;
  soget_err_set(&e, "http", 503, 1, "HTTP %ld from %s (%d%%)", 503L, "api.test", 7);
  CHECK_STR(e.kind, "http");
  CHECK_INT(e.status, 503);
  CHECK_INT(e.retryable, 1);
  CHECK_INT(e.nomem, 0);
  CHECK_STR(e.message, "HTTP 503 from api.test (7%)");

  CASE("err_set: a message that fills the buffer exactly");
  memset(want, 'm', MSG_MAX);
  want[MSG_MAX] = '\0';
  soget_err_set(&e, "api", 0, 0, "%s", want);
  CHECK_STR(e.message, want);

  CASE("err_set: a longer message is cut at 511 bytes");
  memset(want, 'm', sizeof want - 1);
  want[sizeof want - 1] = '\0';
  soget_err_set(&e, "api", 0, 0, "%s!", want);
  CHECK_INT(strlen(e.message), MSG_MAX);
  CHECK_MEM(e.message, strlen(e.message), want, MSG_MAX);

  CASE("err_nomem: no kind, nomem set, code emptied");
  strcpy(e.code, "R001");
  soget_err_nomem(&e, "while decoding");
  CHECK(e.kind == NULL);
  CHECK_INT(e.nomem, 1);
  CHECK_STR(e.code, "");
  CHECK_STR(e.message, "not enough memory while decoding");
}

/* Each row: a message and a code holding secrets, the secrets, and what
 * remains. Secrets: "s3cr&t=/x y" is sent percent-encoded as
 * s3cr%26t%3D%2Fx%20y in the token form, as it is nowhere else. */
static const struct {
  const char *name, *message, *code;
  const char *secrets[3];
  const char *want_message, *want_code;
} scrubs[] = {
  {"as it is", "key abcd1234 refused", "", {"abcd1234"}, "key *** refused", ""},
  {"at the start and the end", "abcd1234 and abcd1234", "", {"abcd1234"}, "*** and ***", ""},
  {"several, adjacent", "abcd1234abcd1234/abcd1234", "", {"abcd1234"}, "******/***", ""},
  {"overlapping runs", "aaaaaaaaaa", "", {"aaaa"}, "******aa", ""},
  {"the whole message", "abcd1234", "", {"abcd1234"}, "***", ""},
  {"in the code", "refused", "xyz98765", {"xyz98765"}, "refused", "***"},
  {"several secrets", "id client-1 secret p4ssw0rd key K3Y-0001", "",
   {"client-1", "p4ssw0rd", "K3Y-0001"}, "id *** secret *** key ***", ""},
  {"NULL secrets skipped", "abcd1234", "", {NULL, "abcd1234", NULL}, "***", ""},
  {"case matters as it is", "ABCD1234", "", {"abcd1234"}, "ABCD1234", ""},
  {"SOGET_SECRET_MIN bytes: scrubbed", "pin wxyz!", "", {"wxyz"}, "pin ***!", ""},
  {"shorter: ignored", "abc abc", "", {"abc"}, "abc abc", ""},
  {"empty: ignored", "abc", "", {""}, "abc", ""},
  {"percent-encoded, upper-case hex", "body client_secret=s3cr%26t%3D%2Fx%20y&x=1", "",
   {"s3cr&t=/x y"}, "body client_secret=***&x=1", ""},
  {"percent-encoded, lower-case hex", "echo s3cr%26t%3d%2fx%20y.", "",
   {"s3cr&t=/x y"}, "echo ***.", ""},
  {"percent-encoded, mixed case hex", "s3cr%26t%3D%2fx%20y", "", {"s3cr&t=/x y"}, "***", ""},
  {"percent-encoded and as it is", "s3cr&t=/x y / s3cr%26t%3D%2Fx%20y", "",
   {"s3cr&t=/x y"}, "*** / ***", ""},
  {"only the hex digits fold", "Secret%2bkey", "", {"Secret+Key"}, "Secret%2bkey", ""},
  {"the hex digits fold, the rest as it is", "Secret%2bKey", "", {"Secret+Key"}, "***", ""},
  {"UTF-8 secret encoded", "x=p%C3%A4ss&", "", {"p\xc3\xa4ss"}, "x=***&", ""},
  {"cut at the end", "message cut here: abcd12", "", {"abcd1234"}, "message cut here: ***", ""},
  {"cut at the end, 4 bytes left", "cut: abcd", "", {"abcd1234"}, "cut: ***", ""},
  {"cut at the end, 3 bytes left: too short to tell", "cut: abc", "", {"abcd1234"}, "cut: abc", ""},
  {"cut at the end, encoded", "form: s3cr%26t%3", "", {"s3cr&t=/x y"}, "form: ***", ""},
  {"cut at the end of the code (it fills its buffer)", "", "R-0123456abcd12", {"abcd1234"}, "",
   "R-0123456***"},
  {"a code that does not fill its buffer was not cut", "", "R-abcd12", {"abcd1234"}, "",
   "R-abcd12"},
  {"a start not at the end stays", "abcd12 is not it", "", {"abcd1234"}, "abcd12 is not it", ""},
  {"uncut: a last word a secret starts with stays", "refused: invalid_client", "",
   {"client-secret-x"}, "refused: invalid_client", ""},
  {"a mask does not complete a secret that ends in '*'", "bad Key-1234Key-1234Key-1234Key-1234*", "",
   {"Key-1234*"}, "bad *********", ""},
  {"nor one that begins with '*'", "*4321-yeK4321-yeK4321-yeK", "", {"*4321-yeK"}, "*******", ""},
  {"a secret of stars", "****** **** *****", "", {"****"}, "*** *** ***", ""},
  {"nothing to scrub", "HTTP 503", "R001", {"abcd1234", "s3cr&t=/x y"}, "HTTP 503", "R001"},
  /* as a server re-encodes a form or a URL soget sent */
  {"form-encoded with '+' for the space", "echo client_secret=s3cr%26t%3D%2Fx+y&", "",
   {"s3cr&t=/x y"}, "echo client_secret=***&", ""},
  {"'~' escaped (%7E, %7e)", "bad Xyz8Q%7Eabc.DEF_g and Xyz8Q%7eabc.DEF_g", "",
   {"Xyz8Q~abc.DEF_g"}, "bad *** and ***", ""},
  {"every byte escaped", "%61%62%63%64%31%32%33%34!", "", {"abcd1234"}, "***!", ""},
  {"a URL's encoding: '+' as it is, the space escaped", "not at /v1/x/S3c%20r+t/=%:%C3%A9 here",
   "", {"S3c r+t/=%:\xc3\xa9"}, "not at /v1/x/*** here", ""},
  {"a raw '%' and '+' in the secret", "id 100%+sure", "", {"100%+sure"}, "id ***", ""},
  {"escaped and as it is, mixed", "k=p4ss%2Fw0rd/x", "", {"p4ss/w0rd/x"}, "k=***", ""},
  {"an escape of another byte is no match", "k=abcd%311234", "", {"abcd1234"}, "k=abcd%311234", ""},
  {"a start before \"...\" (a path cut between segments)",
   "decode: items[1].extra.prod.client.secret...: not valid JSON", "",
   {"prod.client.secret.Xq7Vb2Lm9"}, "decode: items[1].extra.***...: not valid JSON", ""},
  {"a start of 3 bytes before \"...\" stays", "x.abc...: y", "", {"abcd1234"}, "x.abc...: y", ""},
  {"cut at the end, form-encoded, '+' for the space", "form: s3cr%26t%3D%2Fx+", "",
   {"s3cr&t=/x y"}, "form: ***", ""},
};

static void test_scrub(void) {
  size_t i;
  for (i = 0; i < COUNT(scrubs); i++) {
    soget_err e;
    CASE("scrub: %s", scrubs[i].name);
    soget_err_clear(&e);
    soget_err_set(&e, "auth", 401, 0, "%s", scrubs[i].message);
    /* the "cut ..." cases stand for a message cut at its buffer's size */
    if (strncmp(scrubs[i].name, "cut at the end", 14) == 0 &&
        strstr(scrubs[i].name, "of the code") == NULL)
      e.cut = 1;
    snprintf(e.code, sizeof e.code, "%s", scrubs[i].code);
    soget_err_scrub(&e, scrubs[i].secrets, 3);
    CHECK_STR(e.message, scrubs[i].want_message);
    CHECK_STR(e.code, scrubs[i].want_code);
    CHECK_INT(e.nomem, 0);
    CHECK_STR(e.kind, "auth");
    CHECK_INT(e.status, 401);
  }
}

static void test_scrub_cut_by_set(void) {
  soget_err e;
  char pad[MSG_MAX + 1];
  const char *secrets[] = {"abcd1234efgh"};
  size_t k;
  /* a secret cut by err_set's buffer, wherever the cut falls in it */
  for (k = 4; k < strlen(secrets[0]); k++) {
    CASE("scrub: cut by the buffer after %zu bytes of the secret", k);
    memset(pad, 'x', MSG_MAX - k);
    pad[MSG_MAX - k] = '\0';
    soget_err_set(&e, "http", 0, 0, "%s%s tail", pad, secrets[0]);
    CHECK_INT(strlen(e.message), MSG_MAX);
    soget_err_scrub(&e, secrets, 1);
    CHECK_INT(strlen(e.message), MSG_MAX - k + 3);
    CHECK_STR(e.message + MSG_MAX - k, "***");
  }
}

static const struct {
  const char *name, *message, *code, *want_message, *want_code;
} printables[] = {
  {"plain", "HTTP 503: try later", "R001", "HTTP 503: try later", "R001"},
  {"line breaks and tabs", "a\r\nb\tc", "", "a\\r\\nb\\tc", ""},
  {"a terminal escape", "\x1b[31mred\x1b[0m", "\x1b[2J", "\\x1b[31mred\\x1b[0m", "\\x1b[2J"},
  {"invalid UTF-8", "bad \xff\xfe", "\xc3", "bad \\xff\\xfe", "\\xc3"},
  {"bidi override", "\xe2\x80\xae" "evil", "", "\\u202eevil", ""},
  {"UTF-8 kept", "caf\xc3\xa9", "\xc3\xa9", "caf\xc3\xa9", "\xc3\xa9"},
  {"the code grows and fits", "", "R\x01\x02\x03", "", "R\\x01\\x02\\x03"},
  {"the code cut before an escape", "", "AB\x01\x02\x03\x04", "", "AB\\x01\\x02\\x03"},
};

static void test_printable(void) {
  size_t i;
  soget_err e;
  char in[MSG_MAX + 1], want[MSG_MAX + 1];
  for (i = 0; i < COUNT(printables); i++) {
    CASE("err_printable: %s", printables[i].name);
    soget_err_clear(&e);
    soget_err_set(&e, "api", 400, 0, "%s", printables[i].message);
    snprintf(e.code, sizeof e.code, "%s", printables[i].code);
    soget_err_printable(&e);
    CHECK_STR(e.message, printables[i].want_message);
    CHECK_STR(e.code, printables[i].want_code);
    CHECK_STR(e.kind, "api");
  }
  CASE("err_printable: a message that grows is cut before the escape that does not fit");
  memset(in, 'a', MSG_MAX - 1);
  in[MSG_MAX - 1] = '\x01';
  in[MSG_MAX] = '\0';
  soget_err_set(&e, "api", 0, 0, "%s", in);
  soget_err_printable(&e);
  memset(want, 'a', MSG_MAX - 1);
  want[MSG_MAX - 1] = '\0';
  CHECK_STR(e.message, want);
  CHECK_INT(e.cut, 1);   /* so that a later scrub masks a secret's start at its end */

  CASE("err_printable: a message its escapes bring to the buffer's end is marked cut");
  memset(in, '\x01', 125);   /* 500 bytes once escaped: the 8 after fit, then nothing */
  memcpy(in + 125, "abcd1234", 9);
  soget_err_set(&e, "api", 0, 0, "%s", in);
  CHECK_INT(e.cut, 0);
  soget_err_printable(&e);
  CHECK_INT(e.cut, 1);
  {
    const char *secrets[] = {"abcd1234efgh"};
    soget_err_scrub(&e, secrets, 1);
    CHECK(strstr(e.message, "abcd") == NULL);   /* the start at its end, masked */
    CHECK(strstr(e.message, "***") != NULL);
  }
  soget_err_set(&e, "api", 0, 0, "%s", "short \x01");
  soget_err_printable(&e);
  CHECK_INT(e.cut, 0);

  CASE("err_printable: a full message with a multi-byte character at the end stays");
  memset(in, 'a', MSG_MAX - 2);
  memcpy(in + MSG_MAX - 2, "\xc3\xa9", 3);
  soget_err_set(&e, "api", 0, 0, "%s", in);
  soget_err_printable(&e);
  CHECK_STR(e.message, in);

  CASE("err_printable: twice changes nothing");
  soget_err_set(&e, "api", 0, 0, "%s", "x\x1b\r\n\xff\xe2\x80\xa8\\x1b");
  soget_err_printable(&e);
  memcpy(want, e.message, sizeof e.message);
  soget_err_printable(&e);
  CHECK_STR(e.message, want);
  CHECK_STR(e.message, "x\\x1b\\r\\n\\xff\\u2028\\x1b");
}

int main(void) {
  test_set();
  test_scrub();
  test_scrub_cut_by_set();
  test_printable();
  return CHECK_DONE();
}
