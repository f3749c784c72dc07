/* src/core/cursor.c: walks of pages, honest and lying, each page a row of
 * (requested, total, returned, first, nitems, fresh); then random lying
 * servers, where the walk must end: offsets strictly increase, stay below
 * the smallest total announced, and max_pages holds; then exact walks:
 * which units match, and the proofs that end them. */
#include <limits.h>
#include <stdio.h>

#include "check.h"
#include "core/cursor.h"

#define TOTAL "total reached"
#define EMPTY "empty page"
#define FIRST "inconsistent page: first is not the offset asked for"
#define RETURNED "inconsistent page: returned is not the number of items"
/* at the total or an empty page, a walk whose listing contradicted
 * itself says so instead (its doubt) */
#define D_EMPTY "an empty page below the total announced"
#define D_MORE "a page holds more units than its total"
#define D_TOTAL "the listing's total changed while it was read"
#define MAXP "max_pages reached"
#define NOTNEW "no new units"

typedef struct { long requested, total, returned, first, nitems, fresh; } page;

#define NT SOGET_CURSOR_NO_TOTAL   /* a page that gave no total */

/* The driver asks for the first page at pages[0].requested and for every
 * later one at the cursor's next_offset: each later row's `requested` is
 * what the cursor must have asked for. The walk ends after the last row. */
