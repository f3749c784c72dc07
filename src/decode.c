/* Response bodies to native tables: lua-cjson (a private cjson.safe
 * instance) parses, then one schema-directed pass over its output
 *  - turns JSON null (cjson.null) into nil,
 *  - makes array fields always tables (empty when null or absent),
 *  - turns integer fields into Lua integers (5.3+),
 *  - checks every known field's JSON type and reports the path on a
 *    mismatch, 1-based: "items[2].events[1].eventDate: expected string,
 *    got number",
 *  - keeps unknown fields (their nulls removed from objects). */
#include "soget.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 200   /* cjson's nesting limit for our instance */

/* ---- the schema, from the OpenAPI document's components --------------- */

enum { F_STRING, F_INT, F_NUMBER, F_BOOL, F_OBJECT, F_ARRAY };

typedef struct schema schema;
typedef struct field {
  const char *name;
  int type;
  const schema *sub;   /* F_OBJECT: its schema; F_ARRAY: the items' */
} field;
struct schema {
  const field *fields;
  int n;
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define SCHEMA(name, fields) static const schema name = {fields, N(fields)}

static const field measure_f[] = {{"value", F_NUMBER, NULL}, {"unit", F_STRING, NULL}};
SCHEMA(Measure, measure_f);

static const field weight_f[] = {{"tare", F_OBJECT, &Measure},
                                 {"grossWeight", F_OBJECT, &Measure},
                                 {"netWeight", F_OBJECT, &Measure}};
SCHEMA(Weight, weight_f);

static const field measures_f[] = {
    {"quantity", F_INT, NULL},          {"weight", F_OBJECT, &Weight},
    {"volume", F_OBJECT, &Measure},     {"remainingQuantity", F_INT, NULL},
    {"availableQuantity", F_INT, NULL}, {"reportedQuantity", F_INT, NULL},
    {"remainingWeight", F_OBJECT, &Measure}};
SCHEMA(Measures, measures_f);

static const field indicators_f[] = {
    {"hazardous", F_BOOL, NULL}, {"empty", F_BOOL, NULL},
    {"reefer", F_BOOL, NULL},    {"pollutant", F_BOOL, NULL},
    {"fumigation", F_BOOL, NULL}, {"quarantine", F_BOOL, NULL}};
SCHEMA(Indicators, indicators_f);

static const field references_f[] = {{"type", F_STRING, NULL}, {"value", F_STRING, NULL}};
SCHEMA(References, references_f);

static const field hulocation_f[] = {{"place", F_STRING, NULL}, {"location", F_STRING, NULL}};
SCHEMA(HuLocation, hulocation_f);

static const field actors_f[] = {{"freightAgent", F_STRING, NULL},
                                 {"freightForwarder", F_STRING, NULL}};
SCHEMA(Actors, actors_f);

static const field temperatures_f[] = {{"setPoint", F_NUMBER, NULL},
                                       {"rangeMin", F_NUMBER, NULL},
                                       {"rangeMax", F_NUMBER, NULL}};
SCHEMA(Temperatures, temperatures_f);

static const field shipment_f[] = {
    {"documentReference", F_STRING, NULL},   {"documentId", F_STRING, NULL},
    {"documentType", F_INT, NULL},           {"documentDate", F_STRING, NULL},
    {"originLocation", F_STRING, NULL},      {"destinationLocation", F_STRING, NULL},
    {"processingIndicator", F_STRING, NULL}, {"merchantHaulage", F_BOOL, NULL}};
SCHEMA(Shipment, shipment_f);

static const field transportdate_f[] = {{"eta", F_STRING, NULL}, {"etd", F_STRING, NULL},
                                        {"ata", F_STRING, NULL}, {"atd", F_STRING, NULL}};
SCHEMA(TransportDate, transportdate_f);

static const field meansid_f[] = {{"type", F_STRING, NULL}, {"name", F_STRING, NULL}};
SCHEMA(TransportMeansIdentifier, meansid_f);

static const field transport_f[] = {
    {"meansName", F_STRING, NULL},
    {"voyageId", F_STRING, NULL},
    {"mode", F_INT, NULL},
    {"meansNationality", F_STRING, NULL},
    {"voyageDates", F_OBJECT, &TransportDate},
    {"schedulePlace", F_STRING, NULL},
    {"voyageAgentId", F_STRING, NULL},
    {"voyageAgentReference", F_STRING, NULL},
    {"meansType", F_STRING, NULL},
    {"meansId", F_ARRAY, &TransportMeansIdentifier},
    {"arrivalScheduleReference", F_STRING, NULL},
    {"departureScheduleReference", F_STRING, NULL}};
SCHEMA(Transport, transport_f);

static const field event_f[] = {
    {"eventType", F_STRING, NULL},     {"eventDate", F_STRING, NULL},
    {"eventPlace", F_STRING, NULL},    {"eventLocation", F_STRING, NULL},
    {"eventWay", F_STRING, NULL},      {"eventTransportMode", F_INT, NULL}};
SCHEMA(EventInformation, event_f);

static const field hazardous_f[] = {{"imoClass", F_STRING, NULL},
                                    {"limitedQuantity", F_BOOL, NULL}};
SCHEMA(HazardousItem, hazardous_f);

static const field emptyreturn_f[] = {{"dueDate", F_STRING, NULL},
                                      {"finishDateEarliest", F_STRING, NULL},
                                      {"finishDateLatest", F_STRING, NULL}};
SCHEMA(EmptyReturn, emptyreturn_f);

static const field hu_f[] = {
    {"reference", F_STRING, NULL},
    {"pswId", F_STRING, NULL},
    {"freightFamily", F_STRING, NULL},
    {"sizeType", F_STRING, NULL},
    {"packagingCode", F_STRING, NULL},
    {"measures", F_OBJECT, &Measures},
    {"indicators", F_OBJECT, &Indicators},
    {"references", F_ARRAY, &References},
    {"customsFlag", F_STRING, NULL},
    {"huLocation", F_OBJECT, &HuLocation},
    {"actors", F_OBJECT, &Actors},
    {"temperatures", F_OBJECT, &Temperatures},
    {"shipments", F_ARRAY, &Shipment},
    {"transport", F_OBJECT, &Transport},
    {"events", F_ARRAY, &EventInformation},
    {"hazardousItems", F_ARRAY, &HazardousItem},
    {"emptyReturn", F_OBJECT, &EmptyReturn}};
SCHEMA(HandlingUnit, hu_f);

static const field page_f[] = {{"total", F_INT, NULL},
                               {"returned", F_INT, NULL},
                               {"first", F_INT, NULL},
                               {"items", F_ARRAY, &HandlingUnit}};
SCHEMA(HandlingUnitItemsResponseModel, page_f);

/* ---- the walk ---------------------------------------------------------- */

#define MAX_PATH 16   /* the schema is 6 levels deep */

typedef struct walker {
  lua_State *L;
  soget_err *e;
  int depth;
  struct { const char *name; lua_Integer index; } path[MAX_PATH];
} walker;

static int is_null(lua_State *L, int i) {
  return lua_type(L, i) == LUA_TLIGHTUSERDATA && lua_touserdata(L, i) == NULL;
}

/* The JSON type name of the value at i, as cjson decoded it. */
static const char *json_type(lua_State *L, int i) {
  switch (lua_type(L, i)) {
    case LUA_TSTRING: return "string";
    case LUA_TNUMBER: return "number";
    case LUA_TBOOLEAN: return "boolean";
    case LUA_TTABLE: return lua_rawlen(L, i) > 0 ? "array" : "object";
    case LUA_TLIGHTUSERDATA: return "null";
    default: return lua_typename(L, lua_type(L, i));
  }
}

static void push_seg(walker *w, const char *name, lua_Integer index) {
  if (w->depth < MAX_PATH) {
    w->path[w->depth].name = name;
    w->path[w->depth].index = index;
  }
  w->depth++;
}

static int type_error(walker *w, const char *expected, int vi) {
  char path[256];
  size_t n = 0;
  int i, lim = w->depth < MAX_PATH ? w->depth : MAX_PATH;
  path[0] = '\0';
  for (i = 0; i < lim && n < sizeof path - 1; i++) {
    int k;
    if (w->path[i].name)
      k = snprintf(path + n, sizeof path - n, "%s%s", n ? "." : "", w->path[i].name);
    else
      k = snprintf(path + n, sizeof path - n, "[%ld]", (long)w->path[i].index);
    if (k < 0) break;
    n += (size_t)k;
    if (n >= sizeof path) n = sizeof path - 1;
  }
  soget_err_set(w->e, "decode", 0, 0, "%s: expected %s, got %s",
                n ? path : "response", expected, json_type(w->L, vi));
  return -1;
}

static const field *find_field(const schema *s, const char *k) {
  int i;
  for (i = 0; i < s->n; i++)
    if (s->fields[i].name[0] == k[0] && strcmp(s->fields[i].name, k) == 0)
      return &s->fields[i];
  return NULL;
}

/* In an unknown subtree (value at top, held by table t under the key just
 * below it): removes nulls from objects and, from Lua 5.3 on, turns whole
 * numbers into integers. */
static void strip_unknown(lua_State *L, int parent, int level) {
  int t;
#if SOGET_HAS_INTEGERS
  if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
    lua_Number d = lua_tonumber(L, -1);
    if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0) {
      lua_pushvalue(L, -2);
      lua_pushinteger(L, (lua_Integer)d);
      lua_rawset(L, parent);
    }
    return;
  }
