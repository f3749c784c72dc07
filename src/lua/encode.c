/* soget.encode(value[, schema]) -> JSON text, the same bytes for the same
 * value on every run and every runtime:
 *  - objects of the schema (schema.h) have their fields in the document's
 *    order, then any other keys sorted byte by byte; objects outside it
 *    have all their keys sorted;
 *  - the schema's array fields are always arrays, `[]` when empty;
 *  - outside the schema, a table is an array when it carries the array
 *    marker (soget.array_mt, lua-cjson's array_mt, or a metatable whose
 *    __jsontype is "array", as dkjson reads it) or when its keys are 1..n
 *    (n > 0); an empty unmarked table is `{}`; __jsontype = "object" makes
 *    an object;
 *  - strings and numbers are written by core/jsonw.h (escaped so that they
 *    cannot act on a terminal; numbers with the fewest digits that read
 *    back, integers as integers).
 * A function, userdata, thread, NaN, a key that is not a string or a
 * number, a key of a table written as an array that is not one of its
 * indexes (see sequence), a table that holds itself (found as it is met
 * again inside itself, before anything more is written) or nesting deeper
 * than MAX_DEPTH raises an error. Metamethods are not called (raw
 * access). */
#include "soget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jsonw.h"
#include "schema.h"

#define MAX_DEPTH 200
#define W_ANY (-1)   /* a value outside the schema */

typedef struct enc {
  lua_State *L;
  soget_buf b;
  const soget_schema *top;   /* the value's schema, or NULL */
  int guess;    /* no schema given: guess it (see guess) */
  int amt;      /* stack index: the marker decoded arrays carry now */
  int own;      /* stack index: soget.array_mt */
  const void *open[MAX_DEPTH];   /* the tables being written, outermost first */
} enc;

static void put(enc *x, const char *s, size_t n) {
  if (soget_buf_add(&x->b, s, n) != 0) soget_nomem(x->L);
}
#define PUTS(x, lit) put((x), lit, sizeof lit - 1)

static void string_at(enc *x, int i) {
  size_t n;
  const char *s = lua_tolstring(x->L, i, &n);
  if (soget_jsonw_string(&x->b, s, n) != 0) soget_nomem(x->L);
}

static void number_at(enc *x, int i) {
  lua_State *L = x->L;
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, i)) {
    if (soget_jsonw_integer(&x->b, (long long)lua_tointeger(L, i)) != 0) soget_nomem(L);
    return;
  }
#endif
  {
    lua_Number d = lua_tonumber(L, i);
    if (d != d) luaL_error(L, "soget.encode: NaN cannot be written as JSON");
    if (soget_jsonw_number(&x->b, (double)d) != 0) soget_nomem(L);
  }
}

/* Whether the table at t (outside the schema) is an array: 0 when it is
 * not, 1 when it is marked as one (its keys not looked at yet), 2 when its
 * keys are 1..n. */
