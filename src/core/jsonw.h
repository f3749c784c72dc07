/* Writing JSON values: strings and numbers, as soget.encode writes them
 * (the binding walks the tables). Knows nothing about Lua. */
#ifndef SOGET_JSONW_H
#define SOGET_JSONW_H

#include <stddef.h>
#include "buf.h"
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* Appends s (len bytes) as a JSON string, quotes included. Escaped: '"'
 * and '\\'; C0 controls (\b \f \n \r \t, the others \u00XX) and DEL;
 * C1 controls, bidi controls and the line and paragraph separators
 * (\uXXXX), so that the text cannot act on a terminal and decodes to the
 * same string. JSON text is UTF-8: a byte that is not part of valid UTF-8
 * is written \ufffd, and so is U+FFFD itself (strings that read back the
 * same are written the same). 0, or -1 out of memory. */
int soget_jsonw_string(soget_buf *b, const char *s, size_t len);

/* Appends d as a JSON number: a whole number below 10^15 in magnitude
 * without a fraction ("13030", "-0" for minus zero), others with the
 * fewest digits that read back as the same double ("33.2", "0.1"),
 * whatever the locale's decimal point; infinities as 1e400 and -1e400
 * (JSON numbers that read back as them). -1 for NaN (no JSON number) and
 * out of memory; 0 otherwise. */
int soget_jsonw_number(soget_buf *b, double d);

/* Appends the integer v. 0, or -1 out of memory. */
int soget_jsonw_integer(soget_buf *b, long long v);

SOGET_HIDDEN_END

#endif
