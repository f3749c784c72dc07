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
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200   /* cjson's nesting limit for our instance */

/* ---- the schema, from the OpenAPI document's components --------------- */

enum { F_STRING, F_INT, F_NUMBER, F_BOOL, F_OBJECT, F_ARRAY };

/* Every field name of the schema. The parser pushes a known key from a
 * stack slot holding the interned string instead of hashing it again. */
#define KEYS(X) \
  X(value) X(unit) X(tare) X(grossWeight) X(netWeight) X(quantity) X(weight) \
  X(volume) X(remainingQuantity) X(availableQuantity) X(reportedQuantity) \
  X(remainingWeight) X(hazardous) X(empty) X(reefer) X(pollutant) \
  X(fumigation) X(quarantine) X(type) X(place) X(location) X(freightAgent) \
  X(freightForwarder) X(setPoint) X(rangeMin) X(rangeMax) \
  X(documentReference) X(documentId) X(documentType) X(documentDate) \
  X(originLocation) X(destinationLocation) X(processingIndicator) \
  X(merchantHaulage) X(eta) X(etd) X(ata) X(atd) X(name) X(meansName) \
  X(voyageId) X(mode) X(meansNationality) X(voyageDates) X(schedulePlace) \
  X(voyageAgentId) X(voyageAgentReference) X(meansType) X(meansId) \
  X(arrivalScheduleReference) X(departureScheduleReference) X(eventType) \
  X(eventDate) X(eventPlace) X(eventLocation) X(eventWay) \
  X(eventTransportMode) X(imoClass) X(limitedQuantity) X(dueDate) \
  X(finishDateEarliest) X(finishDateLatest) X(reference) X(pswId) \
  X(freightFamily) X(sizeType) X(packagingCode) X(measures) X(indicators) \
  X(references) X(customsFlag) X(huLocation) X(actors) X(temperatures) \
  X(shipments) X(transport) X(events) X(hazardousItems) X(emptyReturn) \
  X(total) X(returned) X(first) X(items)
#define KEY_ENUM(n) K_##n,
enum { KEYS(KEY_ENUM) K__N };
#define KEY_NAME(n) #n,
static const char *const key_names[K__N] = {KEYS(KEY_NAME)};

