/* The options reader (options.h): one pass over the keys, then the values
 * in the descriptors' order, each checked by its descriptor. */
#include "soget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/request.h"
#include "core/text.h"

static const char *const type_names[] = {"string", "number", "boolean", "function"};

/* The option whose name is the key at i, by length and bytes (a name with
 * a NUL byte inside is no option's), or -1. */
static int find(lua_State *L, const soget_option *opts, int i) {
  size_t n;
  const char *s;
  int k;
  if (lua_type(L, i) != LUA_TSTRING) return -1;
  s = lua_tolstring(L, i, &n);
  for (k = 0; opts[k].name; k++)
    if (opts[k].name[0] == s[0] && strlen(opts[k].name) == n &&
        memcmp(opts[k].name, s, n) == 0)
      return k;
  return -1;
}

static void check_string(lua_State *L, const soget_opt_reader *r, const soget_option *o,
                         const char *s, size_t len, int from_env) {
  const char *why = NULL;
  char buf[64];
  if (o->max_chars || o->utf8) {
    size_t n = soget_utf8_count(s, len);
    if (n == (size_t)-1) {
      why = "is not valid UTF-8";
    } else if (o->max_chars && n > o->max_chars) {
      snprintf(buf, sizeof buf, "is longer than %d characters", (int)o->max_chars);
      why = buf;
    }
  }
  if (!why && o->max_bytes && len > o->max_bytes) {
    snprintf(buf, sizeof buf, "is longer than %d bytes", (int)o->max_bytes);
    why = buf;
  }
  if (!why) {
    switch (o->check) {
      case SOGET_OPT_CHECK_NUL:
        if (memchr(s, '\0', len)) why = "contains a NUL byte";
        break;
      case SOGET_OPT_CHECK_HEADER: why = soget_header_value_problem(s, len); break;
      case SOGET_OPT_CHECK_QUERY: why = soget_query_value_problem(s, len); break;
      default: break;
    }
  }
  if (why)
    luaL_error(L, "%s: %s'%s'%s %s", r->who, r->label, o->name,
               from_env ? " (from the environment)" : "", why);
}

static void check_number(lua_State *L, const soget_opt_reader *r, const soget_option *o,
                         double x) {
  int in_range = x >= o->min && x <= o->max;   /* NaN is in no range */
  if (o->bad) {
    if (!in_range || (o->whole && x != floor(x)))
      luaL_error(L, "%s: %s'%s' %s", r->who, r->label, o->name, o->bad);
    return;
  }
  if (r->whole_first && o->whole && (x != x || x != floor(x)))
    luaL_error(L, "%s: %s'%s' %s", r->who, r->label, o->name, r->fraction);
  if (!in_range) {
    char range[64];
    snprintf(range, sizeof range, r->range, o->min, o->max);
    luaL_error(L, "%s: %s'%s' must be %s", r->who, r->label, o->name, range);
  }
  if (!r->whole_first && o->whole && x != floor(x))
    luaL_error(L, "%s: %s'%s' %s", r->who, r->label, o->name, r->fraction);
}

void soget_opt_check(lua_State *L, const soget_opt_reader *r, const soget_option *o,
                     int i, soget_optval *v) {
  static const int lua_types[] = {LUA_TSTRING, LUA_TNUMBER, LUA_TBOOLEAN, LUA_TFUNCTION};
  v->given = 1;
  v->from_env = 0;
  if (lua_type(L, i) != lua_types[o->type])
    luaL_error(L, "%s: %s'%s' must be a %s, got %s", r->who, r->label, o->name,
               type_names[o->type], luaL_typename(L, i));
  switch (o->type) {
    case SOGET_OPT_STRING:
      v->s = lua_tolstring(L, i, &v->len);
      check_string(L, r, o, v->s, v->len, 0);
      break;
    case SOGET_OPT_NUMBER:
      v->n = (double)lua_tonumber(L, i);
      check_number(L, r, o, v->n);
      break;
    case SOGET_OPT_BOOLEAN:
      v->b = lua_toboolean(L, i);
      break;
    default:   /* a function: left where it is */
      break;
  }
}

