/* src/core/text.c: UTF-8 counted (or refused), text made printable: what
 * is escaped and how, keep_lines, cutting at a character boundary, and
 * that the result is printable again unchanged. */
#include <stdlib.h>

#include "check.h"
#include "core/text.h"

#define BAD ((size_t)-1)

static const struct {
  const char *name;
  const char *s; size_t n;
  size_t want;
} counts[] = {
  {"empty", BYTES(""), 0},
  {"ASCII", BYTES("CGMU2436601"), 11},
  {"NUL is a code point", BYTES("a\0b"), 3},
  {"two bytes", BYTES("caf\xc3\xa9"), 4},
  {"three bytes", BYTES("\xe6\x97\xa5\xe6\x9c\xac"), 2},
  {"four bytes", BYTES("\xf0\x9f\x98\x80!"), 2},
  {"U+0080, the first of two bytes", BYTES("\xc2\x80"), 1},
  {"U+07FF", BYTES("\xdf\xbf"), 1},
  {"U+0800, the first of three", BYTES("\xe0\xa0\x80"), 1},
  {"U+D7FF, below the surrogates", BYTES("\xed\x9f\xbf"), 1},
  {"U+E000, above them", BYTES("\xee\x80\x80"), 1},
  {"U+FFFF", BYTES("\xef\xbf\xbf"), 1},
  {"U+10000, the first of four", BYTES("\xf0\x90\x80\x80"), 1},
  {"U+10FFFF, the last", BYTES("\xf4\x8f\xbf\xbf"), 1},
  {"a lone continuation byte", BYTES("\x80"), BAD},
  {"a lead byte at the end", BYTES("ab\xc3"), BAD},
  {"a three-byte sequence cut", BYTES("\xe2\x82"), BAD},
  {"a lead byte then ASCII", BYTES("\xc3(" ), BAD},
  {"overlong NUL (C0 80)", BYTES("\xc0\x80"), BAD},
  {"overlong slash (C1 AF)", BYTES("\xc1\xaf"), BAD},
  {"overlong three bytes", BYTES("\xe0\x9f\xbf"), BAD},
  {"overlong four bytes", BYTES("\xf0\x8f\xbf\xbf"), BAD},
  {"a surrogate (U+D800)", BYTES("\xed\xa0\x80"), BAD},
  {"a surrogate (U+DFFF)", BYTES("\xed\xbf\xbf"), BAD},
  {"above U+10FFFF", BYTES("\xf4\x90\x80\x80"), BAD},
  {"F5 lead byte", BYTES("\xf5\x80\x80\x80"), BAD},
  {"FE and FF", BYTES("\xfe\xff"), BAD},
  {"five-byte form", BYTES("\xf8\x88\x80\x80\x80"), BAD},
  {"valid then invalid", BYTES("caf\xc3\xa9\xff"), BAD},
  {"the length given cuts a character", "\xc3\xa9", 1, BAD},
};