typedef struct schema schema;
typedef struct field {
  const char *name;
  unsigned char len;   /* strlen(name) */
  unsigned char key;   /* K_<name> */
  unsigned char type;
  const schema *sub;   /* F_OBJECT: its schema; F_ARRAY: the items' */
} field;
#define FLD(n, t, s) {#n, (unsigned char)(sizeof #n - 1), K_##n, t, s}
struct schema {
  const field *fields;
  int n;
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define SCHEMA(name, fields) static const schema name = {fields, N(fields)}

static const field measure_f[] = {FLD(value, F_NUMBER, NULL), FLD(unit, F_STRING, NULL)};
SCHEMA(Measure, measure_f);

static const field weight_f[] = {FLD(tare, F_OBJECT, &Measure),
                                 FLD(grossWeight, F_OBJECT, &Measure),
                                 FLD(netWeight, F_OBJECT, &Measure)};
SCHEMA(Weight, weight_f);

static const field measures_f[] = {
    FLD(quantity, F_INT, NULL),          FLD(weight, F_OBJECT, &Weight),
    FLD(volume, F_OBJECT, &Measure),     FLD(remainingQuantity, F_INT, NULL),
    FLD(availableQuantity, F_INT, NULL), FLD(reportedQuantity, F_INT, NULL),
    FLD(remainingWeight, F_OBJECT, &Measure)};
SCHEMA(Measures, measures_f);

static const field indicators_f[] = {
    FLD(hazardous, F_BOOL, NULL), FLD(empty, F_BOOL, NULL),
    FLD(reefer, F_BOOL, NULL),    FLD(pollutant, F_BOOL, NULL),
    FLD(fumigation, F_BOOL, NULL), FLD(quarantine, F_BOOL, NULL)};
SCHEMA(Indicators, indicators_f);

static const field references_f[] = {FLD(type, F_STRING, NULL), FLD(value, F_STRING, NULL)};
SCHEMA(References, references_f);

static const field hulocation_f[] = {FLD(place, F_STRING, NULL), FLD(location, F_STRING, NULL)};
SCHEMA(HuLocation, hulocation_f);

static const field actors_f[] = {FLD(freightAgent, F_STRING, NULL),
                                 FLD(freightForwarder, F_STRING, NULL)};
SCHEMA(Actors, actors_f);

static const field temperatures_f[] = {FLD(setPoint, F_NUMBER, NULL),
                                       FLD(rangeMin, F_NUMBER, NULL),
                                       FLD(rangeMax, F_NUMBER, NULL)};
SCHEMA(Temperatures, temperatures_f);

static const field shipment_f[] = {
    FLD(documentReference, F_STRING, NULL),   FLD(documentId, F_STRING, NULL),
    FLD(documentType, F_INT, NULL),           FLD(documentDate, F_STRING, NULL),
    FLD(originLocation, F_STRING, NULL),      FLD(destinationLocation, F_STRING, NULL),
    FLD(processingIndicator, F_STRING, NULL), FLD(merchantHaulage, F_BOOL, NULL)};
SCHEMA(Shipment, shipment_f);

static const field transportdate_f[] = {FLD(eta, F_STRING, NULL), FLD(etd, F_STRING, NULL),
                                        FLD(ata, F_STRING, NULL), FLD(atd, F_STRING, NULL)};
SCHEMA(TransportDate, transportdate_f);

static const field meansid_f[] = {FLD(type, F_STRING, NULL), FLD(name, F_STRING, NULL)};
SCHEMA(TransportMeansIdentifier, meansid_f);

static const field transport_f[] = {
    FLD(meansName, F_STRING, NULL),
    FLD(voyageId, F_STRING, NULL),
    FLD(mode, F_INT, NULL),
    FLD(meansNationality, F_STRING, NULL),
    FLD(voyageDates, F_OBJECT, &TransportDate),
    FLD(schedulePlace, F_STRING, NULL),
    FLD(voyageAgentId, F_STRING, NULL),
    FLD(voyageAgentReference, F_STRING, NULL),
    FLD(meansType, F_STRING, NULL),
    FLD(meansId, F_ARRAY, &TransportMeansIdentifier),
    FLD(arrivalScheduleReference, F_STRING, NULL),
    FLD(departureScheduleReference, F_STRING, NULL)};
SCHEMA(Transport, transport_f);

static const field event_f[] = {
    FLD(eventType, F_STRING, NULL),     FLD(eventDate, F_STRING, NULL),
    FLD(eventPlace, F_STRING, NULL),    FLD(eventLocation, F_STRING, NULL),
    FLD(eventWay, F_STRING, NULL),      FLD(eventTransportMode, F_INT, NULL)};
SCHEMA(EventInformation, event_f);

static const field hazardous_f[] = {FLD(imoClass, F_STRING, NULL),
                                    FLD(limitedQuantity, F_BOOL, NULL)};
SCHEMA(HazardousItem, hazardous_f);

static const field emptyreturn_f[] = {FLD(dueDate, F_STRING, NULL),
                                      FLD(finishDateEarliest, F_STRING, NULL),
                                      FLD(finishDateLatest, F_STRING, NULL)};
SCHEMA(EmptyReturn, emptyreturn_f);

static const field hu_f[] = {
    FLD(reference, F_STRING, NULL),
    FLD(pswId, F_STRING, NULL),
    FLD(freightFamily, F_STRING, NULL),
    FLD(sizeType, F_STRING, NULL),
    FLD(packagingCode, F_STRING, NULL),
    FLD(measures, F_OBJECT, &Measures),
    FLD(indicators, F_OBJECT, &Indicators),
    FLD(references, F_ARRAY, &References),
    FLD(customsFlag, F_STRING, NULL),
    FLD(huLocation, F_OBJECT, &HuLocation),
    FLD(actors, F_OBJECT, &Actors),
    FLD(temperatures, F_OBJECT, &Temperatures),
    FLD(shipments, F_ARRAY, &Shipment),
    FLD(transport, F_OBJECT, &Transport),
    FLD(events, F_ARRAY, &EventInformation),
    FLD(hazardousItems, F_ARRAY, &HazardousItem),
    FLD(emptyReturn, F_OBJECT, &EmptyReturn)};
SCHEMA(HandlingUnit, hu_f);

static const field page_f[] = {FLD(total, F_INT, NULL),
                               FLD(returned, F_INT, NULL),
                               FLD(first, F_INT, NULL),
                               FLD(items, F_ARRAY, &HandlingUnit)};
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

/* ---- the one-pass builder ---------------------------------------------- */

/* The page path parses the body itself and builds the final tables in one
 * pass, directed by the schema: known keys come from interned strings,
 * objects are pre-sized, integers are read without strtod, nulls are never
 * stored. It accepts only well-formed JSON that matches the schema (a
 * subset of what cjson accepts, giving the same tables); on anything else
 * it gives up and the cjson path above decodes the body again, so errors
 * and their messages come from one place. */

#define PRIV_KEYS "decodekeys"   /* array of the K_* names, in order */

typedef struct builder {
  lua_State *L;
  const unsigned char *p, *end;
  int keys;          /* stack index of key_names[0]'s string */
  int scratch;       /* stack slot for the escape buffer (a userdata) */
  char *buf;         /* its memory once made: as long as the body */
  size_t len;        /* body length */
  int depth;
} builder;

/* Character classes, bits: 1 whitespace; 2 ends a plain string run ('"',
 * '\\', control characters, which a string may not hold raw). */
#define C2x8 2, 2, 2, 2, 2, 2, 2, 2
static const unsigned char cclass[256] = {
    C2x8, 2, 3, 3, 2, 2, 3, 2, 2, C2x8, C2x8,   /* 0x00-0x1f; \t \n \r: 3 */
    [' '] = 1, ['"'] = 2, ['\\'] = 2};

#define WS(b) \
  while ((b)->p < (b)->end && (cclass[*(b)->p] & 1)) (b)->p++
#define PEEK(b) ((b)->p < (b)->end ? *(b)->p : 0)

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static long hex4(const unsigned char *p, const unsigned char *end) {
  long v = 0;
  int i, d;
  if (end - p < 4) return -1;
  for (i = 0; i < 4; i++) {
    if ((d = hexval(p[i])) < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

/* At the opening quote: sets *s, *n to the string's bytes (in the body, or
 * unescaped in the scratch buffer). Returns 0 on anything cjson would not
 * read the same way. */
static int read_string(builder *b, const char **s, size_t *n) {
  const unsigned char *p = b->p + 1, *end = b->end, *start = p;
  char *o;
  while (p < end && !(cclass[*p] & 2)) p++;
  if (p >= end) return 0;
  if (*p == '"') {
    *s = (const char *)start;
    *n = (size_t)(p - start);
    b->p = p + 1;
    return 1;
  }
  if (*p != '\\') return 0;               /* raw control character */
  if (!b->buf) {
    b->buf = (char *)lua_newuserdata(b->L, b->len + 1);
    lua_replace(b->L, b->scratch);
  }
  o = b->buf;
  memcpy(o, start, (size_t)(p - start));
  o += p - start;
  while (p < end) {
    unsigned c = *p;
    if (c == '"') {
      *s = b->buf;
      *n = (size_t)(o - b->buf);
      b->p = p + 1;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c != '\\') { *o++ = (char)c; p++; continue; }
    if (end - p < 2) return 0;
    switch (p[1]) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        long cp = hex4(p + 2, end), lo;
        if (cp < 0) return 0;
        if ((cp & 0xF800) == 0xD800) {       /* a surrogate: needs a pair */
          if ((cp & 0x400) || end - p < 12 || p[6] != '\\' || p[7] != 'u') return 0;
          lo = hex4(p + 8, end);
          if (lo < 0 || (lo & 0xFC00) != 0xDC00) return 0;
          cp = (((cp & 0x3FF) << 10) | (lo & 0x3FF)) + 0x10000;
          p += 6;
        }
        if (cp < 0x80) {
          *o++ = (char)cp;
        } else if (cp < 0x800) {
          *o++ = (char)(0xC0 | (cp >> 6));
          *o++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
          *o++ = (char)(0xE0 | (cp >> 12));
          *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
          *o++ = (char)(0x80 | (cp & 0x3F));
        } else {
          *o++ = (char)(0xF0 | (cp >> 18));
          *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
          *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
          *o++ = (char)(0x80 | (cp & 0x3F));
        }
        p += 4;
        break;
      }
      default: return 0;
    }
    p += 2;
  }
  return 0;
}

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A JSON number (strict grammar). Sets *d; *isint and *i when it is written
 * as a whole number of at most 15 digits. The double is the correctly
 * rounded value, as strtod gives it: exact arithmetic when the digits and
 * the power of ten are exact doubles, strtod otherwise. */
static int read_number(builder *b, double *d, int *isint, long long *i) {
  const unsigned char *p = b->p, *end = b->end, *s = p;
  int neg = 0, digits = 0, fdigits = 0, e = 0, eneg = 0, edigits = 0;
  unsigned long long m = 0;
  if (p < end && *p == '-') { neg = 1; p++; }
  if (p >= end || *p < '0' || *p > '9') return 0;
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9') return 0;   /* leading zero */
  } else {
    while (p < end && *p >= '0' && *p <= '9') {
      if (digits < 19) m = m * 10 + (unsigned)(*p - '0');
      digits++;
      p++;
    }
  }
  *isint = 0;
  if (p < end && *p == '.') {
    p++;
    if (p >= end || *p < '0' || *p > '9') return 0;
    while (p < end && *p >= '0' && *p <= '9') {
      if (digits + fdigits < 19) m = m * 10 + (unsigned)(*p - '0');
      fdigits++;
      p++;
    }
  }
  if (p < end && (*p | 0x20) == 'e') {
    p++;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p >= end || *p < '0' || *p > '9') return 0;
    while (p < end && *p >= '0' && *p <= '9') {
      if (e < 100000) e = e * 10 + (*p - '0');
      edigits++;
      p++;
    }
  }
  if (p >= end) return 0;   /* a valid page never ends in a number */
  b->p = p;
  if (fdigits == 0 && edigits == 0 && digits <= 15) {
    *isint = 1;
    *i = neg ? -(long long)m : (long long)m;
    *d = neg ? -(double)m : (double)m;
    return 1;
  }
  if (eneg) e = -e;
  e -= fdigits;
  if (digits + fdigits <= 15 && e >= -22 && e <= 22) {
    double v = (double)m;
    v = e < 0 ? v / pow10_exact[-e] : v * pow10_exact[e];
    *d = neg ? -v : v;
    return 1;
  } else {
    char *ep;
    *d = strtod((const char *)s, &ep);
    return (const unsigned char *)ep == p;   /* another locale: give up */
  }
}

