/* Paging decisions for GET /handling-units: a page answers
 * {total, returned, first, items}; the next one starts at first+returned.
 * An exact walk also decides which units match, and stops once the
 * listing's order proves that no later unit can. */
#include "cursor.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

void soget_cursor_init(soget_cursor *c, long max_pages) {
  c->bound = -1;
  c->last_offset = -1;
  c->next_offset = 0;
  c->pages = 0;
  c->max_pages = max_pages > 0 ? max_pages : 0;
  c->done = 0;
  c->why = NULL;
  c->end = NULL;
  c->most = 0;
  c->first_total = 0;
  c->totals = 0;
  c->doubt = NULL;
  c->moved = 0;
  c->exact = 0;
  c->sorted = 1;
  c->past = 0;
  c->ids_fell = c->ids_rose = 0;
  c->found_id = 0;
  c->ref_len = c->spi_len = c->last_len = c->last_id_len = 0;
  c->units = c->ids = c->matches = 0;
  c->fresh = 0;
}

static const char end_total[] = "total reached";

static void stop(soget_cursor *c, const char *why) {
  c->done = 1;
  c->why = why;
}

void soget_cursor_page(soget_cursor *c, long requested, long total,
                       long returned, long first, long nitems) {
  long next;
  int given = total != SOGET_CURSOR_NO_TOTAL;
  c->pages++;
  c->last_offset = requested;
  if (given) {
    if (c->totals == 0 || total < c->bound) c->bound = total;
    if (total > c->most) c->most = total;
    if (c->totals++ == 0) c->first_total = total;
  }
  if (nitems == 0 && returned <= 0) {
    if (requested < c->most) {
      c->doubt = "an empty page below the total announced";
      c->moved = total <= requested;   /* announced by earlier pages only */
    }
    stop(c, c->doubt ? c->doubt : "empty page");
    return;
  }
  if (first != requested) { stop(c, "inconsistent page: first is not the offset asked for"); return; }
  /* (units with a `returned` of 0 or less too: no empty page) */
  if (returned != nitems) { stop(c, "inconsistent page: returned is not the number of items"); return; }
  /* returned > 0 here: first + returned can only overflow upwards */
  if (first > LONG_MAX - returned) { stop(c, "no progress"); return; }
  next = first + returned;
  if (next <= requested) { stop(c, "no progress"); return; }
  if (!given) {
    /* no total to end the walk or doubt it by */
  } else if (next > total) {
    c->doubt = "a page holds more units than its total";
    c->moved = 0;
  } else if (total != c->first_total) {
    c->doubt = "the listing's total changed while it was read";
    c->moved = 1;
  }
  /* The last page: the walk ends once it is used up, for what its units
   * say first (a proof, or none of them new), else for this; the listing's
   * end before max_pages, which then cut nothing. */
  if (next >= (c->totals ? c->bound : SOGET_CURSOR_OFFSET_END)) {
    c->end = end_total;
    return;
  }
  if (c->max_pages && c->pages >= c->max_pages) { c->end = "max_pages reached"; return; }
  c->next_offset = next;
}

void soget_cursor_used_up(soget_cursor *c, long fresh) {
  if (c->done) return;
  if (fresh > 0) c->fresh += fresh;
  /* An exact walk reads the listing from its start: at its total, fewer
   * different units than that total means pages sent units again in
   * place of others (or the listing moved under the walk), which it may
   * have missed, whatever the order proves on this page. Over pages, the
   * listing moved; on one page, the page contradicts itself. */
  if (fresh > 0 && c->exact && c->end == end_total && !c->doubt && c->totals > 0 &&
      c->fresh < c->bound) {
    c->doubt = "fewer different units than the total: pages sent units again in place of "
               "others";
    c->moved = c->pages > 1;
  }
  if (c->exact && (c->found_id || (c->ref_len && c->past && c->sorted && c->ids_fell &&
                    c->ids_rose))) {
    stop(c, "no more matches");
    return;
  }
  if (fresh <= 0) stop(c, "no new units");
  /* an end read from totals that changed or contradicted each other may
   * have missed units: said so rather than "total reached" */
  else if (c->end) stop(c, c->doubt && c->end == end_total ? c->doubt : c->end);
}

