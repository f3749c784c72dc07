/* A response body's Content-Encoding, undone as the body arrives: none
 * ("identity"), or one of gzip (x-gzip) and deflate (a zlib stream, or a
 * raw one as some servers send it). The core's HTTP/1.1 parser and the
 * libcurl transport (whose own decoding is off) both decode through it, so
 * that every driver takes and refuses the same bodies: a coding soget does
 * not read, a stream that is not valid, or one cut short. */
#ifndef SOGET_CORE_CODING_H
#define SOGET_CORE_CODING_H

#include "buf.h"
#include "visibility.h"

#include <stddef.h>
#include <zlib.h>

SOGET_HIDDEN_BEGIN

enum {
  SOGET_CODING_OK = 0,
  SOGET_CODING_NOMEM,       /* out of memory */
  SOGET_CODING_TOO_LARGE,   /* the decoded body would pass its cap */
  SOGET_CODING_BAD,         /* the compressed body is not valid */
  SOGET_CODING_UNKNOWN,     /* a Content-Encoding soget cannot decode */
  SOGET_CODING_CUT          /* the compressed body ends before its stream */
};

/* The longest Content-Encoding value soget reads (longer: unknown). */
#define SOGET_CODING_NAME_MAX 64

typedef struct {
  int inflating;        /* the body is compressed: z is in use */
  int inflated;         /* the compressed stream ended: what follows is ignored,
                         * but for another gzip member (RFC 1952 2.2) */
  int gzip;             /* the body is gzip (its first byte 0x1f): members follow
                         * each other, decoded as one body */
  int member_next;      /* a gzip member ended with the bytes fed so far: the
                         * next byte fed tells whether another begins */
  int may_be_raw;       /* "deflate" whose header is not read yet: may lack zlib's */
  unsigned char head[2];   /* the body's first bytes while may_be_raw */
  size_t head_n;
  size_t raw;           /* body bytes taken, before decoding */
  z_stream z;
} soget_coding;

/* Raw body bytes taken for a decoded cap of max: deflate never grows
 * data by more than a few bytes per 16 KB block. */
size_t soget_coding_raw_cap(size_t max);
/* No coding (identity): what init leaves, and what end leaves too. */
void soget_coding_init(soget_coding *c);
/* The coding named by the Content-Encoding value name (len bytes: white
 * space around it trimmed, letters in any case; NULL or empty: none).
 * SOGET_CODING_OK, _UNKNOWN or _NOMEM. */
int soget_coding_start(soget_coding *c, const char *name, size_t len);
/* The len body bytes at at, decoded onto out, which may hold at most max
 * bytes: SOGET_CODING_OK, _NOMEM, _BAD or _TOO_LARGE. Bytes past what
 * the cap can come from (max and deflate's slack) are not decoded: a body
 * that is also not valid fails the same way however its bytes arrive. */
int soget_coding_feed(soget_coding *c, const char *at, size_t len, soget_buf *out, size_t max);
/* The body ended: SOGET_CODING_OK, or _CUT when a compressed stream was
 * begun and not ended (an empty body announced as compressed is empty). */
int soget_coding_finish(const soget_coding *c);
/* Frees zlib's state, if any; the coding is none again. */
void soget_coding_end(soget_coding *c);
/* The message of a result other than SOGET_CODING_OK and _TOO_LARGE
 * (whose message names the cap) and _NOMEM. */
const char *soget_coding_message(int result);

SOGET_HIDDEN_END

#endif