static int read_literal(builder *b, const char *lit, size_t n) {
  if ((size_t)(b->end - b->p) < n || memcmp(b->p, lit, n) != 0) return 0;
  b->p += n;
  return 1;
}

/* Pushes a whole number as cjson + the walk give it: an integer from 5.3 on
 * when asked for one (range checked by the caller). */
static void push_number(lua_State *L, double d, int isint, long long i,
                        int as_int) {
#if SOGET_HAS_INTEGERS
  if (as_int) {
    lua_pushinteger(L, isint ? (lua_Integer)i : (lua_Integer)d);
    return;
  }
#else
  (void)isint; (void)i; (void)as_int;
#endif
  lua_pushnumber(L, d);
}

static int build_object(builder *b, const schema *s);
static int build_unknown(builder *b);

/* An empty JSON array where an object is due reads as an empty object
 * (cjson gives both as an empty table). */
static int build_empty_object(builder *b, const schema *s) {
  lua_State *L = b->L;
  int i;
  b->p++;
  WS(b);
  if (PEEK(b) != ']') return 0;
  b->p++;
  lua_createtable(L, 0, s->n);
  for (i = 0; i < s->n; i++) {
    if (s->fields[i].type == F_ARRAY) {
      lua_pushvalue(L, b->keys + s->fields[i].key);
      lua_newtable(L);
      lua_rawset(L, -3);
    }
  }
  return 1;
}