static int is_array(enc *x, int t) {
  lua_State *L = x->L;
  size_t n, count = 0;
  if (lua_getmetatable(L, t)) {
    int marked = lua_rawequal(L, -1, x->amt) || lua_rawequal(L, -1, x->own), kind = 0;
    if (!marked) {
      lua_pushliteral(L, "__jsontype");
      lua_rawget(L, -2);
      if (lua_type(L, -1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        kind = strcmp(s, "array") == 0 ? 1 : strcmp(s, "object") == 0 ? -1 : 0;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (marked || kind > 0) return 1;
    if (kind < 0) return 0;
  }
  n = (size_t)lua_rawlen(L, t);
  if (n == 0) return 0;
  /* an array when its keys are 1..n: each a whole number in that range
   * (n of them, so each once). lua_rawlen of a table with a hole is any
   * of its borders, which differ by runtime: the keys decide. */
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_Number k;
    lua_pop(L, 1);
    k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    if (++count > n || !(k >= 1 && k <= (lua_Number)n && k == floor(k))) {
      lua_pop(L, 1);
      return 0;
    }
  }
  return count == n ? 2 : 0;
}

/* Raises for the key at k of a table written as an array, not one of
 * 1..n: named as it would be written. */
static void not_in_sequence(enc *x, int k) {
  lua_State *L = x->L;
  size_t at = x->b.len;
  if (lua_type(L, k) == LUA_TSTRING) string_at(x, k);
  else if (lua_type(L, k) == LUA_TNUMBER) number_at(x, k);
  else
    luaL_error(L, "soget.encode: a table written as an array has a %s key",
               luaL_typename(L, k));
  /* (the buffer is the encoder's own: no finalizer reaches it) */
  lua_pushlstring(L, x->b.data + at, x->b.len - at);
  luaL_error(L, "soget.encode: a table written as an array has the key %s",
             lua_tostring(L, -1));
}

/* A marked array's holes are written as null up to its largest key (the
 * decoder makes a hole of each null of a JSON array): any largest key up
 * to SPARSE_ANY, else at most twice its values (a single key 2^40 would be
 * a terabyte of nulls). A decoded array reaches SPARSE_ANY only from a
 * body of 5 MiB of nulls or more. */
#define SPARSE_ANY 1048576.0

/* The length of the table at t, written as an array: a schema array field,
 * whose keys must be exactly 1..n (the decoder refuses a null item; a hole
 * is named as one on every runtime), or a
 * table marked as one (sparse = 1), whose keys must be whole numbers from
 * 1, its holes written as null, the same on every runtime (lua_rawlen
 * would give any of its borders). Any other key would be lost: raises. */
static lua_Integer sequence(enc *x, int t, int sparse) {
  lua_State *L = x->L;
  lua_Number n = 9007199254740992.0, max = 0;   /* (lua_rawlen: a border, by runtime) */
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_Number k;
    lua_pop(L, 1);
    k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    if (!(k >= 1 && k <= n && k == floor(k))) not_in_sequence(x, lua_gettop(L));
    if (k > max) max = k;
    count++;
  }
  if (!sparse) {
    /* whole keys from 1: count of them up to max, or a hole below max */
    if ((lua_Number)count != max)
      luaL_error(L, "soget.encode: a table written as an array has a hole");
    return count;
  }
  if (max > SPARSE_ANY && max > 2.0 * (lua_Number)count) {
    size_t at = x->b.len;
    if (soget_jsonw_number(&x->b, (double)max) != 0) soget_nomem(L);
    lua_pushlstring(L, x->b.data + at, x->b.len - at);
    luaL_error(L, "soget.encode: a table written as an array is too sparse: its largest key "
                  "is %s for %d values", lua_tostring(L, -1), (int)count);
  }
  return (lua_Integer)max;
}

static void value(enc *x, int i, const soget_schema *s, int want, int depth);

/* The table at t as an array of its n values. */
static void array(enc *x, int t, lua_Integer n, const soget_schema *items, int depth) {
  lua_State *L = x->L;
  lua_Integer k;
  PUTS(x, "[");
  for (k = 1; k <= n; k++) {
    if (k > 1) PUTS(x, ",");
    lua_rawgeti(L, t, k);
    value(x, lua_gettop(L), items, items ? F_OBJECT : W_ANY, depth);
    lua_pop(L, 1);
  }
  PUTS(x, "]");
}

/* A key outside the schema, as written and sorted. */
typedef struct okey {
  const char *s;
  size_t n;
  int at;   /* its index in the keys table */
} okey;

static int by_bytes(const void *pa, const void *pb) {
  const okey *a = pa, *b = pb;
  int r = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);
  if (r != 0) return r;
  return a->n < b->n ? -1 : a->n > b->n;
}

static int is_field(const soget_schema *s, const char *k, size_t n) {
  int i;
  for (i = 0; s && i < s->n; i++)
    if (s->fields[i].len == n && memcmp(s->fields[i].name, k, n) == 0) return 1;
  return 0;
}

