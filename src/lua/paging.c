/* Pages and lazy iterators.
 *
 * A page is a plain table {total, returned, first, items} whose metatable
 * (soget.Page) only adds page:iter(). The client and query that produced
 * it sit in a weak-keyed table of the module, so the page stays a plain
 * table for pairs() and cjson.encode().
 *
 * page:iter() returns a soget.Pager: callable (for a generic for), with
 * :next(), :close(), __gc and __close. It yields the page's items, then
 * fetches the next page only when the current one is used up. Its cursor
 * lives in C (cursor.c decides offsets and when to stop); its Lua values
 * (client, query, current page, pswIds met on it and on the page before)
 * live in its uservalue table, which keeps the client alive while it
 * iterates. */
#include "soget.h"

#include <math.h>
#include <string.h>

#include "core/cursor.h"

typedef struct pager {
  soget_cursor cur;
  long idx;        /* items of the current page yielded so far */
  long n;          /* items in the current page */
  long fresh;      /* units yielded from the current page */
  long yielded;
  long max_items;  /* 0: no cap */
  int manual;      /* never fetches: next() answers nil, "fetch", offset */
  int waiting;     /* manual: next() asked for the next page (this one used up),
                    * which only feed() gives */
  int closed;
} pager;

/* uservalue fields */
#define UV_CLIENT "client"
#define UV_QUERY "query"
#define UV_PAGE "page"
#define UV_SEEN "seen"   /* pswIds met on the current page, yielded or not */
#define UV_PREV "prev"   /* ... and on the previous one */

void soget_page_attach(lua_State *L, int page, int ci, int qi) {
  page = lua_absindex(L, page);
  if (ci) ci = lua_absindex(L, ci);
  if (qi) qi = lua_absindex(L, qi);
  /* A member the server named "iter" would hide page:iter(): not kept (a
   * rawget first: Lua 5.1 keeps a key set to nil) */
  lua_pushliteral(L, "iter");
  lua_rawget(L, page);
  if (!lua_isnil(L, -1)) {
    lua_pushliteral(L, "iter");
    lua_pushnil(L);
    lua_rawset(L, page);
  }
  lua_pop(L, 1);
  lua_pushvalue(L, page);
  luaL_setmetatable(L, SOGET_PAGE_T);
  lua_pop(L, 1);
  if (!ci) return;
  soget_private(L);
  lua_getfield(L, -1, SOGET_PRIV_PAGECTX);
  lua_pushvalue(L, page);
  lua_createtable(L, 2, 0);   /* {client, query}, by index */
  lua_pushvalue(L, ci);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, qi);
  lua_rawseti(L, -2, 2);
  lua_rawset(L, -3);
  lua_pop(L, 2);
}

/* A page's number, clamped to the API's int32 range: a script may have
 * changed the page (or fed one) with NaN or a huge value, which must not
 * overflow a long; the cursor then stops on the inconsistency. */
long soget_page_int(lua_State *L, int t, const char *k, long dflt) {
  long v = dflt;
  lua_getfield(L, t, k);
  if (lua_type(L, -1) == LUA_TNUMBER) {
    lua_Number d = lua_tonumber(L, -1);
    if (d >= 2147483647.0) v = 2147483647L;
    else if (d <= -2147483647.0) v = -2147483647L;
    else if (d == d) v = (long)d;
  }
  lua_pop(L, 1);
  return v;
}

/* Whether the total of the page at t is the server's: not marked by the
 * decoder as its guess (first + returned) for a page that gave none. */
static int total_given(lua_State *L, int t) {
  int given;
  t = lua_absindex(L, t);
  soget_private(L);
  lua_getfield(L, -1, SOGET_PRIV_NOTOTAL);
  lua_pushvalue(L, t);
  lua_rawget(L, -2);
  given = lua_isnil(L, -1);
  lua_pop(L, 3);
  return given;
}

/* soget.total_given(page) -> boolean: total_given, for scripts (and the
 * soget command) that show a total as a count of matches. */
int soget_total_given_lua(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  soget_check_nargs(L, 1, NULL);
  lua_pushboolean(L, total_given(L, 1));
  return 1;
}

/* The page's total for the cursor: SOGET_CURSOR_NO_TOTAL when the server
 * gave none (the decoder's guess, first + returned, would end the walk
 * after a full page). */
long soget_page_total(lua_State *L, int t) {
  t = lua_absindex(L, t);
  return total_given(L, t) ? soget_page_int(L, t, "total", 0) : SOGET_CURSOR_NO_TOTAL;
}

/* Feeds the page at index p, answered for offset `requested`, to the
 * cursor and makes it current. */
