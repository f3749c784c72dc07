/* Paging decisions for GET /handling-units: a page answers
 * {total, returned, first, items}; the next one starts at first+returned. */
#include "cursor.h"

#include <limits.h>
#include <stddef.h>

void soget_cursor_init(soget_cursor *c, long max_pages) {
  c->bound = -1;
  c->last_offset = -1;
  c->next_offset = 0;
  c->pages = 0;
  c->max_pages = max_pages > 0 ? max_pages : 0;
  c->done = 0;
  c->why = NULL;
}

static void stop(soget_cursor *c, const char *why) {
  c->done = 1;
  c->why = why;
}

void soget_cursor_page(soget_cursor *c, long requested, long total,
                       long returned, long first, long nitems) {
  long next;
  c->pages++;
  c->last_offset = requested;
  if (c->bound < 0 || total < c->bound) c->bound = total;
  if (nitems == 0 || returned <= 0) { stop(c, "empty page"); return; }
  if (first != requested) { stop(c, "inconsistent page: first is not the offset asked for"); return; }
  if (returned != nitems) { stop(c, "inconsistent page: returned is not the number of items"); return; }
  if (c->max_pages && c->pages >= c->max_pages) { stop(c, "max_pages reached"); return; }
  /* returned > 0 here: first + returned can only overflow upwards */
  if (first > LONG_MAX - returned) { stop(c, "no progress"); return; }
  next = first + returned;
  if (next <= requested) { stop(c, "no progress"); return; }
  if (next >= c->bound) { stop(c, "total reached"); return; }
  c->next_offset = next;
}

void soget_cursor_used_up(soget_cursor *c, long fresh) {
  if (!c->done && fresh <= 0) stop(c, "no new units");
}