static void object(enc *x, int t, const soget_schema *s, int depth) {
  lua_State *L = x->L;
  int first = 1, i, keys, names, nk = 0;
  okey *order;
  PUTS(x, "{");
  for (i = 0; s && i < s->n; i++) {   /* the schema's fields, in its order */
    const soget_field *f = &s->fields[i];
    lua_pushlstring(L, f->name, f->len);
    lua_rawget(L, t);
    if (!lua_isnil(L, -1)) {
      if (!first) PUTS(x, ",");
      first = 0;
      if (soget_jsonw_string(&x->b, f->name, f->len) != 0) soget_nomem(L);
      PUTS(x, ":");
      value(x, lua_gettop(L), f->sub,
            f->type == F_OBJECT ? F_OBJECT : f->type == F_ARRAY ? F_ARRAY : W_ANY, depth);
    }
    lua_pop(L, 1);
  }
  /* the other keys, sorted: their original keys in one table, the names
   * they are written as in another (both anchor the strings) */
  lua_newtable(L);
  keys = lua_gettop(L);
  lua_newtable(L);
  names = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int kt = lua_type(L, -2);
    lua_pop(L, 1);
    if (kt == LUA_TSTRING) {
      size_t n;
      const char *k = lua_tolstring(L, -1, &n);
      if (is_field(s, k, n)) continue;
      lua_pushvalue(L, -1);
    } else if (kt == LUA_TNUMBER) {
      char num[400];   /* the digits of any whole double, 1e308 too */
#if LUA_VERSION_NUM >= 503
      if (lua_isinteger(L, -1))
        snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, -1));
      else
#endif
      {
        /* a whole float as its exact digits, as an integer key of the same
         * value is written (2^63, -2^63: on every runtime alike) */
        lua_Number d = lua_tonumber(L, -1);
        if (!(d == floor(d) && d - d == 0))
          luaL_error(L, "soget.encode: a table key that is not a whole number cannot be "
                        "written as JSON");
        /* (-0 is the key 0: "%.0f" would write it "-0" where the
         * runtime keeps a float key's sign, 5.1) */
        snprintf(num, sizeof num, "%.0f", d == 0 ? 0.0 : (double)d);
      }
      lua_pushstring(L, num);
    } else {
      luaL_error(L, "soget.encode: a %s key cannot be written as JSON", lua_typename(L, kt));
    }
    lua_rawseti(L, names, ++nk);        /* the name */
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, nk);           /* the key */
  }
  if (nk > 0) {
    order = lua_newuserdata(L, (size_t)nk * sizeof *order);   /* Lua's memory */
    for (i = 0; i < nk; i++) {
      lua_rawgeti(L, names, i + 1);
      order[i].s = lua_tolstring(L, -1, &order[i].n);   /* anchored by names */
      order[i].at = i + 1;
      lua_pop(L, 1);
    }
    qsort(order, (size_t)nk, sizeof *order, by_bytes);
    /* the keys as written, to refuse two written alike: 1 and "1", or
     * two that escaping makes one */
    if (nk > 1) lua_newtable(L);
    for (i = 0; i < nk; i++) {
      size_t at;
      if (!first) PUTS(x, ",");
      first = 0;
      at = x->b.len;
      if (soget_jsonw_string(&x->b, order[i].s, order[i].n) != 0) soget_nomem(L);
      if (nk > 1) {   /* (the buffer is the encoder's own: no finalizer reaches it) */
        lua_pushlstring(L, x->b.data + at, x->b.len - at);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (!lua_isnil(L, -1))
          luaL_error(L, "soget.encode: two keys of a table are both written as %s",
                     lua_tostring(L, -2));
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
      }
      PUTS(x, ":");
      lua_rawgeti(L, keys, order[i].at);
      lua_rawget(L, t);
      value(x, lua_gettop(L), NULL, W_ANY, depth);
      lua_pop(L, 1);
    }
    lua_pop(L, nk > 1 ? 2 : 1);   /* the keys written, order */
  }
  lua_pop(L, 2);     /* keys, names */
  PUTS(x, "}");
}

