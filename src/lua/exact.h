/* Exact lookups: a lookup with exact = true answers only the units whose
 * reference (and S)ONE id, when given) equals the query, in any ASCII
 * case, as the API matches them. The API filters by prefix, so the
 * binding walks the listing (ascending, the order the proofs need) page
 * by page, the core's cursor (core/cursor.h) deciding which units match
 * and when no later unit can; the answer is one complete page of the
 * matches. Every driver runs the same walk: the blocking client, bulk
 * lookups and soget.Call (a call that needs another page answers "ask
 * again at once", so a driver's loop needs nothing new). */
#ifndef SOGET_EXACT_H
#define SOGET_EXACT_H

#include "compat.h"
#include "core/cursor.h"
#include "core/error.h"
#include "core/visibility.h"

SOGET_HIDDEN_BEGIN

/* The most pages of the listing an exact lookup reads (the largest
 * concurrency of drivers' loops and the call's timeout bound it too). */
#define SOGET_EXACT_MAX_PAGES 50

typedef struct soget_exact {
  soget_cursor cur;
  int on;            /* the lookup is exact */
  int desc;          /* answer in descending order (the walk reads ascending) */
  long requested;    /* the offset of the page asked for */
} soget_exact;

/* Reads the normalized lookup at qi (soget_check_query's): x->on when it
 * asks for exact matches, then its reference, S)ONE id and desc. */
void soget_exact_init(lua_State *L, soget_exact *x, int qi);

/* Pushes the state of a walk (the matches so far, the ids met). */
void soget_exact_push_state(lua_State *L);

enum { SOGET_EXACT_DONE = 0, SOGET_EXACT_MORE, SOGET_EXACT_FAIL };
/* Takes the page at pi, answered for x->requested, into the walk whose
 * state is at si. SOGET_EXACT_DONE: the answer is pushed, a page
 * {total = n, returned = n, first = 0, items = the matches}; MORE: the
 * next page is at x->requested; FAIL: e says why the listing cannot be
 * trusted to be complete (kind "api"). Raises out of memory. */
int soget_exact_take(lua_State *L, soget_exact *x, int si, int pi, soget_err *e);

SOGET_HIDDEN_END

#endif
