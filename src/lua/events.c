/* soget.events_in_order(unit): a unit's events in time order. The API
 * sends `events` in an order its document does not state (the sandbox
 * sends them oldest first); event dates are ISO 8601 with the offset of
 * the place they happened (core/isotime.h), so they are compared as
 * instants, not as text. */
#include "soget.h"

#include <limits.h>
#include <math.h>
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

/* The index of the key at the top of the stack in a list: a whole number
 * from 1 (to 2^53), else 0. */
static lua_Integer list_index(lua_State *L) {
  lua_Number v;
  if (lua_type(L, -1) != LUA_TNUMBER) return 0;
  v = lua_tonumber(L, -1);
  return v >= 1 && v <= 9007199254740992.0 && v == floor(v) ? (lua_Integer)v : 0;
}

/* soget.events_in_order(unit) -> list: a new list of unit.events' event
 * tables (the same tables), oldest first; events whose eventDate is not a
 * date-time come last, in the order given. Every whole index of the list
 * counts, holes or not (its length, #, is any border of a list with holes,
 * which differs by runtime). */
static int mod_events_in_order(lua_State *L) {
  lua_Integer n = 0, i, k = 0;
  stamp *s;
  luaL_checktype(L, 1, LUA_TTABLE);
  soget_check_nargs(L, 1, NULL);
  lua_settop(L, 1);
  lua_getfield(L, 1, "events");                     /* 2 */
  if (lua_isnil(L, 2)) {   /* a page, or a list (the events): not a unit */
    int page, list;
    lua_pushliteral(L, "items");
    lua_rawget(L, 1);
    page = lua_type(L, -1) == LUA_TTABLE;
    lua_rawgeti(L, 1, 1);
    list = lua_type(L, -1) == LUA_TTABLE;
    lua_pop(L, 2);
    if (page) luaL_argerror(L, 1, "a page, not a unit: give one of its items");
    if (list) luaL_argerror(L, 1, "a list, not a unit: give the unit, whose events are unit.events");
  }
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      lua_pop(L, 1);
      if (list_index(L)) n++;
    }
  }
  if ((size_t)n > ((size_t)-1) / sizeof *s) return luaL_error(L, "too many events");
  s = lua_newuserdata(L, (size_t)(n > 0 ? n : 1) * sizeof *s);   /* 3: Lua's memory */
  if (n > 0) {
    lua_pushnil(L);
    while (k < n && lua_next(L, 2)) {   /* (k < n: Lua code run since may add events) */
      size_t len;
      const char *d;
      lua_Integer at;
      lua_pushvalue(L, -2);
      at = list_index(L);
      lua_pop(L, 1);
      if (!at || lua_type(L, -1) != LUA_TTABLE) {   /* not an event: left out */
        lua_pop(L, 1);
        continue;
      }
      lua_getfield(L, -1, "eventDate");
      d = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
      s[k].i = at;
      s[k].ok = d != NULL && soget_isotime_parse_ns(d, len, &s[k].t, &s[k].ns) == 0;
      k++;
      lua_pop(L, 2);
    }
    lua_settop(L, 3);
  }
  qsort(s, (size_t)k, sizeof *s, by_time);
  soget_push_array(L, (int)(k < 0x7fffffff ? k : 0x7fffffff));
  for (i = 0; i < k; i++) {
#if LUA_VERSION_NUM < 503
    if (s[i].i > INT_MAX) {   /* lua_rawgeti's index is an int there */
      lua_pushnumber(L, (lua_Number)s[i].i);
      lua_rawget(L, 2);
    } else
#endif
      lua_rawgeti(L, 2, s[i].i);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* soget.instant(date) -> seconds, nanoseconds | nil: the instant a date
 * as events_in_order reads it stands for (a leap second's nanoseconds
 * from 1000000000, counted in the second before it); nil for anything
 * else. For scripts that compare dates (and the soget command's watch,
 * which tells events apart by it). */
static int mod_instant(lua_State *L) {
  size_t len;
  const char *d = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : NULL;
  long long sec;
  long ns;
  luaL_checkany(L, 1);
  soget_check_nargs(L, 1, NULL);
  if (!d || soget_isotime_parse_ns(d, len, &sec, &ns) != 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)sec);
  lua_pushinteger(L, (lua_Integer)ns);
  return 2;
}

void soget_events_open(lua_State *L) {
  lua_pushcfunction(L, mod_events_in_order);
  lua_setfield(L, -2, "events_in_order");
  lua_pushcfunction(L, mod_instant);
  lua_setfield(L, -2, "instant");
}
