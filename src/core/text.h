/* Text checks for what crosses soget's edges: UTF-8 validation for query
 * values, and making a server's text printable before it can reach a
 * terminal. Knows nothing about Lua or libcurl. */
#ifndef SOGET_TEXT_H
#define SOGET_TEXT_H

#include <stddef.h>
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* Number of code points in s when it is valid UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF), else (size_t)-1. */
size_t soget_utf8_count(const char *s, size_t len);

/* Copies s into dst (dstsz > 0 bytes, always NUL-terminated) with every
 * character that could act on a terminal made visible: CR, LF and tab as
 * \r, \n and \t, other C0 controls, DEL and bytes that are not valid
 * UTF-8 as \xNN (lower-case hex); C1 controls, bidi controls, line or
 * paragraph separators, format characters and other default-ignorable code
 * points, symbols drawn blank, private use and noncharacters
 * (soget_invisible_control) as \uNNNN, or \UNNNNNNNN above U+FFFF.
 * Everything else, backslashes included, is copied as it is, so the
 * result is printable and running it
 * again changes nothing. A result that does not fit is cut at a character
 * boundary; 4 * len + 1 bytes always fit. keep_lines copies LF and tab as
 * they are (a multi-line text's layout). Returns the length written. */
size_t soget_printable(char *dst, size_t dstsz, const char *s, size_t len,
                       int keep_lines);

/* The UTF-8 sequence at s (n > 0 bytes left): its length, with its code
 * point in *cp, or 0 when it is not valid UTF-8 (RFC 3629). */
size_t soget_utf8_seq(const unsigned char *s, size_t n, unsigned long *cp);
/* Whether cp is a C1 control, a bidi control, a line or paragraph
 * separator, a format character or another default-ignorable code point,
 * a symbol drawn blank, a private-use character or a noncharacter: code
 * points that reorder, break or disguise the text around them. */
int soget_invisible_control(unsigned long cp);

/* The value of the hex digit c (either case), or -1 when c is none. */
int soget_hex_digit(int c);

/* JSON text as libyajl is laxer than: the parsers that use it (the page
 * builder, the token and error bodies) check these themselves. */

/* How much of s[0, n) can be JSON text before yajl could tell it is not:
 * up to the first vertical tab or form feed (yajl skips both between
 * tokens as white space, which JSON does not). */
size_t soget_json_prefix(const char *s, size_t n);

/* The first \u escape in s[0, n) of a UTF-16 surrogate that JSON text
 * leaves unpaired (a lone one, or a high one not followed by a low one's
 * escape), which yajl would decode into '?' or another code point; NULL
 * when there is none. Backslashes are read as escapes from s on, as
 * inside a JSON string (outside one a backslash is no JSON at all). */
const char *soget_json_unpaired_surrogate(const char *s, size_t n);

SOGET_HIDDEN_END

#endif