static void value(enc *x, int i, const soget_schema *s, int want, int depth) {
  lua_State *L = x->L;
  switch (lua_type(L, i)) {
    case LUA_TNIL: PUTS(x, "null"); return;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, i)) PUTS(x, "true");
      else PUTS(x, "false");
      return;
    case LUA_TNUMBER: number_at(x, i); return;
    case LUA_TSTRING: string_at(x, i); return;
    case LUA_TTABLE: {
      const void *t = lua_topointer(L, i);
      int k;
      if (depth >= MAX_DEPTH)
        luaL_error(L, "soget.encode: tables nested deeper than %d", MAX_DEPTH);
      /* (a cycle found at once: one through a sparse array would write
       * megabytes of null at each turn before reaching MAX_DEPTH) */
      for (k = 0; k < depth; k++)
        if (x->open[k] == t) luaL_error(L, "soget.encode: a table that holds itself");
      x->open[depth] = t;
      luaL_checkstack(L, 8, "soget.encode");
      if (want == F_ARRAY) array(x, i, sequence(x, i, 0), s, depth + 1);
      else if (want == F_OBJECT) object(x, i, s, depth + 1);
      else {
        int a = is_array(x, i);
        if (a == 2) array(x, i, (lua_Integer)lua_rawlen(L, i), NULL, depth + 1);
        else if (a == 1) array(x, i, sequence(x, i, 1), NULL, depth + 1);
        else object(x, i, NULL, depth + 1);
      }
      return;
    }
  }
  luaL_error(L, "soget.encode: a %s cannot be written as JSON", luaL_typename(L, i));
}

/* Whether the table at t has a string field `name`. */
static int has_string(lua_State *L, int t, const char *name) {
  int yes;
  lua_pushstring(L, name);
  lua_rawget(L, t);
  yes = lua_type(L, -1) == LUA_TSTRING;
  lua_pop(L, 1);
  return yes;
}

/* The schema of the table at t when none was given: a page when it has
 * the Page metatable; none when it is written as an array (a page's
 * items, the list events_in_order gives); a unit when it has a unit's
 * identifiers (reference or pswId: a server's unknown "items" member does
 * not make it a page); a page when its items are a table; else a unit. */
static const soget_schema *guess(enc *x, int t) {
  lua_State *L = x->L;
  int items;
  if (lua_getmetatable(L, t)) {
    int page;
    luaL_getmetatable(L, SOGET_PAGE_T);
    page = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (page) return soget_schema_named("page");
  }
  if (is_array(x, t)) return NULL;
  if (has_string(L, t, "reference") || has_string(L, t, "pswId"))
    return soget_schema_named("unit");
  lua_pushliteral(L, "items");
  lua_rawget(L, t);
  items = lua_type(L, -1) == LUA_TTABLE;
  lua_pop(L, 1);
  return soget_schema_named(items ? "page" : "unit");
}

/* Under lua_pcall: [1] the enc, [2] the value. Pushes the text: made
 * from the C buffer under the protection, so that a memory error there
 * leaves the buffer to the caller, which frees it either way. */
static int encode_run(lua_State *L) {
  enc *x = lua_touserdata(L, 1);
  const soget_schema *s = x->top;
  x->L = L;
  soget_push_array_mt(L);
  x->amt = lua_gettop(L);
  soget_private(L);
  lua_getfield(L, -1, "arraymt");
  lua_remove(L, -2);
  x->own = lua_gettop(L);
  if (x->guess) s = guess(x, 2);
  if (s && lua_type(L, 2) == LUA_TTABLE) {
    x->open[0] = lua_topointer(L, 2);   /* (as value() records a table it writes) */
    object(x, 2, s, 1);
  } else {
    value(x, 2, NULL, W_ANY, 0);
  }
  lua_pushlstring(L, x->b.data ? x->b.data : "", x->b.len);
  return 1;
}

/* soget.encode(value[, schema]): schema "page", "unit", "event" or
 * "value" (no schema); by default, guessed (see guess). */
static int mod_encode(lua_State *L) {
  static const char *const names[] = {"page", "unit", "event", "value", NULL};
  const soget_schema *s = NULL;
  enc x;
  int status;
  soget_check_nargs(L, 2, NULL);
  lua_settop(L, 2);
  if (!lua_isnil(L, 2)) {
    int k = luaL_checkoption(L, 2, NULL, names);
    if (k < 3) s = soget_schema_named(names[k]);
  }
  soget_buf_init(&x.b, 0);
  x.top = s;
  x.guess = lua_isnil(L, 2) && lua_type(L, 1) == LUA_TTABLE;
  lua_pushcfunction(L, encode_run);
  lua_pushlightuserdata(L, &x);
  lua_pushvalue(L, 1);
  status = lua_pcall(L, 2, 1, 0);
  soget_buf_free(&x.b);
  if (status != 0) return lua_error(L);
  return 1;
}

void soget_encode_open(lua_State *L) {
  lua_pushcfunction(L, mod_encode);
  lua_setfield(L, -2, "encode");
}