/* An array of objects of schema s. */
static int build_array(builder *b, const schema *s) {
  lua_State *L = b->L;
  int t, n = 0;
  if (++b->depth > MAX_DEPTH) return 0;
  luaL_checkstack(L, 4, "decode");
  lua_newtable(L);
  t = lua_gettop(L);
  b->p++;
  WS(b);
  if (PEEK(b) == ']') {
    b->p++;
    b->depth--;
    return 1;
  }
  for (;;) {
    int c = PEEK(b);
    if (c == '{') {
      if (!build_object(b, s)) return 0;
    } else if (c == '[') {
      if (!build_empty_object(b, s)) return 0;
    } else {
      return 0;
    }
    lua_rawseti(L, t, ++n);
    WS(b);
    c = PEEK(b);
    b->p++;
    if (c == ']') break;
    if (c != ',') return 0;
    WS(b);
  }
  b->depth--;
  return 1;
}

/* The value of known field f, not null: pushes it. */
static int build_known(builder *b, const field *f) {
  lua_State *L = b->L;
  int c = PEEK(b);
  switch (f->type) {
    case F_STRING: {
      const char *s;
      size_t n;
      if (c != '"' || !read_string(b, &s, &n)) return 0;
      lua_pushlstring(L, s, n);
      return 1;
    }
    case F_BOOL:
      if (c == 't' && read_literal(b, "true", 4)) lua_pushboolean(L, 1);
      else if (c == 'f' && read_literal(b, "false", 5)) lua_pushboolean(L, 0);
      else return 0;
      return 1;
    case F_NUMBER:
    case F_INT: {
      double d;
      long long i;
      int isint;
      if (c != '-' && (c < '0' || c > '9')) return 0;
      if (!read_number(b, &d, &isint, &i)) return 0;
      if (f->type == F_INT && (d != floor(d) || d < -2147483648.0 || d > 2147483647.0))
        return 0;
      push_number(L, d, isint, i, f->type == F_INT);
      return 1;
    }
    case F_OBJECT:
      if (c == '{') return build_object(b, f->sub);
      if (c == '[') return build_empty_object(b, f->sub);
      return 0;
    case F_ARRAY:
      if (c == '[') return build_array(b, f->sub);
      if (c == '{') {                    /* only an empty object will do */
        b->p++;
        WS(b);
        if (PEEK(b) != '}') return 0;
        b->p++;
        lua_newtable(L);
        return 1;
      }
      return 0;
  }
  return 0;
}