#else
  (void)parent;
#endif
  if (lua_type(L, -1) != LUA_TTABLE || level > MAX_DEPTH) return;
  luaL_checkstack(L, 4, "decode");
  t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (is_null(L, -1)) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, t);
    } else {
      strip_unknown(L, t, level + 1);
      lua_pop(L, 1);
    }
  }
}

static int walk_object(walker *w, int t, const schema *s);

/* Checks (and converts) the value at the top of the stack for field f;
 * t is the table holding it and the key sits just below the value. */
static int walk_value(walker *w, int t, const field *f) {
  lua_State *L = w->L;
  int v = lua_gettop(L);
  switch (f->type) {
    case F_STRING:
      if (lua_type(L, v) != LUA_TSTRING) return type_error(w, "string", v);
      return 0;
    case F_BOOL:
      if (lua_type(L, v) != LUA_TBOOLEAN) return type_error(w, "boolean", v);
      return 0;
    case F_NUMBER:
      if (lua_type(L, v) != LUA_TNUMBER) return type_error(w, "number", v);
      return 0;
    case F_INT: {
      lua_Number d;
      if (lua_type(L, v) != LUA_TNUMBER) return type_error(w, "integer", v);
#if SOGET_HAS_INTEGERS
      if (lua_isinteger(L, v)) return 0;
#endif
      d = lua_tonumber(L, v);
      if (d != floor(d) || d < -2147483648.0 || d > 2147483647.0)
        return type_error(w, "integer", v);
#if SOGET_HAS_INTEGERS
      lua_pushvalue(L, v - 1);
      lua_pushinteger(L, (lua_Integer)d);
      lua_rawset(L, t);
#else
      (void)t;
#endif
      return 0;
    }
    case F_OBJECT:
      if (lua_type(L, v) != LUA_TTABLE || lua_rawlen(L, v) > 0)
        return type_error(w, "object", v);
      return walk_object(w, v, f->sub);
    case F_ARRAY: {
      size_t i, n;
      if (lua_type(L, v) != LUA_TTABLE) return type_error(w, "array", v);
      n = lua_rawlen(L, v);
      if (n == 0) {
        lua_pushnil(L);
        if (lua_next(L, v)) {
          lua_pop(L, 2);
          return type_error(w, "array", v);
        }
        return 0;
      }
      luaL_checkstack(L, 2, "decode");
      for (i = 1; i <= n; i++) {
        int r;
        lua_rawgeti(L, v, (lua_Integer)i);
        push_seg(w, NULL, (lua_Integer)i);
        if (lua_type(L, -1) != LUA_TTABLE || lua_rawlen(L, -1) > 0)
          return type_error(w, "object", lua_gettop(L));
        r = walk_object(w, lua_gettop(L), f->sub);
        if (r) return r;
        w->depth--;
        lua_pop(L, 1);
      }
      return 0;
    }
  }
  return 0;
}