static const struct {
  const char *name;
  long max_pages;
  const char *why;
  int n;
  page p[6];
} walks[] = {
  {"one page holds the total", 0, TOTAL, 1, {{0, 3, 3, 0, 3, 3}}},
  {"three pages of 5 for 12", 0, TOTAL, 3,
   {{0, 12, 5, 0, 5, 5}, {5, 12, 5, 5, 5, 5}, {10, 12, 2, 10, 2, 2}}},
  {"the total a multiple of the page", 0, TOTAL, 2,
   {{0, 10, 5, 0, 5, 5}, {5, 10, 5, 5, 5, 5}}},
  {"pages of 1", 0, TOTAL, 3,
   {{0, 3, 1, 0, 1, 1}, {1, 3, 1, 1, 1, 1}, {2, 3, 1, 2, 1, 1}}},
  {"from a user's offset", 0, TOTAL, 3,
   {{7, 20, 5, 7, 5, 5}, {12, 20, 5, 12, 5, 5}, {17, 20, 3, 17, 3, 3}}},
  {"nothing found", 0, EMPTY, 1, {{0, 0, 0, 0, 0, 0}}},
  {"an empty page below the total", 0, D_EMPTY, 2,
   {{0, 100, 5, 0, 5, 5}, {5, 100, 0, 5, 0, 0}}},
  {"returned 0 with items: no empty page", 0, RETURNED, 1, {{0, 10, 0, 0, 3, 3}}},
  {"returned negative", 0, RETURNED, 1, {{0, 10, -5, 0, 3, 3}}},
  {"no items though returned says 5", 0, RETURNED, 1, {{0, 10, 5, 0, 0, 0}}},
  {"first is not the offset asked for", 0, FIRST, 1, {{5, 20, 5, 0, 5, 5}}},
  {"first is past the offset asked for", 0, FIRST, 1, {{0, 20, 5, 3, 5, 5}}},
  {"the server starts over on page 2", 0, FIRST, 2,
   {{0, 20, 5, 0, 5, 5}, {5, 20, 5, 0, 5, 5}}},
  {"returned is more than the items", 0, RETURNED, 1, {{0, 20, 5, 0, 4, 4}}},
  {"returned is less than the items", 0, RETURNED, 1, {{0, 20, 2, 0, 4, 4}}},
  {"max_pages 1", 1, MAXP, 1, {{0, 100, 5, 0, 5, 5}}},
  {"max_pages 2", 2, MAXP, 2, {{0, 100, 5, 0, 5, 5}, {5, 100, 5, 5, 5, 5}}},
  {"max_pages and the total on the same page: the total (max_pages cut nothing)", 2, TOTAL, 2,
   {{0, 10, 5, 0, 5, 5}, {5, 10, 5, 5, 5, 5}}},
  {"max_pages 0 is no cap", 0, TOTAL, 4,
   {{0, 16, 4, 0, 4, 4}, {4, 16, 4, 4, 4, 4}, {8, 16, 4, 8, 4, 4}, {12, 16, 4, 12, 4, 4}}},
  {"max_pages negative is no cap", -3, TOTAL, 4,
   {{0, 16, 4, 0, 4, 4}, {4, 16, 4, 4, 4, 4}, {8, 16, 4, 8, 4, 4}, {12, 16, 4, 12, 4, 4}}},
  {"a page of repeats ends the walk", 0, NOTNEW, 2,
   {{0, 100, 5, 0, 5, 5}, {5, 100, 5, 5, 5, 0}}},
  {"a first page of repeats", 0, NOTNEW, 1, {{0, 100, 5, 0, 5, 0}}},
  {"one fresh unit is enough", 0, TOTAL, 2,
   {{0, 10, 5, 0, 5, 1}, {5, 10, 5, 5, 5, 1}}},
  {"a last page of repeats: no new units, not the total", 0, NOTNEW, 1, {{0, 5, 5, 0, 5, 0}}},
  {"a last page with one fresh unit: the total", 0, TOTAL, 2,
   {{0, 10, 5, 0, 5, 5}, {5, 10, 5, 5, 5, 1}}},
  {"max_pages on a page of repeats: no new units", 2, NOTNEW, 2,
   {{0, 100, 5, 0, 5, 5}, {5, 100, 5, 5, 5, 0}}},
  {"the total shrinks", 0, D_MORE, 2,
   {{0, 20, 5, 0, 5, 5}, {5, 8, 5, 5, 5, 5}}},
  {"the total grows: the smallest is kept", 0, D_TOTAL, 2,
   {{0, 8, 5, 0, 5, 5}, {5, 1000, 5, 5, 5, 5}}},
  {"the total grows and shrinks", 0, D_TOTAL, 3,
   {{0, 30, 5, 0, 5, 5}, {5, 12, 5, 5, 5, 5}, {10, 500, 5, 10, 5, 5}}},
  {"a total of 0 with items", 0, D_MORE, 1, {{0, 0, 5, 0, 5, 5}}},
  {"a negative total", 0, D_MORE, 1, {{0, -1, 5, 0, 5, 5}}},
  {"a total below the offset asked for", 0, D_MORE, 1, {{10, 3, 2, 10, 2, 2}}},
  {"more returned than the total", 0, D_MORE, 1, {{0, 3, 5, 0, 5, 5}}},
  /* A page without a total: its guess (first + returned) ended the walk
   * after a full page, and an exact lookup called that page complete */
  {"no totals: read to the first empty page", 0, EMPTY, 4,
   {{0, NT, 5, 0, 5, 5}, {5, NT, 5, 5, 5, 5}, {10, NT, 2, 10, 2, 2}, {12, NT, 0, 12, 0, 0}}},
  {"no totals: nothing found", 0, EMPTY, 1, {{0, NT, 0, 0, 0, 0}}},
  {"no totals: a page of repeats ends the walk", 0, NOTNEW, 2,
   {{0, NT, 5, 0, 5, 5}, {5, NT, 5, 5, 5, 0}}},
  {"no totals: max_pages", 2, MAXP, 2, {{0, NT, 5, 0, 5, 5}, {5, NT, 5, 5, 5, 5}}},
  {"no totals: first is not the offset asked for", 0, FIRST, 2,
   {{0, NT, 5, 0, 5, 5}, {5, NT, 5, 0, 5, 5}}},
  {"a total after pages without one ends the walk", 0, TOTAL, 2,
   {{0, NT, 5, 0, 5, 5}, {5, 7, 2, 5, 2, 2}}},
  {"a page without a total amid pages with one", 0, TOTAL, 3,
   {{0, 12, 5, 0, 5, 5}, {5, NT, 5, 5, 5, 5}, {10, 12, 2, 10, 2, 2}}},
  {"the first total given is the one a later page must keep", 0, D_TOTAL, 3,
   {{0, NT, 5, 0, 5, 5}, {5, 30, 5, 5, 5, 5}, {10, 15, 5, 10, 5, 5}}},
  {"an empty page without a total below one announced", 0, D_EMPTY, 2,
   {{0, 100, 5, 0, 5, 5}, {5, NT, 0, 5, 0, 0}}},
  {"no totals: the end of int32 offsets", 0, TOTAL, 2,
   {{2147483637L, NT, 5, 2147483637L, 5, 5}, {2147483642L, NT, 5, 2147483642L, 5, 5}}},
  {"the int32 ceiling", 0, TOTAL, 2,
   {{2147483637L, 2147483647L, 5, 2147483637L, 5, 5},
    {2147483642L, 2147483647L, 5, 2147483642L, 5, 5}}},
};