/* An option not given: its environment variable, if it has one (an
 * empty one counts as unset). */
static void from_env(lua_State *L, const soget_opt_reader *r, const soget_option *o,
                     soget_optval *v) {
  const char *s = o->env ? getenv(o->env) : NULL;
  if (!s || !*s) return;
  v->given = v->from_env = 1;
  v->s = s;
  v->len = strlen(s);
  check_string(L, r, o, s, v->len, 1);
}

/* Keeps the checked value at the top of the stack, just above its key
 * (the key pass goes on from the key): sets it in the copy, or leaves it
 * under the key when it is a string, or drops it. Returns the values left. */
static int keep_raw(lua_State *L, const soget_option *o, int copy) {
  if (copy) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, copy);
    return 0;
  }
  if (o->type == SOGET_OPT_STRING || o->type == SOGET_OPT_FUNCTION) {
    luaL_checkstack(L, 2, NULL);
    lua_insert(L, -2);
    return 1;
  }
  lua_pop(L, 1);
  return 0;
}

int soget_opt_read(lua_State *L, int t, const soget_opt_reader *r, int copy,
                   soget_optval *v) {
  const soget_option *opts = r->opts;
  int k, table = 1, left = 0;
  t = lua_absindex(L, t);
  if (copy) copy = lua_absindex(L, copy);
  if (r->nil_ok && lua_isnoneornil(L, t)) {
    table = 0;
  } else if (lua_type(L, t) != LUA_TTABLE) {
    if (r->nottable) luaL_error(L, r->nottable, r->who, luaL_typename(L, t));
    luaL_checktype(L, t, LUA_TTABLE);
  }
  for (k = 0; opts[k].name; k++) memset(&v[k], 0, sizeof v[k]);
  if (table) {
    lua_pushnil(L);
    while (lua_next(L, t)) {
      k = find(L, opts, -2);
      if (k < 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
          /* Made printable, whole up to 64 bytes: a key with a NUL or a
           * control character is not shown as another (a known) key. */
          char name[4 * 64 + 4];
          size_t kl, n;
          const char *key = lua_tolstring(L, -2, &kl);
          n = soget_printable(name, sizeof name - 3, key, kl < 64 ? kl : 64, 0);
          if (kl > 64) memcpy(name + n, "...", 4);
          luaL_error(L, r->unknown, r->who, name);
        }
        luaL_error(L, r->badkey, r->who, luaL_typename(L, -2));
      }
      if (r->raw) {
        soget_opt_check(L, r, &opts[k], lua_gettop(L), &v[k]);
        left += keep_raw(L, &opts[k], copy);
      } else {
        lua_pop(L, 1);
      }
    }
  }
  for (k = 0; opts[k].name; k++) {
    const soget_option *o = &opts[k];
    if (table && !r->raw) {
      luaL_checkstack(L, 2, NULL);
      lua_pushstring(L, o->name);   /* raw, as the pass over the keys */
      lua_rawget(L, t);
      if (!lua_isnil(L, -1)) {
        soget_opt_check(L, r, o, lua_gettop(L), &v[k]);
        if (copy)
          lua_setfield(L, copy, o->name);   /* the copy anchors a string */
        else if (o->type == SOGET_OPT_STRING || o->type == SOGET_OPT_FUNCTION)
          left++;                           /* stays on the stack */
        else
          lua_pop(L, 1);
        continue;
      }
      lua_pop(L, 1);
    }
    if (!v[k].given) from_env(L, r, o, &v[k]);
  }
  return left;
}

void soget_check_nargs(lua_State *L, int n, const char *hint) {
  int i, top = lua_gettop(L);
  for (i = n + 1; i <= top; i++) {
    if (lua_isnil(L, i)) continue;
    if (hint) {
      lua_pushfstring(L, "no such argument: %s", hint);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    luaL_argerror(L, i, "no such argument");
  }
}