static int walk_object(walker *w, int t, const schema *s) {
  lua_State *L = w->L;
  unsigned long arrays_seen = 0;
  int i;
  luaL_checkstack(L, 6, "decode");
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const field *f;
    /* key -2, value -1 */
    if (lua_type(L, -2) != LUA_TSTRING) return type_error(w, "object", t);
    f = find_field(s, lua_tostring(L, -2));
    if (f == NULL) {
      if (is_null(L, -1)) {
        lua_pushvalue(L, -2);
        lua_pushnil(L);
        lua_rawset(L, t);
      } else {
        strip_unknown(L, t, 0);
      }
    } else if (is_null(L, -1)) {
      lua_pushvalue(L, -2);
      if (f->type == F_ARRAY) {
        lua_newtable(L);
        arrays_seen |= 1UL << (f - s->fields);
      } else {
        lua_pushnil(L);
      }
      lua_rawset(L, t);
    } else {
      int r;
      push_seg(w, f->name, 0);
      r = walk_value(w, t, f);
      if (r) return r;
      w->depth--;
      if (f->type == F_ARRAY) arrays_seen |= 1UL << (f - s->fields);
    }
    lua_pop(L, 1);
  }
  for (i = 0; i < s->n; i++) {
    if (s->fields[i].type == F_ARRAY && !(arrays_seen & (1UL << i))) {
      lua_newtable(L);
      lua_setfield(L, t, s->fields[i].name);
    }
  }
  return 0;
}

