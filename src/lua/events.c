/* soget.events_in_order(unit): a unit's events in time order. The API
 * sends `events` in an order its document does not state (the sandbox
 * sends them oldest first); event dates are ISO 8601 with the offset of
 * the place they happened (core/isotime.h), so they are compared as
 * instants, not as text. */
#include "soget.h"

#include <stdlib.h>

#include "core/isotime.h"

typedef struct stamp {
  long long t;     /* seconds */
  long ns;         /* and nanoseconds */
  lua_Integer i;   /* the event's index in unit.events */
  int ok;          /* t read */
} stamp;

/* By time, unreadable dates after every readable one, ties in the order
 * the API gave: a stable order. */
static int by_time(const void *pa, const void *pb) {
  const stamp *a = pa, *b = pb;
  if (a->ok != b->ok) return a->ok ? -1 : 1;
  if (a->ok && a->t != b->t) return a->t < b->t ? -1 : 1;
  if (a->ok && a->ns != b->ns) return a->ns < b->ns ? -1 : 1;
  return a->i < b->i ? -1 : a->i > b->i;
}

/* soget.events_in_order(unit) -> list: a new list of unit.events' event
 * tables (the same tables), oldest first; events whose eventDate is not a
 * date-time come last, in the order given. */
static int mod_events_in_order(lua_State *L) {
  lua_Integer n, i, k = 0;
  stamp *s;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_getfield(L, 1, "events");                     /* 2 */
  n = lua_type(L, 2) == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, 2) : 0;
  if ((size_t)n > ((size_t)-1) / sizeof *s) return luaL_error(L, "too many events");
  s = lua_newuserdata(L, (size_t)(n > 0 ? n : 1) * sizeof *s);   /* 3: Lua's memory */
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *d;
    lua_rawgeti(L, 2, i);
    if (lua_type(L, -1) != LUA_TTABLE) {   /* not an event: left out */
      lua_pop(L, 1);
      continue;
    }
    lua_getfield(L, -1, "eventDate");
    d = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    s[k].i = i;
    s[k].ok = d != NULL && soget_isotime_parse_ns(d, len, &s[k].t, &s[k].ns) == 0;
    k++;
    lua_pop(L, 2);
  }
  qsort(s, (size_t)k, sizeof *s, by_time);
  soget_push_array(L, (int)(k < 0x7fffffff ? k : 0x7fffffff));
  for (i = 0; i < k; i++) {
    lua_rawgeti(L, 2, s[i].i);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

void soget_events_open(lua_State *L) {
  lua_pushcfunction(L, mod_events_in_order);
  lua_setfield(L, -2, "events_in_order");
}