static void take_page(lua_State *L, pager *pg, int uv, int p, long requested) {
  long n;
  p = lua_absindex(L, p);
  lua_getfield(L, p, "items");
  n = lua_type(L, -1) == LUA_TTABLE ? (long)lua_rawlen(L, -1) : 0;
  lua_pop(L, 1);
  soget_cursor_page(&pg->cur, requested, soget_page_total(L, p),
                    soget_page_int(L, p, "returned", 0), soget_page_int(L, p, "first", 0), n);
  pg->idx = 0;
  pg->n = n;
  pg->fresh = 0;
  lua_pushvalue(L, p);
  lua_setfield(L, uv, UV_PAGE);
  /* Data that shifts between two requests repeats units of the page before.
   * Every id met on a page is remembered for that page and the next, also
   * when it was skipped as a repeat: a unit that comes back on page after
   * page stays remembered, and memory stays bounded by two pages' ids. */
  lua_getfield(L, uv, UV_SEEN);
  lua_setfield(L, uv, UV_PREV);
  lua_newtable(L);
  lua_setfield(L, uv, UV_SEEN);
}

/* The pager's state is reachable from Lua through the debug library
 * (debug.getuservalue): what it reads raw is checked first. */
static void uv_changed(lua_State *L, int i) {
  if (!lua_istable(L, i))
    luaL_error(L, "soget.Pager: its state was changed (through the debug library)");
}

/* Remembers the id at the top of the stack for the current page; answers
 * whether it was met before, on this page or the one before (the unit was
 * yielded then: skip it). Stack unchanged. */