/* ---- entry points ------------------------------------------------------ */

/* Parses body with the private cjson instance: pushes the value and
 * returns 1, or fills e and returns 0 (nothing pushed). */
static int parse_json(lua_State *L, const char *body, size_t len,
                      const char *what, soget_err *e) {
  soget_private(L);
  lua_getfield(L, -1, SOGET_PRIV_DECODE);
  lua_remove(L, -2);
  lua_pushlstring(L, body, len);
  lua_call(L, 1, 2);
  if (lua_isnil(L, -2)) {
    soget_err_set(e, "decode", 0, 0, "%s is not valid JSON: %s", what,
                  lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_pop(L, 2);
    return 0;
  }
  lua_pop(L, 1);
  return 1;
}

static lua_Integer int_field(lua_State *L, int t, const char *k, int *present) {
  lua_Integer v = 0;
  lua_getfield(L, t, k);
  *present = lua_type(L, -1) == LUA_TNUMBER;
  if (*present) v = (lua_Integer)lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

int soget_decode_page(lua_State *L, const char *body, size_t len, long offset,
                      soget_err *e) {
  int base = lua_gettop(L), t, has_total, has_returned, has_first;
  lua_Integer total, returned, first;
  walker w;
  if (!parse_json(L, body, len, "response body", e)) return 0;
  t = lua_gettop(L);
  w.L = L;
  w.e = e;
  w.depth = 0;
  if (lua_type(L, t) != LUA_TTABLE || lua_rawlen(L, t) > 0) {
    type_error(&w, "object", t);
    lua_settop(L, base);
    return 0;
  }
  if (walk_object(&w, t, &HandlingUnitItemsResponseModel) != 0) {
    lua_settop(L, base);
    return 0;
  }
  /* Fill what a page must have, so paging and scripts can rely on it. */
  total = int_field(L, t, "total", &has_total);
  returned = int_field(L, t, "returned", &has_returned);
  first = int_field(L, t, "first", &has_first);
  if (!has_returned) {
    lua_getfield(L, t, "items");
    returned = (lua_Integer)lua_rawlen(L, -1);
    lua_pop(L, 1);
    lua_pushinteger(L, returned);
    lua_setfield(L, t, "returned");
  }
  if (!has_first) {
    first = offset < 0 ? 0 : offset;
    lua_pushinteger(L, first);
    lua_setfield(L, t, "first");
  }
  if (!has_total) {
    lua_pushinteger(L, first + returned);
    lua_setfield(L, t, "total");
  }
  (void)total;
  soget_page_attach(L, t, 0, 0);
  return 1;
}

void soget_push_empty_page(lua_State *L, long offset) {
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "total");
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "returned");
  lua_pushinteger(L, (lua_Integer)(offset < 0 ? 0 : offset));
  lua_setfield(L, -2, "first");
  lua_newtable(L);
  lua_setfield(L, -2, "items");
  soget_page_attach(L, lua_gettop(L), 0, 0);
}

