/* Paging decisions: which offset to ask for next, and when to stop.
 * Knows nothing about Lua or I/O, so every driver shares it. */
#ifndef SOGET_CURSOR_H
#define SOGET_CURSOR_H

#include <limits.h>
#include <stddef.h>
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* Bytes of a reference or an S)ONE id the exact rules keep: a query's
 * longest (17 and 13 characters of up to 4 bytes) fits. */
#define SOGET_CURSOR_KEY 72

typedef struct soget_cursor {
  long bound;        /* offsets never reach this: the smallest total seen */
  long last_offset;  /* offset of the last page asked for */
  long next_offset;  /* valid while !done */
  long pages;        /* pages seen so far */
  long max_pages;    /* 0: no cap */
  int done;
  const char *why;   /* why the walk stopped (for debugging and tests): at
                      * the total or an empty page, the doubt instead when
                      * there is one */
  const char *end;   /* the current page is the last: why, once it is used up */
  long most;         /* the largest total announced */
  long first_total;  /* the first page's total, of the pages that gave one */
  int totals;        /* pages that gave a total */
  const char *doubt; /* set when the listing contradicted itself or
                      * changed while it was read (an empty page below a
                      * total announced, a page holding more units than its
                      * own total, a total other than the first page's):
                      * units may have moved past the walk, so an end read
                      * from its totals ("total reached", "empty page") may
                      * have missed some. NULL otherwise. */
  int moved;         /* the doubt came from two pages that disagree (a total
                      * that changed, an empty page below a total only an
                      * earlier page announced): the listing moved while it
                      * was read, and a later walk may read it whole. 0 when
                      * a page contradicted itself (more units than its own
                      * total, none below it), which a server would answer
                      * again. */
  /* An exact walk (soget_cursor_exact): which units match, and when the
   * listing's order proves that no later unit can. */
  int exact;
  int sorted;        /* every unit so far in ascending order of reference */
  int past;          /* a unit after the reference in that order was met */
  int ids_fell;      /* two units so far came in descending order of S)ONE id:
                      * the listing is not in the order of its ids */
  int ids_rose;      /* two came in ascending order: nor in their reverse */
  int found_id;      /* the S)ONE id asked for was met: ids are unique */
  size_t ref_len, spi_len, last_len, last_id_len;   /* ref_len, spi_len 0: not given */
  long units;        /* units seen */
  long fresh;        /* units not met before (soget_cursor_used_up's), over the walk */
  long ids;          /* of which had an S)ONE id */
  long matches;      /* of which matched */
  char ref[SOGET_CURSOR_KEY];    /* the query's, ASCII letters upper-cased */
  char spi[SOGET_CURSOR_KEY];
  char last[SOGET_CURSOR_KEY];   /* the last unit's reference, upper-cased, cut */
  char last_id[SOGET_CURSOR_KEY];   /* the last S)ONE id met, upper-cased, cut */
} soget_cursor;

void soget_cursor_init(soget_cursor *c, long max_pages);

/* Records the page answered for a request at offset `requested` and
 * decides whether there is a next one. Guarantees termination: offsets
 * strictly increase and never reach the smallest total announced (nor
 * SOGET_CURSOR_OFFSET_END while no page gave one). A page
 * that cannot be used (empty, inconsistent, no progress) ends the walk at
 * once; the last one (the total or max_pages reached) ends it when it is
 * used up (soget_cursor_used_up), for what its units say first. */
void soget_cursor_page(soget_cursor *c, long requested, long total,
                       long returned, long first, long nitems);
/* The total of a page that gave none (the document requires none of a
 * page's members): such a page neither ends the walk by its total nor
 * casts doubt on it; a walk of such pages ends at its first empty page
 * (or at the int32 offsets' end, SOGET_CURSOR_OFFSET_END). */
#define SOGET_CURSOR_NO_TOTAL LONG_MIN
#define SOGET_CURSOR_OFFSET_END 2147483647L

/* Records that the current page is used up, having brought `fresh` units
 * not yielded before: a page that brought none ends the walk (a server
 * repeating units must not keep it going until its total), the last page
 * included. An exact walk also ends once the page proves that no later
 * unit can match ("no more matches", see soget_cursor_exact); else the
 * last page ends it as "total reached" or "max_pages reached". An exact
 * walk that reaches its total with fewer different units than that total
 * (units sent again in place of others) ends with that doubt instead
 * (moved: a later walk may read it whole). */
void soget_cursor_used_up(soget_cursor *c, long fresh);

/* Makes c an exact walk, after soget_cursor_init: the units that match
 * are those whose reference equals ref (when rlen > 0) and whose S)ONE id
 * equals spi (when slen > 0), ASCII letters in any case, as the API
 * matches them. The listing is asked for in ascending order; the proofs
 * that no later unit can match are:
 *   - the S)ONE id asked for was met: an id is unique (the document:
 *     "This unique identifier...");
 *   - a unit whose reference comes after ref was met, every unit so far
 *     came in ascending order of reference, ASCII letters upper-cased,
 *     byte by byte (the order the document leaves unsaid; the sandbox's),
 *     and the units came in neither order of S)ONE id: two of them in
 *     descending order, two in ascending. A listing in the order of its
 *     ids (or of their passages' creation), oldest or newest first, can
 *     look sorted by reference for a page or more, as lots numbered in
 *     the order they came (or the reverse) do, and hold a match further
 *     on. (Ids are compared byte by byte, ASCII letters upper-cased: a
 *     listing in the order of the numbers within ids of two families,
 *     CNI... and MAR... mixed, would pass for one not in the order of
 *     its ids.)
 * A page out of the order of references voids the second proof for the
 * rest of the walk, which then goes on to the listing's end; while every
 * unit came in one order of ids, so does it. Returns 0, or -1 when a
 * value is longer than SOGET_CURSOR_KEY bytes (nothing changed). */
int soget_cursor_exact(soget_cursor *c, const char *ref, size_t rlen, const char *spi,
                       size_t slen);

/* A unit of the current page, in the listing's order (NULL: the unit has
 * no such field; again: its S)ONE id was met before, the listing moved or
 * repeats it): 1 when it matches, 0 when not. Call it for every unit of
 * the page, then soget_cursor_used_up. */
int soget_cursor_unit(soget_cursor *c, const char *ref, size_t rlen, const char *psw,
                      size_t plen, int again);

SOGET_HIDDEN_END

#endif