static void test_walks(void) {
  size_t i;
  int k;
  for (i = 0; i < COUNT(walks); i++) {
    soget_cursor c;
    long last = -1;
    CASE("walk: %s", walks[i].name);
    soget_cursor_init(&c, walks[i].max_pages);
    CHECK(!c.done);
    CHECK(c.why == NULL);
    for (k = 0; k < walks[i].n; k++) {
      const page *p = &walks[i].p[k];
      if (k > 0) {
        if (!CHECK(!c.done)) break;
        CHECK_INT(c.next_offset, p->requested);
        CHECK(c.next_offset > last);
      }
      soget_cursor_page(&c, p->requested, p->total, p->returned, p->first, p->nitems);
      CHECK_INT(c.pages, k + 1);
      CHECK_INT(c.last_offset, p->requested);
      soget_cursor_used_up(&c, p->fresh);
      if (!c.done) CHECK(c.next_offset < (c.totals ? c.bound : SOGET_CURSOR_OFFSET_END));
      last = p->requested;
    }
    CHECK(c.done);
    CHECK_STR(c.why, walks[i].why);
  }
}

static void test_init(void) {
  soget_cursor c;
  CASE("init");
  soget_cursor_init(&c, 7);
  CHECK_INT(c.max_pages, 7);
  CHECK_INT(c.pages, 0);
  CHECK_INT(c.next_offset, 0);
  CHECK_INT(c.bound, -1);
  CHECK(!c.done);
  soget_cursor_init(&c, -1);
  CHECK_INT(c.max_pages, 0);
}

/* A deterministic generator, so a failing walk is the same on every run. */
static unsigned long rng;
static long pick(long lo, long hi) {
  rng = rng * 6364136223846793005UL + 1442695040888963407UL;
  return lo + (long)((rng >> 33) % (unsigned long)(hi - lo + 1));
}

/* Servers that lie at random; the walk must still end, and soon. */
static void test_liars(void) {
  int seed;
  CASE("liars: 2000 random lying servers");
  for (seed = 1; seed <= 2000; seed++) {
    soget_cursor c;
    long requested, smallest = LONG_MAX, below = LONG_MAX, start, max_pages;
    int n = 0;
    rng = (unsigned long)seed;
    max_pages = pick(-1, 6);
    start = pick(0, 3) == 0 ? pick(0, 50) : 0;
    requested = start;
    SUBCASE("liar: seed %d", seed);
    soget_cursor_init(&c, max_pages);
    while (!c.done && n < 10000) {
      int honest = pick(0, 3) != 0;
      long total = honest ? pick(40, 60) : pick(-5, 200);
      long nitems = pick(0, 12);
      long returned = honest ? nitems : pick(-2, 14);
      long first = honest ? requested : pick(0, 3) ? requested : pick(-5, 80);
      long fresh = pick(0, 5) ? nitems : 0;
      if (total < smallest) smallest = total;
      soget_cursor_page(&c, requested, total, returned, first, nitems);
      soget_cursor_used_up(&c, fresh);
      n++;
      if (!c.done) {
        if (!CHECK(c.next_offset > requested)) break;
        if (!CHECK(c.next_offset < smallest)) break;
        requested = c.next_offset;
        below = smallest;
      }
    }
    CHECK(c.done);
    CHECK(c.why != NULL);
    if (max_pages > 0) CHECK(n <= max_pages);
    /* each page after the first was asked for at least one past the one
     * before, and below the smallest total seen when it was asked for */
    if (n > 1) CHECK(n - 1 <= below - start);
  }
}

/* first + returned past LONG_MAX (UBSan would flag the overflow): a page
 * that cannot lead anywhere ends the walk. Lua clamps to int32 first; a C
 * caller need not. */
static void test_overflow(void) {
  soget_cursor c;
  CASE("no next offset past LONG_MAX");
  soget_cursor_init(&c, 0);
  soget_cursor_page(&c, LONG_MAX - 1, LONG_MAX, 5, LONG_MAX - 1, 5);
  CHECK_INT(c.done, 1);
  CHECK_STR(c.why, "no progress");
}


/* ---- exact walks -------------------------------------------------------- */

#define MORE "no more matches"
typedef struct { const char *ref, *psw; } unit;
#define P(a, b) {a, b}
#define LONGZ "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"

/* The listing as a server holds it, asked for from offset 0 in pages of
 * `limit`; `total` is what each page announces (0: the listing's size).
 * The walk must match exactly the units named in `matches` (their ids,
 * space-separated, in order), end for `why`, and read `pages` pages. */
