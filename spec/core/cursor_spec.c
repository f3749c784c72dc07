/* src/core/cursor.c: walks of pages, honest and lying, each page a row of
 * (requested, total, returned, first, nitems, fresh); then random lying
 * servers, where the walk must end: offsets strictly increase, stay below
 * the smallest total announced, and max_pages holds. */
#include <limits.h>

#include "check.h"
#include "core/cursor.h"

#define TOTAL "total reached"
#define EMPTY "empty page"
#define FIRST "inconsistent page: first is not the offset asked for"
#define RETURNED "inconsistent page: returned is not the number of items"
#define MAXP "max_pages reached"
#define NOTNEW "no new units"

typedef struct { long requested, total, returned, first, nitems, fresh; } page;

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
  {"an empty page below the total", 0, EMPTY, 2,
   {{0, 100, 5, 0, 5, 5}, {5, 100, 0, 5, 0, 0}}},
  {"returned 0 with items", 0, EMPTY, 1, {{0, 10, 0, 0, 3, 3}}},
  {"returned negative", 0, EMPTY, 1, {{0, 10, -5, 0, 3, 3}}},
  {"no items though returned says 5", 0, EMPTY, 1, {{0, 10, 5, 0, 0, 0}}},
  {"first is not the offset asked for", 0, FIRST, 1, {{5, 20, 5, 0, 5, 5}}},
  {"first is past the offset asked for", 0, FIRST, 1, {{0, 20, 5, 3, 5, 5}}},
  {"the server starts over on page 2", 0, FIRST, 2,
   {{0, 20, 5, 0, 5, 5}, {5, 20, 5, 0, 5, 5}}},
  {"returned is more than the items", 0, RETURNED, 1, {{0, 20, 5, 0, 4, 4}}},
  {"returned is less than the items", 0, RETURNED, 1, {{0, 20, 2, 0, 4, 4}}},
  {"max_pages 1", 1, MAXP, 1, {{0, 100, 5, 0, 5, 5}}},
  {"max_pages 2", 2, MAXP, 2, {{0, 100, 5, 0, 5, 5}, {5, 100, 5, 5, 5, 5}}},
  {"max_pages and the total on the same page", 2, MAXP, 2,
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
  {"used up after the end changes nothing", 0, TOTAL, 1, {{0, 5, 5, 0, 5, 0}}},
  {"the total shrinks", 0, TOTAL, 2,
   {{0, 20, 5, 0, 5, 5}, {5, 8, 5, 5, 5, 5}}},
  {"the total grows: the smallest is kept", 0, TOTAL, 2,
   {{0, 8, 5, 0, 5, 5}, {5, 1000, 5, 5, 5, 5}}},
  {"the total grows and shrinks", 0, TOTAL, 3,
   {{0, 30, 5, 0, 5, 5}, {5, 12, 5, 5, 5, 5}, {10, 500, 5, 10, 5, 5}}},
  {"a total of 0 with items", 0, TOTAL, 1, {{0, 0, 5, 0, 5, 5}}},
  {"a negative total", 0, TOTAL, 1, {{0, -1, 5, 0, 5, 5}}},
  {"a total below the offset asked for", 0, TOTAL, 1, {{10, 3, 2, 10, 2, 2}}},
  {"more returned than the total", 0, TOTAL, 1, {{0, 3, 5, 0, 5, 5}}},
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
      if (!c.done) CHECK(c.next_offset < c.bound);
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

int main(void) {
  test_overflow();
  test_init();
  test_walks();
  test_liars();
  return CHECK_DONE();
}
