/* Growable byte buffer. Knows nothing about Lua. A buffer that grows
 * leaves nothing of its bytes in the block it leaves (wiped before it is
 * freed); a buffer's owner wipes what it holds before soget_buf_free when
 * that may be a secret. */
#ifndef SOGET_BUF_H
#define SOGET_BUF_H

#include <stddef.h>
#include "visibility.h"

SOGET_HIDDEN_BEGIN

typedef struct soget_buf {
  char *data;     /* NUL-terminated when non-NULL */
  size_t len;
  size_t cap;
  size_t limit;   /* 0: no limit; otherwise appends past it fail */
} soget_buf;

void soget_buf_init(soget_buf *b, size_t limit);
void soget_buf_free(soget_buf *b);
void soget_buf_free_wiped(soget_buf *b);     /* wipes all it held, then frees */
void soget_buf_reset(soget_buf *b);           /* len = 0, keeps memory */
void soget_buf_rtrim(soget_buf *b);           /* drops trailing spaces and tabs */
int soget_buf_reserve(soget_buf *b, size_t extra);   /* 0 ok, -1 no memory/limit */
int soget_buf_add(soget_buf *b, const void *p, size_t n);
int soget_buf_adds(soget_buf *b, const char *s);
int soget_buf_addc(soget_buf *b, char c);
int soget_buf_addf(soget_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  ;

SOGET_HIDDEN_END

#endif