static const struct {
  const char *name;
  const char *ref, *spi;   /* NULL: not given */
  long limit, total;
  int n;
  unit u[14];
  const char *matches, *why;
  long pages;
} exacts[] = {
  {"the reference, then longer ones: the first page proves it", "LOT 7", NULL, 3, 0, 6,
   {P("LOT 7", "D"), P("LOT 70", "A"), P("LOT 71", "F"), P("LOT 72", "B"), P("LOT 73", "E"),
    P("LOT 74", "C")},
   "D", MORE, 1},
  {"a listing in the order of its ids can look sorted by reference: read on", "LOT 7", NULL,
   2, 0, 4,
   {P("LOT 70", "1"), P("LOT 71", "2"), P("LOT 72", "3"), P("LOT 7", "4")},
   "4", TOTAL, 2},
  {"lots in the order of both references and ids: no proof, read to the end", "LOT 7", NULL,
   2, 0, 5,
   {P("LOT 7", "1"), P("LOT 70", "2"), P("LOT 71", "3"), P("LOT 72", "4"), P("LOT 73", "5")},
   "1", TOTAL, 3},
  {"a listing newest first can look sorted by reference too: read on", "LOT 7", NULL, 2, 0,
   3, {P("LOT 7", "3"), P("LOT 70", "2"), P("LOT 7", "1")},
   "3 1", TOTAL, 2},
  {"newest first, then a pair of ids in ascending order: that page proves it", "LOT 7", NULL,
   2, 0, 5,
   {P("LOT 7", "5"), P("LOT 70", "4"), P("LOT 71", "3"), P("LOT 72", "6"), P("LOT 73", "1")},
   "5", MORE, 2},
  {"the ids' order broken on a later page: that page proves it", "LOT 7", NULL, 2, 0, 6,
   {P("LOT 7", "1"), P("LOT 70", "2"), P("LOT 71", "3"), P("LOT 72", "4"), P("LOT 73", "0"),
    P("LOT 74", "5")},
   "1", MORE, 3},
  {"units without an id say nothing of the ids' order", "LOT 7", NULL, 2, 0, 4,
   {P("LOT 7", "2"), P("LOT 70", NULL), P("LOT 71", ""), P("LOT 72", "3")},
   "2", TOTAL, 2},
  {"several passages over two pages, then the total", "ABCU1234560", NULL, 4, 0, 6,
   {P("ABCU1234560", "1"), P("ABCU1234560", "2"), P("ABCU1234560", "3"), P("ABCU1234560", "4"),
    P("ABCU1234560", "5"), P("ABCU1234560", "6")},
   "1 2 3 4 5 6", TOTAL, 2},
  {"passages, then a longer reference on page 2", "ABCU1234560", NULL, 4, 0, 9,
   {P("ABCU1234560", "1"), P("ABCU1234560", "2"), P("ABCU1234560", "3"), P("ABCU1234560", "4"),
    P("ABCU1234560", "5"), P("ABCU1234560-2", "0"), P("ABCU1234560-3", "7"),
    P("ABCU1234560-4", "8"), P("ABCU1234560-5", "9")},
   "1 2 3 4 5", MORE, 2},
  {"a page that ends with the last match: the next one proves it", "LOT 7", NULL, 2, 0, 5,
   {P("LOT 7", "A"), P("LOT 7", "B"), P("LOT 70", "0"), P("LOT 71", "D"), P("LOT 72", "E")},
   "A B", MORE, 2},
  {"any case, as the API matches", "abcu1234560", NULL, 5, 0, 3,
   {P("ABCU1234560", "1"), P("abcu1234560", "2"), P("AbCu1234560", "3")},
   "1 2 3", TOTAL, 1},
  {"a prefix that is no reference: nothing, in one page", "MSCU99", NULL, 5, 0, 7,
   {P("MSCU990001", "3"), P("MSCU990002", "1"), P("MSCU990003", "7"), P("MSCU990004", "4"),
    P("MSCU990005", "5"), P("MSCU990006", "6"), P("MSCU990007", "2")},
   "", MORE, 1},
  {"the order folds case too", "LOT 7", NULL, 3, 0, 6,
   {P("LOT 7", "B"), P("lot 70", "A"), P("LOT 71", "C"), P("lot 72", "D"), P("LOT 73", "E"),
    P("LOT 74", "F")},
   "B", MORE, 1},
  {"a page out of order voids the proof: the walk reads to the end", "LOT 7", NULL, 3, 0, 6,
   {P("LOT 7", "A"), P("LOT 70", "B"), P("LOT 69", "C"), P("LOT 7", "D"), P("LOT 8", "E"),
    P("LOT 9", "F")},
   "A D", TOTAL, 2},
  {"units out of order across pages void it too", "LOT 7", NULL, 2, 0, 6,
   {P("LOT 5", "Z"), P("LOT 7", "A"), P("LOT 6", "C"), P("LOT 7", "D"), P("LOT 70", "E"),
    P("LOT 71", "F")},
   "A D", TOTAL, 3},
  {"a unit without a reference comes first in the order", "LOT 7", NULL, 3, 0, 3,
   {P(NULL, "B"), P("LOT 7", "C"), P("LOT 70", "A")},
   "C", MORE, 1},   /* (the last page, which proves it too: the proof is said) */
  {"a unit without a reference after others voids the proof", "LOT 7", NULL, 2, 0, 4,
   {P("LOT 7", "A"), P(NULL, "B"), P("LOT 70", "C"), P("LOT 71", "D")},
   "A", TOTAL, 2},
  {"an S)ONE id is unique: met, the walk ends", NULL, "CNI0000000002", 2, 0, 6,
   {P("A", "CNI0000000001"), P("B", "CNI0000000002"), P("C", "CNI00000000021"), P("D", "x"),
    P("E", "y"), P("F", "z")},
   "CNI0000000002", MORE, 1},
  {"an S)ONE id in any case", NULL, "cni0000000002", 5, 9, 2,
   {P("A", "CNI0000000001"), P("B", "CNI0000000002")},
   "CNI0000000002", MORE, 1},
  {"an S)ONE id not there: to the end", NULL, "CNI0000000009", 2, 0, 5,
   {P("A", "CNI00000000091"), P("B", "CNI00000000092"), P("C", "CNI00000000093"),
    P("D", "CNI00000000094"), P("E", "CNI00000000095")},
   "", TOTAL, 3},
  {"a reference and an id: both must match", "ABCU1234560", "CNI0000000003", 2, 0, 6,
   {P("ABCU1234560", "CNI0000000001"), P("ABCU1234560", "CNI0000000002"),
    P("ABCU1234560", "CNI0000000003"), P("ABCU1234560", "CNI0000000004"),
    P("ABCU12345601", "CNI0000000003"), P("ABCU12345602", "CNI0000000006")},
   "CNI0000000003", MORE, 2},
  {"the id under another reference: no match, the order proves it", "ABCU1234560",
   "CNI0000000005", 2, 0, 5,
   {P("ABCU1234560", "CNI0000000008"), P("ABCU1234560", "CNI0000000002"),
    P("ABCU12345601", "CNI0000000005"), P("ABCU12345602", "CNI0000000006"),
    P("ABCU12345603", "CNI0000000007")},
   "", MORE, 2},
  {"bytes beyond ASCII are compared as they are", "CAF\xc3\x89", NULL, 5, 0, 3,
   {P("CAF\xc3\x89", "2"), P("caf\xc3\x89", "3"), P("CAF\xc3\xa9", "1")},
   "2 3", MORE, 1},
  {"a reference longer than the cursor keeps comes after", "ZZZZ", NULL, 3, 0, 4,
   {P("ZZZZ", "2"), P(LONGZ, "1"), P(LONGZ, "3"), P(LONGZ "Z", "4")},
   "2", MORE, 1},
  {"the total says more than the listing: an empty page ends it", "LOT 7", NULL, 2, 50, 3,
   {P("LOT 7", "A"), P("LOT 7", "B"), P("LOT 7", "C")},
   "A B C", D_EMPTY, 3},
  {"nothing at all", "LOT 7", NULL, 5, 0, 0, {P(NULL, NULL)}, "", EMPTY, 1},
};

