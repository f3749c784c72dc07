/* Paging decisions: which offset to ask for next, and when to stop.
 * Knows nothing about Lua or I/O, so every driver shares it. */
#ifndef SOGET_CURSOR_H
#define SOGET_CURSOR_H

#include "visibility.h"

SOGET_HIDDEN_BEGIN

typedef struct soget_cursor {
  long bound;        /* offsets never reach this: the smallest total seen */
  long last_offset;  /* offset of the last page asked for */
  long next_offset;  /* valid while !done */
  long pages;        /* pages seen so far */
  long max_pages;    /* 0: no cap */
  int done;
  const char *why;   /* why the walk stopped (for debugging and tests) */
} soget_cursor;

void soget_cursor_init(soget_cursor *c, long max_pages);

/* Records the page answered for a request at offset `requested` and
 * decides whether there is a next one. Guarantees termination: offsets
 * strictly increase and never reach the smallest total announced. */
void soget_cursor_page(soget_cursor *c, long requested, long total,
                       long returned, long first, long nitems);

/* Records that the current page is used up, having brought `fresh` units
 * not yielded before: a page that brought none ends the walk (a server
 * repeating units must not keep it going until its total). */
void soget_cursor_used_up(soget_cursor *c, long fresh);

SOGET_HIDDEN_END

#endif
