/* Exact lookups: the walk over the listing's pages (see exact.h). */
#include "exact.h"

#include <string.h>

#include "soget.h"

#define ST_MATCHES 1   /* state[1]: the matches, in the listing's order */
#define ST_SEEN 2      /* state[2]: pswId -> true, every unit met */

void soget_exact_init(lua_State *L, soget_exact *x, int qi) {
  const char *ref = NULL, *spi = NULL;
  size_t rlen = 0, slen = 0;
  memset(x, 0, sizeof *x);
  qi = lua_absindex(L, qi);
  lua_getfield(L, qi, "exact");
  x->on = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!x->on) return;
  lua_getfield(L, qi, "reference");
  if (lua_type(L, -1) == LUA_TSTRING) ref = lua_tolstring(L, -1, &rlen);
  lua_getfield(L, qi, "spi");
  if (lua_type(L, -1) == LUA_TSTRING) spi = lua_tolstring(L, -1, &slen);
  lua_getfield(L, qi, "desc");
  x->desc = lua_toboolean(L, -1);
  soget_cursor_init(&x->cur, SOGET_EXACT_MAX_PAGES);
  /* The query was checked: 17 and 13 characters fit the cursor. The
   * cursor copies the strings. */
  if (soget_cursor_exact(&x->cur, rlen ? ref : NULL, rlen, slen ? spi : NULL, slen) != 0)
    luaL_error(L, "handling_units: the exact query is too long");
  lua_pop(L, 3);
}

void soget_exact_push_state(lua_State *L) {
  lua_createtable(L, 2, 0);
  lua_newtable(L);
  lua_rawseti(L, -2, ST_MATCHES);
  lua_newtable(L);
  lua_rawseti(L, -2, ST_SEEN);
}

/* The string field k of the table at t, or NULL. Stack: +1. */
static const char *string_at(lua_State *L, int t, const char *k, size_t *n) {
  lua_getfield(L, t, k);
  *n = 0;
  return lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, n) : NULL;
}

/* Pushes the answer: the matches as a page, in the order asked for. */
static void push_answer(lua_State *L, soget_exact *x, int matches) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, matches), i;
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "total");
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "returned");
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "first");
  soget_push_array(L, (int)n);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, matches, x->desc ? n - i + 1 : i);
    lua_rawseti(L, -2, i);
  }
  lua_setfield(L, -2, "items");
}

int soget_exact_take(lua_State *L, soget_exact *x, int si, int pi, soget_err *e) {
  soget_cursor *c = &x->cur;
  int top = lua_gettop(L), items, matches, seen;
  long n = 0, fresh = 0, i;
  const char *why;
  si = lua_absindex(L, si);
  pi = lua_absindex(L, pi);
  lua_rawgeti(L, si, ST_MATCHES);
  matches = lua_gettop(L);
  lua_rawgeti(L, si, ST_SEEN);
  seen = lua_gettop(L);
  /* (the walk's state is reachable from Lua through the debug library) */
  if (lua_type(L, matches) != LUA_TTABLE || lua_type(L, seen) != LUA_TTABLE)
    luaL_error(L, "exact lookup: its state was changed (through the debug library)");
  lua_getfield(L, pi, "items");
  items = lua_gettop(L);
  if (lua_type(L, items) == LUA_TTABLE) n = (long)lua_rawlen(L, items);
  soget_cursor_page(c, x->requested, soget_page_total(L, pi), soget_page_int(L, pi, "returned", 0),
                    soget_page_int(L, pi, "first", 0), n);
  for (i = 1; i <= n; i++) {
    const char *ref, *psw;
    size_t rlen, plen;
    int unit, repeat = 0;
    lua_rawgeti(L, items, (lua_Integer)i);
    unit = lua_gettop(L);
    if (lua_type(L, unit) != LUA_TTABLE) {
      lua_pop(L, 1);
      continue;
    }
    ref = string_at(L, unit, "reference", &rlen);
    psw = string_at(L, unit, "pswId", &plen);
    if (psw && plen > 0) {   /* a unit met before (the listing moved, or repeats);
                              * an empty id, which the document allows, names
                              * no unit */
      lua_pushvalue(L, -1);
      lua_rawget(L, seen);
      repeat = lua_toboolean(L, -1);
      lua_pop(L, 1);
      if (!repeat) {
        lua_pushvalue(L, -1);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen);
      }
    }
    if (!repeat) fresh++;
    if (soget_cursor_unit(c, ref, rlen, psw, plen, repeat) && !repeat) {
      lua_pushvalue(L, unit);
      lua_rawseti(L, matches, (lua_Integer)lua_rawlen(L, matches) + 1);
    }
    lua_settop(L, items);
  }
  soget_cursor_used_up(c, fresh);
  if (!c->done) {
    x->requested = c->next_offset;
    lua_settop(L, top);
    return SOGET_EXACT_MORE;
  }
  why = c->why ? c->why : "";
  /* The listing's end, read from totals that contradict each other, may
   * have missed units: no complete answer. Nor is a unit past the query
   * then: it proves that no later unit matches, not that none moved back
   * into the pages read (a unit before them gone). The S)ONE id met needs
   * no total: it names one unit. */
  if (c->doubt && (strcmp(why, "no more matches") != 0 || !c->found_id)) why = c->doubt;
  if (strcmp(why, "no more matches") == 0 || strcmp(why, "total reached") == 0 ||
      strcmp(why, "empty page") == 0) {
    push_answer(L, x, matches);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return SOGET_EXACT_DONE;
  }
  lua_settop(L, top);
  if (strcmp(why, "no new units") == 0)
    soget_err_set(e, "api", 0, 1, "exact lookup: the listing's page at offset %ld brings no "
                  "unit not met before: it moved or repeats itself (%ld pages read)",
                  c->last_offset, c->pages);
  else if (strcmp(why, "max_pages reached") == 0)
    soget_err_set(e, "api", 0, 0, "exact lookup: %d pages of the listing read without its "
                  "end or a proof that no more units match", SOGET_EXACT_MAX_PAGES);
  else   /* retryable when the listing moved while it was read: a later walk
          * may find it still; a page whose own numbers disagree (its first,
          * its returned, more units than its total) is answered again */
    soget_err_set(e, "api", 0, why == c->doubt && c->moved, "exact lookup: the listing's "
                  "pages do not add up (%s, page at offset %ld)", why, c->last_offset);
  return SOGET_EXACT_FAIL;
}