static void test_exact_walks(void) {
  size_t i;
  for (i = 0; i < COUNT(exacts); i++) {
    soget_cursor c;
    char got[200];
    size_t gn = 0;
    long total = exacts[i].total ? exacts[i].total : exacts[i].n, requested = 0;
    CASE("exact: %s", exacts[i].name);
    soget_cursor_init(&c, 0);
    CHECK_INT(soget_cursor_exact(&c, exacts[i].ref, exacts[i].ref ? strlen(exacts[i].ref) : 0,
                                 exacts[i].spi, exacts[i].spi ? strlen(exacts[i].spi) : 0), 0);
    got[0] = '\0';
    while (!c.done && c.pages < 100) {
      long k, from = requested, to = requested + exacts[i].limit;
      if (to > exacts[i].n) to = exacts[i].n;
      if (from > to) from = to;
      soget_cursor_page(&c, requested, total, to - from, requested, to - from);
      for (k = from; k < to; k++) {
        const unit *u = &exacts[i].u[k];
        if (soget_cursor_unit(&c, u->ref, u->ref ? strlen(u->ref) : 0, u->psw,
                              u->psw ? strlen(u->psw) : 0, 0))
          gn += (size_t)snprintf(got + gn, sizeof got - gn, "%s%s", gn ? " " : "", u->psw);
      }
      soget_cursor_used_up(&c, to - from);
      if (!c.done) {
        CHECK_INT(c.next_offset, to);
        requested = c.next_offset;
      }
    }
    CHECK(c.done);
    CHECK_STR(got, exacts[i].matches);
    CHECK_STR(c.why, exacts[i].why);
    CHECK_INT(c.pages, exacts[i].pages);
  }
}