/* dst: the size of the destination (0: 4 * n + 1, which always fits). */
static const struct {
  const char *name;
  const char *s; size_t n;
  int keep_lines;
  size_t dst;
  const char *want;
} prints[] = {
  {"empty", BYTES(""), 0, 0, ""},
  {"plain text stays", BYTES("CGMU2436601 at Le Havre"), 0, 0, "CGMU2436601 at Le Havre"},
  {"backslashes stay", BYTES("a\\nb\\x41"), 0, 0, "a\\nb\\x41"},
  {"CR", BYTES("a\rb"), 0, 0, "a\\rb"},
  {"LF", BYTES("a\nb"), 0, 0, "a\\nb"},
  {"tab", BYTES("a\tb"), 0, 0, "a\\tb"},
  {"keep_lines: LF and tab stay, CR does not", BYTES("a\nb\tc\r\n"), 1, 0, "a\nb\tc\\r\n"},
  {"keep_lines: other controls still escaped", BYTES("\x1b[2J\x07"), 1, 0, "\\x1b[2J\\x07"},
  {"NUL", BYTES("a\0b"), 0, 0, "a\\x00b"},
  {"C0 controls, lower-case hex", BYTES("\x01\x1b\x1f"), 0, 0, "\\x01\\x1b\\x1f"},
  {"a terminal's colour escape", BYTES("\x1b[31mred\x1b[0m"), 0, 0, "\\x1b[31mred\\x1b[0m"},
  {"DEL", BYTES("\x7f"), 0, 0, "\\x7f"},
  {"space and tilde stay", BYTES(" ~"), 0, 0, " ~"},
  {"invalid: FF FE", BYTES("\xff\xfe"), 0, 0, "\\xff\\xfe"},
  {"invalid: a lone continuation", BYTES("\x80" "a"), 0, 0, "\\x80a"},
  {"invalid: a cut sequence, then ASCII", BYTES("\xe2\x82(x"), 0, 0, "\\xe2\\x82(x"},
  {"invalid: a cut sequence at the end", BYTES("ab\xc3"), 0, 0, "ab\\xc3"},
  {"invalid: overlong", BYTES("\xc0\xaf"), 0, 0, "\\xc0\\xaf"},
  {"invalid: a surrogate", BYTES("\xed\xa0\x80"), 0, 0, "\\xed\\xa0\\x80"},
  {"invalid: above U+10FFFF", BYTES("\xf4\x90\x80\x80"), 0, 0, "\\xf4\\x90\\x80\\x80"},
  {"UTF-8 stays", BYTES("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"), 0, 0,
   "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"},
  {"no-break space stays", BYTES("\xc2\xa0"), 0, 0, "\xc2\xa0"},
  /* what shows nothing of its own can disguise a text: CGMU\u200b2436601 */
  {"zero-width joiner", BYTES("\xe2\x80\x8d"), 0, 0, "\\u200d"},
  {"zero-width space, non-joiner", BYTES("C\xe2\x80\x8bG\xe2\x80\x8c"), 0, 0, "C\\u200bG\\u200c"},
  {"soft hyphen U+00AD", BYTES("M\xc2\xad" "T"), 0, 0, "M\\u00adT"},
  {"combining grapheme joiner U+034F", BYTES("\xcd\x8f"), 0, 0, "\\u034f"},
  {"word joiner .. invisible plus, U+2060..U+2064", BYTES("\xe2\x81\xa0\xe2\x81\xa4"), 0, 0,
   "\\u2060\\u2064"},
  {"deprecated format characters U+206A..U+206F", BYTES("\xe2\x81\xaa\xe2\x81\xaf"), 0, 0,
   "\\u206a\\u206f"},
  {"byte order mark U+FEFF", BYTES("\xef\xbb\xbf" "x"), 0, 0, "\\ufeffx"},
  {"variation selector U+FE0F", BYTES("\xef\xb8\x8f"), 0, 0, "\\ufe0f"},
  {"Hangul filler U+3164", BYTES("\xe3\x85\xa4"), 0, 0, "\\u3164"},
  {"braille blank U+2800, not its neighbours", BYTES("\xe2\x9f\xbf\xe2\xa0\x80\xe2\xa0\x81"),
   0, 0, "\xe2\x9f\xbf\\u2800\xe2\xa0\x81"},
  {"interlinear annotation U+FFF9..U+FFFB", BYTES("\xef\xbf\xb9\xef\xbf\xbb"), 0, 0,
   "\\ufff9\\ufffb"},
  {"Arabic number sign U+0600, Mongolian vowel separator U+180E", BYTES("\xd8\x80\xe1\xa0\x8e"),
   0, 0, "\\u0600\\u180e"},
  {"tags U+E0001, U+E0041 (above U+FFFF: \\U and 8 digits)", BYTES("\xf3\xa0\x80\x81\xf3\xa0\x81\x81"),
   0, 0, "\\U000e0001\\U000e0041"},
  {"variation selector U+E0100", BYTES("\xf3\xa0\x84\x80"), 0, 0, "\\U000e0100"},
  {"musical format U+1D173", BYTES("\xf0\x9d\x85\xb3"), 0, 0, "\\U0001d173"},
  {"symbols drawn blank U+16FE4, U+1D159, not their neighbours",
   BYTES("\xf0\x96\xbf\xa3\xf0\x96\xbf\xa4\xf0\x9d\x85\x98\xf0\x9d\x85\x99"), 0, 0,
   "\xf0\x96\xbf\xa3\\U00016fe4\xf0\x9d\x85\x98\\U0001d159"},
  {"private use U+E000..U+F8FF, not U+F900", BYTES("\xee\x80\x80\xef\xa3\xbf\xef\xa4\x80"), 0, 0,
   "\\ue000\\uf8ff\xef\xa4\x80"},
  {"private use planes 15 and 16, not plane 14's last", BYTES("\xf3\xb0\x80\x80\xf4\x8f\xbf\xbd"
   "\xf3\xaf\xbf\xbd"), 0, 0, "\\U000f0000\\U0010fffd\xf3\xaf\xbf\xbd"},
  {"noncharacters U+FDD0..U+FDEF, U+FFFE, U+1FFFF; not U+FDCF, U+FDF0, U+FFFD",
   BYTES("\xef\xb7\x8f\xef\xb7\x90\xef\xb7\xaf\xef\xb7\xb0\xef\xbf\xbe\xf0\x9f\xbf\xbf\xef\xbf\xbd"),
   0, 0, "\xef\xb7\x8f\\ufdd0\\ufdef\xef\xb7\xb0\\ufffe\\U0001ffff\xef\xbf\xbd"},
  {"around them, visible neighbours stay", BYTES("\xe2\x80\x8a\xe2\x80\x90\xe2\x81\xb0\xef\xbf\xbc"),
   0, 0, "\xe2\x80\x8a\xe2\x80\x90\xe2\x81\xb0\xef\xbf\xbc"},
  {"C1: U+0080", BYTES("\xc2\x80"), 0, 0, "\\u0080"},
  {"C1: U+0085 (next line)", BYTES("a\xc2\x85" "b"), 0, 0, "a\\u0085b"},
  {"C1: U+009B (CSI)", BYTES("\xc2\x9b" "2J"), 0, 0, "\\u009b2J"},
  {"C1: U+009F", BYTES("\xc2\x9f"), 0, 0, "\\u009f"},
  {"C1 escaped with keep_lines too", BYTES("\xc2\x85"), 1, 0, "\\u0085"},
  {"bidi: U+061C (Arabic letter mark)", BYTES("\xd8\x9c"), 0, 0, "\\u061c"},
  {"bidi: U+200E, U+200F", BYTES("\xe2\x80\x8e\xe2\x80\x8f"), 0, 0, "\\u200e\\u200f"},
  {"bidi: U+202A..U+202E", BYTES("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x80\xae"), 0, 0,
   "\\u202a\\u202b\\u202c\\u202d\\u202e"},
  {"bidi: U+2066..U+2069", BYTES("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9"), 0, 0,
   "\\u2066\\u2067\\u2068\\u2069"},
  {"bidi: U+202F is no control", BYTES("\xe2\x80\xaf"), 0, 0, "\xe2\x80\xaf"},
  {"line separator U+2028", BYTES("a\xe2\x80\xa8" "b"), 0, 0, "a\\u2028b"},
  {"paragraph separator U+2029", BYTES("\xe2\x80\xa9"), 1, 0, "\\u2029"},
  {"every kind at once", BYTES("\r\x01\xff\xc2\x85\xe2\x80\xae"), 0, 0,
   "\\r\\x01\\xff\\u0085\\u202e"},
  /* cut at a character boundary: never half a character or escape */
  {"cut: ASCII", BYTES("abcdef"), 0, 4, "abc"},
  {"cut: size 1 holds the NUL only", BYTES("abc"), 0, 1, ""},
  {"cut: an escape that does not fit", BYTES("ab\ncd"), 0, 4, "ab"},
  {"cut: an escape that just fits", BYTES("ab\ncd"), 0, 5, "ab\\n"},
  {"cut: a two-byte character", BYTES("a\xc3\xa9"), 0, 3, "a"},
  {"cut: a two-byte character that fits", BYTES("a\xc3\xa9"), 0, 4, "a\xc3\xa9"},
  {"cut: a four-byte character", BYTES("a\xf0\x9f\x98\x80"), 0, 5, "a"},
  {"cut: a \\xNN escape", BYTES("a\xff"), 0, 5, "a"},
  {"cut: a \\xNN escape that fits", BYTES("a\xff"), 0, 6, "a\\xff"},
  {"cut: a \\uNNNN escape", BYTES("\xe2\x80\xae"), 0, 6, ""},
  {"cut: a \\uNNNN escape that fits", BYTES("\xe2\x80\xae"), 0, 7, "\\u202e"},
  {"cut: a \\UNNNNNNNN escape", BYTES("a\xf3\xa0\x81\x81"), 0, 11, "a"},
  {"cut: a \\UNNNNNNNN escape that fits", BYTES("a\xf3\xa0\x81\x81"), 0, 12, "a\\U000e0041"},
  {"cut: the first that does not fit ends it", BYTES("ab\x01z"), 0, 6, "ab"},
  {"4 * len + 1 fits the worst case", BYTES("\x01\x02\x03"), 0, 13, "\\x01\\x02\\x03"},
};