/* ---- exact walks ---------------------------------------------------------- */

static char upper(char ch) {
  return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

/* s, ASCII letters upper-cased, cut to SOGET_CURSOR_KEY bytes, into out;
 * returns the bytes written. */
static size_t fold(char *out, const char *s, size_t n) {
  size_t i;
  if (n > SOGET_CURSOR_KEY) n = SOGET_CURSOR_KEY;
  for (i = 0; i < n; i++) out[i] = upper(s[i]);
  return n;
}

/* memcmp's order of a and b, a shorter one first when it is the other's
 * beginning. */
static int compare(const char *a, size_t an, const char *b, size_t bn) {
  int r = memcmp(a, b, an < bn ? an : bn);
  if (r != 0) return r;
  return an < bn ? -1 : an > bn;
}

int soget_cursor_exact(soget_cursor *c, const char *ref, size_t rlen, const char *spi,
                       size_t slen) {
  if ((ref && rlen > SOGET_CURSOR_KEY) || (spi && slen > SOGET_CURSOR_KEY)) return -1;
  c->exact = 1;
  c->sorted = 1;
  c->past = c->ids_fell = c->ids_rose = c->found_id = 0;
  c->units = c->ids = c->matches = 0;
  c->fresh = 0;
  c->last_len = c->last_id_len = 0;
  c->ref_len = ref ? fold(c->ref, ref, rlen) : 0;
  c->spi_len = spi ? fold(c->spi, spi, slen) : 0;
  return 0;
}

/* Whether s (n bytes) equals the folded key k (kn bytes), ASCII letters
 * in any case. */
static int same(const char *s, size_t n, const char *k, size_t kn) {
  size_t i;
  if (!s || n != kn) return 0;
  for (i = 0; i < n; i++)
    if (upper(s[i]) != k[i]) return 0;
  return 1;
}

int soget_cursor_unit(soget_cursor *c, const char *ref, size_t rlen, const char *psw,
                      size_t plen, int again) {
  char key[SOGET_CURSOR_KEY];
  size_t kn = ref ? fold(key, ref, rlen) : 0;
  int match;
  /* The order so far: a unit before the one before voids the proof. A
   * reference cut to SOGET_CURSOR_KEY bytes compares as its beginning: a
   * pair found out of order is out of order whole, never the reverse. */
  if (c->units > 0 && compare(c->last, c->last_len, key, kn) > 0) c->sorted = 0;
  memcpy(c->last, key, kn);
  c->last_len = kn;
  c->units++;
  /* The order of S)ONE ids, of the units that have one (an empty id names
   * none) and were not met before: a unit whose id comes before the one
   * before's shows that the listing is not in their order, one whose id
   * comes after it that the listing is not in their reverse order (an id
   * cut to SOGET_CURSOR_KEY bytes: as for references). A unit met again,
   * on a page after a listing moved, says nothing of it. */
  if (psw && plen > 0 && !again) {
    char id[SOGET_CURSOR_KEY];
    size_t in = fold(id, psw, plen);
    if (c->ids > 0) {
      int order = compare(c->last_id, c->last_id_len, id, in);
      if (order > 0) c->ids_fell = 1;
      if (order < 0) c->ids_rose = 1;
    }
    memcpy(c->last_id, id, in);
    c->last_id_len = in;
    c->ids++;
  }
  match = (c->ref_len == 0 || same(ref, rlen, c->ref, c->ref_len)) &&
          (c->spi_len == 0 || same(psw, plen, c->spi, c->spi_len));
  if (match) {
    c->matches++;
    if (c->spi_len) c->found_id = 1;
  } else if (c->ref_len && compare(key, kn, c->ref, c->ref_len) > 0) {
    c->past = 1;
  }
  return match;
}