static const field *match_field(const schema *s, int *hint, const char *k,
                                size_t n) {
  int i = *hint, j;
  for (j = 0; j < s->n; j++, i++) {
    const field *f;
    if (i >= s->n) i = 0;
    f = &s->fields[i];
    if (f->len == n && memcmp(f->name, k, n) == 0) {
      *hint = i + 1;
      return f;
    }
  }
  return NULL;
}

/* An object of schema s (at its '{'): pushes the final table. */
static int build_object(builder *b, const schema *s) {
  lua_State *L = b->L;
  unsigned long seen = 0;
  int t, i, hint = 0;
  if (++b->depth > MAX_DEPTH) return 0;
  luaL_checkstack(L, 6, "decode");
  lua_createtable(L, 0, s->n);
  t = lua_gettop(L);
  b->p++;
  WS(b);
  if (PEEK(b) == '}') {
    b->p++;
  } else {
    for (;;) {
      const char *k;
      size_t kn;
      const field *f;
      if (PEEK(b) != '"' || !read_string(b, &k, &kn)) return 0;
      WS(b);
      if (PEEK(b) != ':') return 0;
      b->p++;
      WS(b);
      f = match_field(s, &hint, k, kn);
      if (f) {
        unsigned long bit = 1UL << (f - s->fields);
        if (PEEK(b) == 'n') {
          if (!read_literal(b, "null", 4)) return 0;
          if (f->type == F_ARRAY) {
            lua_pushvalue(L, b->keys + f->key);
            lua_newtable(L);
            lua_rawset(L, t);
          } else if (seen & bit) {        /* a repeated key: the last counts */
            lua_pushvalue(L, b->keys + f->key);
            lua_pushnil(L);
            lua_rawset(L, t);
          }
        } else {
          lua_pushvalue(L, b->keys + f->key);
          if (!build_known(b, f)) return 0;
          lua_rawset(L, t);
        }
        seen |= bit;
      } else {
        lua_pushlstring(L, k, kn);
        if (PEEK(b) == 'n') {
          if (!read_literal(b, "null", 4)) return 0;
          lua_pushnil(L);
        } else if (!build_unknown(b)) {
          return 0;
        }
        lua_rawset(L, t);
      }
      WS(b);
      i = PEEK(b);
      b->p++;
      if (i == '}') break;
      if (i != ',') return 0;
      WS(b);
    }
  }
  for (i = 0; i < s->n; i++) {
    if (s->fields[i].type == F_ARRAY && !(seen & (1UL << i))) {
      lua_pushvalue(L, b->keys + s->fields[i].key);
      lua_newtable(L);
      lua_rawset(L, t);
    }
  }
  b->depth--;
  return 1;
}