static void test_exact_edges(void) {
  soget_cursor c;
  char big[SOGET_CURSOR_KEY + 1];
  memset(big, 'A', sizeof big);
  CASE("exact: a query longer than the cursor keeps is refused");
  soget_cursor_init(&c, 0);
  CHECK_INT(soget_cursor_exact(&c, big, sizeof big, NULL, 0), -1);
  CHECK_INT(c.exact, 0);
  CHECK_INT(soget_cursor_exact(&c, NULL, 0, big, sizeof big), -1);
  CHECK_INT(soget_cursor_exact(&c, big, SOGET_CURSOR_KEY, NULL, 0), 0);
  CHECK_INT(c.exact, 1);

  CASE("exact: a page of repeats with no proof ends the walk as before");
  soget_cursor_init(&c, 0);
  soget_cursor_exact(&c, "LOT 7", 5, NULL, 0);
  soget_cursor_page(&c, 0, 10, 2, 0, 2);
  soget_cursor_unit(&c, "LOT 7", 5, "A", 1, 0);
  soget_cursor_unit(&c, "LOT 7", 5, "B", 1, 0);
  soget_cursor_used_up(&c, 2);
  CHECK(!c.done);
  soget_cursor_page(&c, 2, 10, 2, 2, 2);
  soget_cursor_unit(&c, "LOT 7", 5, "A", 1, 1);
  soget_cursor_unit(&c, "LOT 7", 5, "B", 1, 1);
  soget_cursor_used_up(&c, 0);
  CHECK_STR(c.why, NOTNEW);
  CHECK_INT(c.matches, 4);

  CASE("exact: the page's own stops come first");
  soget_cursor_init(&c, 0);
  soget_cursor_exact(&c, "LOT 7", 5, NULL, 0);
  soget_cursor_page(&c, 0, 10, 2, 1, 2);
  CHECK_STR(c.why, FIRST);
  soget_cursor_unit(&c, "LOT 8", 5, "A", 1, 0);
  soget_cursor_used_up(&c, 1);
  CHECK_STR(c.why, FIRST);

  CASE("exact: a unit met again says nothing of the ids' order");
  /* the listing in the order of its ids moved back by a page: its first
   * unit comes again, whose id is before the last one met */
  soget_cursor_init(&c, 0);
  soget_cursor_exact(&c, "LOT 7", 5, NULL, 0);
  soget_cursor_page(&c, 0, 10, 2, 0, 2);
  soget_cursor_unit(&c, "LOT 7", 5, "A", 1, 0);
  soget_cursor_unit(&c, "LOT 7", 5, "C", 1, 0);
  soget_cursor_used_up(&c, 2);
  soget_cursor_page(&c, 2, 10, 2, 2, 2);
  soget_cursor_unit(&c, "LOT 7", 5, "A", 1, 1);
  soget_cursor_unit(&c, "LOT 70", 6, "D", 1, 0);
  soget_cursor_used_up(&c, 1);
  CHECK(!c.done);
  CHECK_INT(c.ids_fell, 0);
  soget_cursor_page(&c, 4, 10, 2, 4, 2);
  soget_cursor_unit(&c, "LOT 71", 6, "B", 1, 0);   /* before D: not the ids' order */
  soget_cursor_unit(&c, "LOT 72", 6, "E", 1, 0);
  soget_cursor_used_up(&c, 2);
  CHECK_STR(c.why, MORE);

  CASE("exact: at its total with fewer different units than the total: a doubt (moved)");
  /* a unit sent again in place of another, the totals consistent */
  soget_cursor_init(&c, 0);
  soget_cursor_exact(&c, "LOT 7", 5, NULL, 0);
  soget_cursor_page(&c, 0, 4, 2, 0, 2);
  soget_cursor_unit(&c, "LOT 7", 5, "A", 1, 0);
  soget_cursor_unit(&c, "LOT 7", 5, "B", 1, 0);
  soget_cursor_used_up(&c, 2);
  CHECK(!c.done);
  soget_cursor_page(&c, 2, 4, 2, 2, 2);
  soget_cursor_unit(&c, "LOT 7", 5, "A", 1, 1);
  soget_cursor_unit(&c, "LOT 7", 5, "C", 1, 0);
  soget_cursor_used_up(&c, 1);
  CHECK(c.done);
  CHECK_STR(c.why, "fewer different units than the total: pages sent units again in place of "
                   "others");
  CHECK_INT(c.moved, 1);
  CHECK_INT(c.fresh, 3);
  CASE("exact: the same when the page that reaches the total proves the end by the order");
  soget_cursor_init(&c, 0);
  soget_cursor_exact(&c, "ABCU1234560", 11, NULL, 0);
  soget_cursor_page(&c, 0, 4, 2, 0, 2);
  soget_cursor_unit(&c, "ABCU1234560", 11, "1", 1, 0);
  soget_cursor_unit(&c, "ABCU1234560", 11, "2", 1, 0);
  soget_cursor_used_up(&c, 2);
  soget_cursor_page(&c, 2, 4, 2, 2, 2);
  soget_cursor_unit(&c, "ABCU1234560", 11, "2", 1, 1);
  soget_cursor_unit(&c, "ABCU12345601", 12, "0", 1, 0);   /* past, ids descending: a proof */
  soget_cursor_used_up(&c, 1);
  CHECK_STR(c.why, MORE);
  CHECK(c.doubt != NULL);   /* which the exact walk says rather than the proof */
  CHECK_INT(c.moved, 1);
  CASE("exact: one page that repeats a unit of its own contradicts itself: not moved");
  soget_cursor_init(&c, 0);
  soget_cursor_exact(&c, "LOT 7", 5, NULL, 0);
  soget_cursor_page(&c, 0, 3, 3, 0, 3);
  soget_cursor_unit(&c, "LOT 7", 5, "A", 1, 0);
  soget_cursor_unit(&c, "LOT 7", 5, "B", 1, 0);
  soget_cursor_unit(&c, "LOT 7", 5, "A", 1, 1);
  soget_cursor_used_up(&c, 2);
  CHECK(c.doubt != NULL);
  CHECK_INT(c.moved, 0);

  CASE("exact: at its total with as many different units: total reached");
  soget_cursor_init(&c, 0);
  soget_cursor_exact(&c, "LOT 7", 5, NULL, 0);
  soget_cursor_page(&c, 0, 3, 2, 0, 2);
  soget_cursor_used_up(&c, 2);
  soget_cursor_page(&c, 2, 3, 1, 2, 1);
  soget_cursor_used_up(&c, 1);
  CHECK_STR(c.why, TOTAL);
  CASE("a plain walk (a pager, from any offset) at its total with repeats: total reached");
  soget_cursor_init(&c, 0);
  soget_cursor_page(&c, 0, 4, 2, 0, 2);
  soget_cursor_used_up(&c, 2);
  soget_cursor_page(&c, 2, 4, 2, 2, 2);
  soget_cursor_used_up(&c, 1);
  CHECK_STR(c.why, TOTAL);

  CASE("exact: no proof without the exact rules");
  soget_cursor_init(&c, 0);
  soget_cursor_page(&c, 0, 10, 2, 0, 2);
  soget_cursor_unit(&c, "LOT 8", 5, "A", 1, 0);
  soget_cursor_unit(&c, "LOT 9", 5, "0", 1, 0);
  soget_cursor_used_up(&c, 2);
  CHECK(!c.done);
}