static void copy_string_field(lua_State *L, int t, const char *k, char *dst,
                              size_t dstsz) {
  lua_getfield(L, t, k);
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (n >= dstsz) n = dstsz - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
  }
  lua_pop(L, 1);
}

int soget_decode_error_fields(lua_State *L, const char *body, size_t len,
                              const char *codekey, char *code, size_t codesz,
                              const char *msgkey, char *msg, size_t msgsz) {
  soget_err e;
  int t, ok;
  code[0] = msg[0] = '\0';
  if (len == 0 || !parse_json(L, body, len, "error body", &e)) return 0;
  t = lua_gettop(L);
  ok = lua_type(L, t) == LUA_TTABLE;
  if (ok) {
    copy_string_field(L, t, codekey, code, codesz);
    copy_string_field(L, t, msgkey, msg, msgsz);
    ok = code[0] || msg[0];
  }
  lua_pop(L, 1);
  return ok;
}

double soget_decode_token(lua_State *L, const char *body, size_t len,
                          soget_err *e) {
  int t;
  double expires_in = 0;
  if (!parse_json(L, body, len, "token response", e)) return -1;
  t = lua_gettop(L);
  if (lua_type(L, t) != LUA_TTABLE) {
    soget_err_set(e, "decode", 0, 0, "token response is not a JSON object");
    lua_pop(L, 1);
    return -1;
  }
  lua_getfield(L, t, "expires_in");
  if (lua_type(L, -1) == LUA_TNUMBER || lua_type(L, -1) == LUA_TSTRING)
    expires_in = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(expires_in >= 0) || expires_in > 1e9) expires_in = 0;
  lua_getfield(L, t, "access_token");
  if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
    soget_err_set(e, "decode", 0, 0, "token response has no access_token");
    lua_pop(L, 2);
    return -1;
  }
  lua_remove(L, t);
  return expires_in;
}

/* Loads cjson.safe and keeps a private instance's decode function. */
void soget_decode_open(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson.safe");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "new");
  if (!lua_isfunction(L, -1)) luaL_error(L, "soget: cjson.safe has no new()");
  lua_call(L, 0, 1);                    /* instance */
  lua_getfield(L, -1, "decode_max_depth");
  if (lua_isfunction(L, -1)) {
    lua_pushinteger(L, MAX_DEPTH);
    lua_call(L, 1, 0);
  } else {
    lua_pop(L, 1);
  }
  lua_getfield(L, -1, "decode_invalid_numbers");
  if (lua_isfunction(L, -1)) {
    lua_pushboolean(L, 0);              /* NaN, Infinity, hex: invalid */
    lua_call(L, 1, 0);
  } else {
    lua_pop(L, 1);
  }
  soget_private(L);
  lua_getfield(L, -2, "decode");
  lua_setfield(L, -2, SOGET_PRIV_DECODE);
  lua_pop(L, 3);
}