/* Any value outside the schema, not null at the top: pushes it with nulls
 * left out (holes in arrays) and whole numbers as integers (5.3+). */
static int build_unknown(builder *b) {
  lua_State *L = b->L;
  int c = PEEK(b);
  switch (c) {
    case '"': {
      const char *s;
      size_t n;
      if (!read_string(b, &s, &n)) return 0;
      lua_pushlstring(L, s, n);
      return 1;
    }
    case 't':
      if (!read_literal(b, "true", 4)) return 0;
      lua_pushboolean(L, 1);
      return 1;
    case 'f':
      if (!read_literal(b, "false", 5)) return 0;
      lua_pushboolean(L, 0);
      return 1;
    case '{': case '[': {
      int t, n = 0, end = c == '{' ? '}' : ']';
      if (++b->depth > MAX_DEPTH) return 0;
      luaL_checkstack(L, 4, "decode");
      lua_newtable(L);
      t = lua_gettop(L);
      b->p++;
      WS(b);
      if (PEEK(b) == end) {
        b->p++;
        b->depth--;
        return 1;
      }
      for (;;) {
        if (c == '{') {
          const char *k;
          size_t kn;
          if (PEEK(b) != '"' || !read_string(b, &k, &kn)) return 0;
          lua_pushlstring(L, k, kn);
          WS(b);
          if (PEEK(b) != ':') return 0;
          b->p++;
          WS(b);
          if (PEEK(b) == 'n') {
            if (!read_literal(b, "null", 4)) return 0;
            lua_pushnil(L);
          } else if (!build_unknown(b)) {
            return 0;
          }
          lua_rawset(L, t);
        } else {
          n++;
          if (PEEK(b) == 'n') {
            if (!read_literal(b, "null", 4)) return 0;
          } else {
            if (!build_unknown(b)) return 0;
            lua_rawseti(L, t, n);
          }
        }
        WS(b);
        c = PEEK(b);
        b->p++;
        if (c == end) break;
        if (c != ',') return 0;
        c = end == '}' ? '{' : '[';
        WS(b);
      }
      b->depth--;
      return 1;
    }
    default: {
      double d;
      long long i;
      int isint, as_int = 0;
      if (c != '-' && (c < '0' || c > '9')) return 0;
      if (!read_number(b, &d, &isint, &i)) return 0;
#if SOGET_HAS_INTEGERS
      as_int = isint ||
               (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0);
#endif
      push_number(L, d, isint, i, as_int);
      return 1;
    }
  }
}

/* Builds the page from body in one pass: pushes it and returns 1, or
 * returns 0 with the stack as it was. */
static int build_page(lua_State *L, const char *body, size_t len) {
  builder b;
  int base = lua_gettop(L), i, ok = 0;
  luaL_checkstack(L, K__N + 8, "decode");
  soget_private(L);
  lua_getfield(L, -1, PRIV_KEYS);
  lua_remove(L, -2);
  if (lua_type(L, -1) != LUA_TTABLE) {
    lua_settop(L, base);
    return 0;
  }
  for (i = 0; i < K__N; i++) lua_rawgeti(L, base + 1, i + 1);
  lua_pushnil(L);
  b.L = L;
  b.p = (const unsigned char *)body;
  b.end = b.p + len;
  b.keys = base + 2;
  b.scratch = lua_gettop(L);
  b.buf = NULL;
  b.len = len;
  b.depth = 0;
  WS(&b);
  if (PEEK(&b) == '{')
    ok = build_object(&b, &HandlingUnitItemsResponseModel);
  else if (PEEK(&b) == '[')
    ok = build_empty_object(&b, &HandlingUnitItemsResponseModel);
  if (ok) {
    WS(&b);
    ok = b.p == b.end;
  }
  if (!ok) {
    lua_settop(L, base);
    return 0;
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  return 1;
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
  if (build_page(L, body, len)) {
    t = lua_gettop(L);
  } else {
    /* Not a well-formed page: cjson and the walk say why. */
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
  {
    int i;
    lua_createtable(L, K__N, 0);
    for (i = 0; i < K__N; i++) {
      lua_pushstring(L, key_names[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, PRIV_KEYS);
  }
  lua_pop(L, 3);
}