/* An exact walk capped at max_pages (as exact lookups are, at 50): a
 * listing whose last page, or a proof, comes on the last page allowed is
 * read whole; one longer is cut. Pages of 1 unit, each the reference. */
static void test_exact_cap(void) {
  static const struct {
    const char *name;
    long units, total;
    const char *after;   /* the reference of the unit after them, or NULL */
    const char *why;
  } caps[] = {
    {"the listing's end on the last page allowed", 3, 3, NULL, TOTAL},
    {"a proof on the last page allowed", 2, 100, "LOT 70", MORE},
    {"more than max_pages allow", 3, 100, NULL, MAXP},
  };
  size_t i;
  for (i = 0; i < COUNT(caps); i++) {
    soget_cursor c;
    long k;
    CASE("exact, max_pages 3: %s", caps[i].name);
    soget_cursor_init(&c, 3);
    soget_cursor_exact(&c, "LOT 7", 5, NULL, 0);
    for (k = 0; k < 3 && !c.done; k++) {
      int after = caps[i].after && k == caps[i].units;
      soget_cursor_page(&c, k, caps[i].total, 1, k, 1);
      CHECK(!c.done);
      CHECK(c.why == NULL);   /* nothing said while the page is read */
      /* (ids in ascending order, then the unit after them: an id before
       * theirs, the listing's order neither that of its ids nor its
       * reverse) */
      soget_cursor_unit(&c, after ? caps[i].after : "LOT 7", after ? 6 : 5,
                        after ? "A" : k == 0 ? "B" : "C", 1, 0);
      soget_cursor_used_up(&c, 1);
    }
    CHECK(c.done);
    CHECK_INT(c.pages, 3);
    CHECK_STR(c.why, caps[i].why);
  }
}