static void test_counts(void) {
  size_t i;
  for (i = 0; i < COUNT(counts); i++) {
    CASE("utf8_count: %s", counts[i].name);
    CHECK_INT(soget_utf8_count(counts[i].s, counts[i].n), counts[i].want);
  }
}

static void test_prints(void) {
  size_t i;
  for (i = 0; i < COUNT(prints); i++) {
    size_t dstsz = prints[i].dst ? prints[i].dst : 4 * prints[i].n + 1;
    char *dst = malloc(dstsz), *again = malloc(dstsz);
    size_t n;
    CASE("printable: %s", prints[i].name);
    if (!CHECK(dst && again)) { free(dst); free(again); continue; }
    memset(dst, '#', dstsz);
    n = soget_printable(dst, dstsz, prints[i].s, prints[i].n, prints[i].keep_lines);
    CHECK_STR(dst, prints[i].want);
    CHECK_INT(n, strlen(prints[i].want));
    CHECK(n < dstsz);
    /* printable already: a second pass changes nothing */
    soget_printable(again, dstsz, dst, n, prints[i].keep_lines);
    CHECK_STR(again, dst);
    free(dst);
    free(again);
  }
}

/* Every byte alone, and every byte after a valid lead byte: what comes out
 * is printable ASCII or valid UTF-8 that is no control, never longer than
 * 4 bytes per byte in, and the same after a second pass. */