static int met_before(lua_State *L, int uv) {
  int met;
  lua_getfield(L, uv, UV_SEEN);
  uv_changed(L, -1);
  lua_pushvalue(L, -2);
  lua_rawget(L, -2);
  met = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (met) {                    /* twice on this page */
    lua_pop(L, 1);
    return 1;
  }
  lua_pushvalue(L, -2);         /* seen[id] = true, whether new or not */
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_getfield(L, uv, UV_PREV);
  if (lua_istable(L, -1)) {
    lua_pushvalue(L, -3);
    lua_rawget(L, -2);
    met = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return met;
}

static pager *checkpager(lua_State *L, int i) {
  return luaL_checkudata(L, i, SOGET_PAGER_T);
}

/* A page is a plain table: it is one of soget's when it has the
 * soget.Page metatable (luaL_checkudata's test, for a table). */
static void checkpage(lua_State *L, int i) {
  int ok = 0;
  if (lua_type(L, i) == LUA_TTABLE && lua_getmetatable(L, i)) {
    luaL_getmetatable(L, SOGET_PAGE_T);
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  if (!ok)
    luaL_argerror(L, i, lua_pushfstring(L, SOGET_PAGE_T " expected, got %s",
                                        luaL_typename(L, i)));
}

enum { ITER_MAX_ITEMS, ITER_MAX_PAGES, ITER_MANUAL, ITER_COUNT };

#define CAP(n)                                                       \
  {.name = n, .type = SOGET_OPT_NUMBER, .min = 1, .max = 2147483647.0, \
   .whole = 1, .bad = "must be a whole number from 1 to 2147483647"}
static const soget_option iter_options[] = {
    [ITER_MAX_ITEMS] = CAP("max_items"),
    [ITER_MAX_PAGES] = CAP("max_pages"),
    [ITER_MANUAL] = {.name = "manual", .type = SOGET_OPT_BOOLEAN},
    [ITER_COUNT] = {.name = NULL}};
#undef CAP

static const soget_opt_reader iter_reader = {
    .opts = iter_options,
    .who = "iter",
    .label = "",
    SOGET_OPT_MESSAGES,
    .nil_ok = 1};

/* page:iter([{max_items = n, max_pages = n}]) -> pager, nil, nil, pager */
static int page_iter(lua_State *L) {
  pager *pg;
  long max_items = 0, max_pages = 0, requested;
  int uv, manual = 0;
  soget_optval v[ITER_COUNT];
  checkpage(L, 1);
  soget_check_nargs(L, 2, NULL);
  soget_opt_read(L, 2, &iter_reader, 0, v);   /* no strings: nothing left */
  if (v[ITER_MAX_ITEMS].given) max_items = (long)v[ITER_MAX_ITEMS].n;
  if (v[ITER_MAX_PAGES].given) max_pages = (long)v[ITER_MAX_PAGES].n;
  manual = v[ITER_MANUAL].b;
  lua_settop(L, 1);
  pg = soget_newuserdata(L, sizeof *pg);    /* 2 */
  memset(pg, 0, sizeof *pg);
  pg->closed = 1;
  luaL_setmetatable(L, SOGET_PAGER_T);
  lua_createtable(L, 0, 4);                 /* 3: uservalue */
  uv = 3;
  lua_newtable(L);
  lua_setfield(L, uv, UV_SEEN);
  /* client and query, when the page came from a client */
  soget_private(L);
  lua_getfield(L, -1, SOGET_PRIV_PAGECTX);
  lua_pushvalue(L, 1);
  lua_rawget(L, -2);                        /* ctx or nil */
  requested = soget_page_int(L, 1, "first", 0);
  if (lua_istable(L, -1)) {
    lua_rawgeti(L, -1, 1);
    lua_setfield(L, uv, UV_CLIENT);
    lua_rawgeti(L, -1, 2);
    if (lua_istable(L, -1)) {   /* the offset it was asked for */
      soget_query_params(L, -1);
      requested = soget_page_int(L, -1, "offset", 0);
      lua_pop(L, 1);
    }
    lua_setfield(L, uv, UV_QUERY);
  }
  lua_pop(L, 3);
  soget_cursor_init(&pg->cur, max_pages);
  pg->max_items = max_items;
  pg->manual = manual;
  take_page(L, pg, uv, 1, requested);
  lua_pushvalue(L, uv);
  soget_setuv(L, 2);
  lua_settop(L, 2);
  pg->closed = 0;
  lua_pushnil(L);
  lua_pushnil(L);
  lua_pushvalue(L, 2);
  return 4;
}

static void pager_finish(lua_State *L, pager *pg, int self) {
  pg->closed = 1;
  /* Drop the references so the client and pages can be collected. */
  lua_newtable(L);
  soget_setuv(L, self);
}

/* A copy of the query table at i, and of its search table if it has one:
 * what a manual pager hands out. The table itself is the page's, which its
 * other pagers fetch with, reading its strings as checked when the query
 * was made: a change a script makes to what it was given must not reach
 * them (nor free a string one of them is reading, from a finalizer). */
static void push_query_copy(lua_State *L, int i) {
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, i)) {
    if (lua_type(L, -1) == LUA_TTABLE) {   /* {search = {...}} */
      int t = lua_gettop(L);
      push_query_copy(L, t);
      lua_remove(L, t);
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
}

/* The next unit, or nil at the end. Raises the soget.Error of a failed
 * page fetch (a nil would silently end a for loop). */
static int pager_next(lua_State *L) {
  pager *pg = checkpager(L, 1);
  int uv;
  lua_settop(L, 1);
  if (pg->closed) return 0;
  if (pg->max_items && pg->yielded >= pg->max_items) {
    /* The listing may end here too (the last unit of its last page): said
     * as a walk without max_items says it, rather than nothing. */
    if (pg->idx >= pg->n && !pg->cur.done && !pg->waiting)
      soget_cursor_used_up(&pg->cur, pg->fresh);
    pager_finish(L, pg, 1);
    return 0;
  }
  soget_getuv(L, 1);
  uv = 2;
  for (;;) {
    lua_getfield(L, uv, UV_PAGE);
    lua_getfield(L, -1, "items");            /* uv page items */
    if (!lua_istable(L, -1)) pg->idx = pg->n;  /* a script replaced them */
    while (pg->idx < pg->n) {
      lua_rawgeti(L, -1, (lua_Integer)++pg->idx);
      if (lua_type(L, -1) == LUA_TTABLE) {
        int item = lua_gettop(L);
        lua_getfield(L, item, "pswId");
        /* (an empty pswId, which the document allows, names no unit) */
        if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0 && met_before(L, uv)) {
          lua_pop(L, 2);                    /* skip it */
          continue;
        }
        lua_pop(L, 1);
        pg->fresh++;
        pg->yielded++;
        return 1;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
    /* This page is used up: fetch the next one, if any (asked for
     * already: the same answer again). */
    if (!pg->waiting) soget_cursor_used_up(&pg->cur, pg->fresh);
    if (pg->cur.done) break;
    if (pg->manual) {   /* the caller fetches, then calls pager:feed() */
      pg->waiting = 1;
      lua_pushnil(L);
      lua_pushliteral(L, "fetch");
      lua_pushinteger(L, (lua_Integer)pg->cur.next_offset);
      lua_getfield(L, uv, UV_QUERY);   /* nil for a page not fetched */
      if (lua_istable(L, -1)) {
        push_query_copy(L, lua_gettop(L));
        lua_remove(L, -2);
      }
      return 4;
    }
    lua_getfield(L, uv, UV_CLIENT);
    if (lua_isnil(L, -1)) {   /* a decoded page: nothing to fetch with */
      pg->cur.why = "no client";
      break;
    }
    {
      soget_client *c = soget_checkclient(L, lua_gettop(L));
      soget_err e;
      int qi;
      long off = pg->cur.next_offset;
      lua_getfield(L, uv, UV_QUERY);
      qi = lua_gettop(L);
      uv_changed(L, qi);
      soget_err_clear(&e);
      if (!soget_client_fetch(L, c, qi - 1, qi, off, &e)) {
#if LUA_VERSION_NUM < 502
        /* Ctrl-C: the interpreter's hook raises "interrupted!" at its next
         * event. Raised from here, on LuaJIT, the error met that hook in
         * the interpreter's message handler: "error in error handling".
         * On the main thread, where the hook is (5.1 and LuaJIT: the
         * runtimes whose interpreter hooks calls too), the walk returns
         * and lets the hook raise; the pager stays where it was. */
        if (e.kind && strcmp(e.kind, SOGET_KIND_INTERRUPTED) == 0 && lua_pushthread(L)) {
          lua_pushnil(L);
          return 1;
        }
#endif
        soget_push_error(L, &e);
        return lua_error(L);
      }
      soget_page_attach(L, lua_gettop(L), qi - 1, qi);
      take_page(L, pg, uv, lua_gettop(L), off);
      lua_settop(L, uv);
    }
  }
  pager_finish(L, pg, 1);
  return 0;
}

/* pager:feed(page, offset): a manual pager's next page, fetched by the
 * caller for the offset next() asked for (only once it asked). */
static int pager_feed(lua_State *L) {
  pager *pg = checkpager(L, 1);
  lua_Number off;
  luaL_checktype(L, 2, LUA_TTABLE);
  off = luaL_checknumber(L, 3);
  luaL_argcheck(L, !pg->closed && !pg->cur.done && pg->waiting, 1,
                "this pager is not waiting for a page");
  luaL_argcheck(L, off == (lua_Number)pg->cur.next_offset, 3,
                "not the offset this pager asked for");
  lua_settop(L, 3);
  soget_getuv(L, 1);
  take_page(L, pg, 4, 2, pg->cur.next_offset);   /* (a raise from the page: still waiting) */
  pg->waiting = 0;
  return 0;
}

static int pager_call(lua_State *L) {
  /* for-in calls pager(state, control): only the pager matters. */
  lua_settop(L, 1);
  return pager_next(L);
}

static int pager_close(lua_State *L) {
  pager *pg = checkpager(L, 1);
  if (!pg->closed) pager_finish(L, pg, 1);
  return 0;
}

static int pager_tostring(lua_State *L) {
  pager *pg = checkpager(L, 1);
  if (pg->closed)
    lua_pushliteral(L, SOGET_PAGER_T " (closed)");
  else
    lua_pushfstring(L, SOGET_PAGER_T " (%p)", (void *)pg);
  return 1;
}

/* pager:stats() -> {pages, yielded, done, why} (for scripts and tests) */
static int pager_stats(lua_State *L) {
  pager *pg = checkpager(L, 1);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)pg->cur.pages);
  lua_setfield(L, -2, "pages");
  lua_pushinteger(L, (lua_Integer)pg->yielded);
  lua_setfield(L, -2, "yielded");
  lua_pushboolean(L, pg->cur.done || pg->closed);
  lua_setfield(L, -2, "done");
  if (pg->cur.why) {
    lua_pushstring(L, pg->cur.why);
    lua_setfield(L, -2, "why");
  }
  return 1;
}

static const luaL_Reg pager_methods[] = {
    {"next", pager_next}, {"feed", pager_feed}, {"close", pager_close},
    {"stats", pager_stats}, {NULL, NULL}};

static const luaL_Reg pager_meta[] = {{"__call", pager_call},
                                      {"__gc", pager_close},
                                      {"__close", pager_close},
                                      {"__tostring", pager_tostring},
                                      {NULL, NULL}};

static const luaL_Reg page_methods[] = {{"iter", page_iter}, {NULL, NULL}};

/* As the other objects say themselves, on every runtime (5.1 and LuaJIT
 * write a table with no __tostring as "table: 0x..."). */
static int page_tostring(lua_State *L) {
  checkpage(L, 1);
  lua_pushfstring(L, SOGET_PAGE_T " (%p)", lua_topointer(L, 1));
  return 1;
}

static const luaL_Reg page_meta[] = {{"__tostring", page_tostring}, {NULL, NULL}};

void soget_paging_open(lua_State *L) {
  soget_class(L, SOGET_PAGER_T, pager_methods, pager_meta);
  soget_class(L, SOGET_PAGE_T, page_methods, page_meta);
}

void soget_push_empty_page(lua_State *L, long offset) {
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "total");
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "returned");
  lua_pushinteger(L, (lua_Integer)(offset < 0 ? 0 : offset));
  lua_setfield(L, -2, "first");
  soget_push_array(L, 0);
  lua_setfield(L, -2, "items");
  soget_page_attach(L, lua_gettop(L), 0, 0);
}