/* A listing that contradicts its own totals: the walk still ends where
 * it did, and says why its end may have missed units (c.doubt, and its
 * why instead of "total reached" or "empty page": a pager's script can
 * tell and walk again), which an exact lookup then refuses to call
 * complete; c.moved tells two pages that disagree (the listing moved
 * while it was read) from a page that contradicts itself. */
static void test_doubt(void) {
  static const struct {
    const char *name;
    long pages[3][3];   /* requested, total, units (first = requested); -1 ends */
    const char *why, *doubt;
    int moved;
  } cases[] = {
    {"an honest listing", {{0, 3, 2}, {2, 3, 1}, {-1, 0, 0}}, TOTAL, NULL, 0},
    {"a listing that shrank to the offset", {{0, 2, 2}, {-1, 0, 0}}, TOTAL, NULL, 0},
    {"an empty page below the total announced before", {{0, 12, 2}, {2, 12, 0}, {-1, 0, 0}},
     D_EMPTY, "an empty page below the total announced", 0},
    {"nothing found after pages that announced more", {{0, 12, 2}, {2, 0, 0}, {-1, 0, 0}},
     D_EMPTY, "an empty page below the total announced", 1},
    {"an empty page whose own total is its offset", {{0, 12, 2}, {2, 2, 0}, {-1, 0, 0}},
     D_EMPTY, "an empty page below the total announced", 1},
    {"a first page empty below its own total", {{0, 12, 0}, {-1, 0, 0}}, D_EMPTY,
     "an empty page below the total announced", 0},
    {"an empty page at the last offset below the total", {{0, 5, 4}, {4, 5, 0}, {-1, 0, 0}},
     D_EMPTY, "an empty page below the total announced", 0},
    {"an empty first page of nothing", {{0, 0, 0}, {-1, 0, 0}}, EMPTY, NULL, 0},
    {"a page holding more units than its total", {{0, 1, 2}, {-1, 0, 0}}, D_MORE,
     "a page holds more units than its total", 0},
    {"a total that fell while the listing was read", {{0, 4, 2}, {2, 3, 1}, {-1, 0, 0}}, D_TOTAL,
     "the listing's total changed while it was read", 1},
    {"a total that grew while the listing was read", {{0, 4, 2}, {2, 5, 2}, {4, 5, 1}}, D_TOTAL,
     "the listing's total changed while it was read", 1},
    {"a total that changed, then more units than the total", {{0, 6, 2}, {2, 3, 2}, {-1, 0, 0}},
     D_MORE, "a page holds more units than its total", 0},
    {"a total that changed, then an empty page below it", {{0, 6, 2}, {2, 5, 2}, {4, 5, 0}},
     D_EMPTY, "an empty page below the total announced", 0},
  };
  size_t i;
  for (i = 0; i < COUNT(cases); i++) {
    soget_cursor c;
    int k;
    CASE("doubt: %s", cases[i].name);
    soget_cursor_init(&c, 0);
    for (k = 0; k < 3 && cases[i].pages[k][0] >= 0 && !c.done; k++) {
      const long *pg = cases[i].pages[k];
      soget_cursor_page(&c, pg[0], pg[1], pg[2], pg[0], pg[2]);
      soget_cursor_used_up(&c, pg[2]);
    }
    CHECK(c.done);
    CHECK_STR(c.why, cases[i].why);
    if (cases[i].doubt) CHECK_STR(c.doubt, cases[i].doubt);
    else CHECK(c.doubt == NULL);
    CHECK(c.moved == cases[i].moved);
  }
}

int main(void) {
  test_overflow();
  test_doubt();
  test_init();
  test_walks();
  test_liars();
  test_exact_walks();
  test_exact_edges();
  test_exact_cap();
  return CHECK_DONE();
}