static int printable_output(const char *s, size_t n) {
  size_t i;
  if (soget_utf8_count(s, n) == BAD) return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) return 0;
    if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0) return 0;   /* C1 */
  }
  return 1;
}

static void test_all_bytes(void) {
  int c, lead;
  static const unsigned char leads[] = {0, 0xc2, 0xe2, 0xf0};
  CASE("printable: each byte, alone and after a lead byte");
  for (lead = 0; lead < (int)COUNT(leads); lead++) {
    for (c = 0; c < 256; c++) {
      char in[2], out[9], again[9];
      size_t len = 0, n;
      if (leads[lead]) in[len++] = (char)leads[lead];
      in[len++] = (char)c;
      SUBCASE("printable: bytes %02x %02x", leads[lead], c);
      n = soget_printable(out, sizeof out, in, len, 0);
      CHECK(n <= 4 * len);
      CHECK(printable_output(out, n));
      soget_printable(again, sizeof again, out, n, 0);
      CHECK_STR(again, out);
    }
  }
}

/* soget_json_unpaired_surrogate: where the first unpaired surrogate
 * escape starts (-1: none), read from the start as inside a string. */
static const struct {
  const char *name, *s;
  long at;
} unpaired[] = {
  {"no escape", "abc", -1},
  {"a pair, either case", "a\\ud83d\\uDE00b\\uD83D\\ude00", -1},
  {"a lone high one", "a\\ud800b", 1},
  {"a lone low one", "\\udc00", 0},
  {"a high one then a letter's escape", "\\ud800\\u0041", 0},
  {"a high one then a high one", "\\ud800\\ud800\\udc00", 0},
  {"a pair then a lone one", "\\ud800\\udc00\\udfff", 12},
  {"an escaped backslash before ud800", "\\\\ud800", -1},
  {"three backslashes: the third escapes", "\\\\\\ud800", 2},
  {"a high one cut at the end", "x\\ud800", 1},
  {"an escape cut short", "\\ud8", -1},
  {"a backslash at the end", "ab\\", -1},
  {"not hex digits", "\\udzzz\\uD8G0", -1},
  {"other escapes skipped", "\\n\\\"\\/\\ud800", 6},
};

static void test_json_text(void) {
  size_t i;
  for (i = 0; i < COUNT(unpaired); i++) {
    const char *p;
    CASE("json_unpaired_surrogate: %s", unpaired[i].name);
    p = soget_json_unpaired_surrogate(unpaired[i].s, strlen(unpaired[i].s));
    CHECK_INT(p ? (long)(p - unpaired[i].s) : -1L, unpaired[i].at);
  }
  CASE("json_unpaired_surrogate: a pair cut by the length given");
  CHECK(soget_json_unpaired_surrogate("\\ud800\\udc00", 11) != NULL);
  CHECK(soget_json_unpaired_surrogate("\\ud800\\udc00", 12) == NULL);
  CASE("json_prefix: up to the first vertical tab or form feed");
  CHECK_INT(soget_json_prefix("{} ", 3), 3);
  CHECK_INT(soget_json_prefix("{}\v\f", 4), 2);
  CHECK_INT(soget_json_prefix("\f{}\v", 4), 0);
  CHECK_INT(soget_json_prefix("{\"a\v\"}", 6), 3);
  CHECK_INT(soget_json_prefix("a\0\vb", 4), 2);
}

int main(void) {
  test_counts();
  test_prints();
  test_all_bytes();
  test_json_text();
  return CHECK_DONE();
}
