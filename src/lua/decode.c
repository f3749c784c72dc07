/* Response bodies to native tables, by the schema:
 *  - JSON null becomes nil,
 *  - array fields are always tables (empty when null or absent),
 *  - integer fields become Lua integers (5.3+), and so do whole numbers
 *    outside the schema below 2^53 in magnitude, -0 excepted,
 *  - every known field's JSON type is checked and a mismatch reported with
 *    its path, 1-based: "items[2].events[1].eventDate: expected string,
 *    got number",
 *  - unknown fields are kept (their nulls removed from objects),
 *  - a body is a page when it is an object with at least one of the page's
 *    fields (total, returned, first, items), whatever their values.
 * A page is built in one pass over libyajl's parse events (the builder at
 * the end). A body the builder does not take, and token and error bodies,
 * go through lua-cjson (a private cjson.safe instance) and a schema-directed
 * walk over its output, which also words every decode error. */
#include "soget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

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

static void add_array_fields(lua_State *L, const schema *s) {
  int i;
  for (i = 0; i < s->n; i++) {
    const field *f = &s->fields[i];
    if (f->type == F_ARRAY) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, f->name);
    }
    if (f->sub) add_array_fields(L, f->sub);   /* the schema has no cycles */
  }
}

void soget_decode_push_array_fields(lua_State *L) {
  lua_newtable(L);
  add_array_fields(L, &HandlingUnitItemsResponseModel);
}

/* ---- the walk over cjson's output -------------------------------------- */

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

/* The field named by the n bytes at k: compared by length and bytes, so
 * "events\0junk" is not events. */
static const field *find_field(const schema *s, const char *k, size_t n) {
  int i;
  for (i = 0; i < s->n; i++)
    if (s->fields[i].len == n && memcmp(s->fields[i].name, k, n) == 0)
      return &s->fields[i];
  return NULL;
}

/* 2^53: from there on a double no longer holds every whole number, and
 * 9007199254740993 reads as 9007199254740992. */
#define TWO_53 9007199254740992.0

/* Whether a number outside the schema becomes a Lua integer (5.3+): the
 * double it reads as is whole, below 2^53 in magnitude (so exactly the
 * number sent, up to the double's own rounding of a fraction), and not -0.
 * Both paths decide from that double alone. */
#if SOGET_HAS_INTEGERS
static int exact_whole(double d) {
  return d > -TWO_53 && d < TWO_53 && d == floor(d) && (d != 0 || !signbit(d));
}
#endif

/* In an unknown subtree (value at top, held by table t under the key just
 * below it): removes nulls from objects and, from Lua 5.3 on, turns the
 * whole numbers exact_whole takes into integers. */
static void strip_unknown(lua_State *L, int parent, int level) {
  int t;
#if SOGET_HAS_INTEGERS
  if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
    lua_Number d = lua_tonumber(L, -1);
    if (exact_whole(d)) {
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
      lua_pushvalue(L, v - 1);
#if SOGET_HAS_INTEGERS
      lua_pushinteger(L, (lua_Integer)d);
#else
      lua_pushnumber(L, d == 0 ? 0.0 : d);   /* an integer has no -0 */
#endif
      lua_rawset(L, t);
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
    const char *k;
    size_t kn;
    /* key -2, value -1 */
    if (lua_type(L, -2) != LUA_TSTRING) return type_error(w, "object", t);
    k = lua_tolstring(L, -2, &kn);
    f = find_field(s, k, kn);
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

/* The page path builds the final tables in one pass over yajl's parse
 * events, directed by the schema: known keys come from interned strings,
 * objects are pre-sized, nulls are never stored, missing array fields are
 * added when their object ends. It accepts only bodies that cjson reads
 * the same way and that match the schema; on anything else it cancels the
 * parse and the cjson path above decodes the body again, so errors and
 * their messages come from one place. */

#define PRIV_KEYS "decodekeys"   /* array of the K_* names, in order */

/* Containers being built. */
enum {
  FR_ROOT,    /* below the body's value */
  FR_OBJ,     /* an object of schema s */
  FR_ARR,     /* an array of objects of schema s */
  FR_EOBJ,    /* an array where an object of schema s is due: must be empty */
  FR_EARR,    /* an object where an array is due: must be empty */
  FR_UOBJ,    /* an object outside the schema */
  FR_UARR     /* an array outside the schema */
};
/* What the next value may be, besides an F_* type: anything (outside the
 * schema), or nothing (in a container that must stay empty). */
enum { W_ANY = 16, W_NONE };

typedef struct frame {
  const schema *s;      /* FR_OBJ, FR_EOBJ: its schema; FR_ARR: the items' */
  const schema *wsub;   /* want is F_OBJECT or F_ARRAY: that schema */
  unsigned long seen;   /* FR_OBJ: bits of the fields given so far */
  int t;                /* stack index of the table */
  int n;                /* arrays: elements so far, nulls included */
  int pending;          /* FR_OBJ: the field of the key just read, -1 unknown */
  int hint;             /* FR_OBJ: where to look for the next key */
  unsigned char kind;
  unsigned char want;
} frame;

/* yajl's own memory (its handle, lexer, stacks and string buffer) comes
 * from an arena inside the builder, so a decode makes no malloc for it;
 * past the arena, malloc. Arena blocks are never freed one by one. */
#define ARENA_SIZE 8192
typedef struct arena {
  size_t used;
  union { max_align_t align; unsigned char bytes[ARENA_SIZE]; } mem;
} arena;

typedef struct builder {
  lua_State *L;
  yajl_handle h;
  const char *body;
  size_t len;
  int keys;             /* stack index of key_names[0]'s string */
  int depth;            /* containers open */
  int done;             /* the body's value is complete */
  size_t end;           /* and ends there */
  frame fr[MAX_DEPTH + 1];
  arena a;
} builder;

/* Each block is preceded by its size, for realloc. */
typedef union { size_t n; max_align_t align; } arena_hdr;

static int in_arena(arena *a, void *p) {
  unsigned char *c = p;
  return c >= a->mem.bytes && c < a->mem.bytes + ARENA_SIZE;
}

static void *arena_malloc(void *ctx, size_t n) {
  arena *a = ctx;
  size_t need = sizeof(arena_hdr) + ((n + sizeof(arena_hdr) - 1) / sizeof(arena_hdr)) * sizeof(arena_hdr);
  if (n <= ARENA_SIZE && need <= ARENA_SIZE - a->used) {
    arena_hdr *h = (arena_hdr *)(void *)(a->mem.bytes + a->used);
    h->n = n;
    a->used += need;
    return h + 1;
  }
  return malloc(n);
}

static void arena_free(void *ctx, void *p) {
  if (p && !in_arena(ctx, p)) free(p);
}

static void *arena_realloc(void *ctx, void *p, size_t n) {
  void *q;
  size_t old;
  if (!p) return arena_malloc(ctx, n);
  if (!in_arena(ctx, p)) return realloc(p, n);
  old = ((arena_hdr *)p - 1)->n;
  if (n <= old) return p;
  q = arena_malloc(ctx, n);
  if (q) memcpy(q, p, old);
  return q;
}

/* The field named k, looked for from *hint on: bodies give the fields in
 * the schema's order, so the first candidate is nearly always the one. */
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

/* Stores the value at the top into the container f (for an object, the
 * key sits just below it). */
static int store(builder *b, frame *f) {
  lua_State *L = b->L;
  switch (f->kind) {
    case FR_OBJ:
      if (f->pending >= 0) f->seen |= 1UL << f->pending;
      lua_rawset(L, f->t);
      return 1;
    case FR_UOBJ:
      lua_rawset(L, f->t);
      return 1;
    case FR_ARR:
    case FR_UARR:
      lua_rawseti(L, f->t, ++f->n);
      return 1;
    case FR_ROOT:
      b->done = 1;
      b->end = yajl_get_bytes_consumed(b->h);
      return 1;
  }
  return 0;
}

static int cb_null(void *ctx) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  lua_State *L = b->L;
  switch (f->kind) {
    case FR_OBJ:
      if (f->pending >= 0) {
        unsigned long bit = 1UL << f->pending;
        if (f->want == F_ARRAY) {
          lua_newtable(L);
          lua_rawset(L, f->t);
        } else if (f->seen & bit) {      /* a repeated key: the last counts */
          lua_pushnil(L);
          lua_rawset(L, f->t);
        } else {
          lua_pop(L, 1);
        }
        f->seen |= bit;
        return 1;
      }
      /* FALLTHROUGH */
    case FR_UOBJ:
      lua_pushnil(L);
      lua_rawset(L, f->t);
      return 1;
    case FR_UARR:
      f->n++;                            /* a hole */
      return 1;
  }
  return 0;                              /* null where an object is due */
}

static int cb_boolean(void *ctx, int v) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  if (f->want != F_BOOL && f->want != W_ANY) return 0;
  lua_pushboolean(b->L, v);
  return store(b, f);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  if (f->want != F_STRING && f->want != W_ANY) return 0;
  lua_pushlstring(b->L, (const char *)s, n);
  return store(b, f);
}

/* Numbers as cjson reads them (strtod) and the walk converts them: integer
 * fields in int32 range as integers, numbers outside the schema as
 * integers when exact_whole takes them (5.3+), the rest as floats. */
static int cb_number(void *ctx, const char *s, size_t n) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  lua_State *L = b->L;
  double d = 0;
  int whole = 1;
  size_t i = s[0] == '-';
  if (f->want != F_NUMBER && f->want != F_INT && f->want != W_ANY) return 0;
  if (n - i <= 15) {                     /* up to 15 digits: exact */
    unsigned long long m = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
      m = m * 10 + (unsigned)(s[i] - '0');
    d = (double)m;
    if (s[0] == '-') d = -d;
  }
  if (i < n) {                           /* a fraction, an exponent, or long */
    char buf[64], *end;
    if (n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    d = strtod(buf, &end);
    if (end != buf + n) return 0;        /* another locale's decimal point */
    whole = d == floor(d);
  }
  switch (f->want) {
    case F_NUMBER:
      lua_pushnumber(L, d);
      break;
    case F_INT:
      if (!whole || d < -2147483648.0 || d > 2147483647.0) return 0;
#if SOGET_HAS_INTEGERS
      lua_pushinteger(L, (lua_Integer)d);
#else
      lua_pushnumber(L, d == 0 ? 0.0 : d);   /* an integer has no -0 */
#endif
      break;
    default:
#if SOGET_HAS_INTEGERS
      /* exact_whole(d), knowing whole */
      if (whole && d > -TWO_53 && d < TWO_53 && (d != 0 || !signbit(d))) {
        lua_pushinteger(L, (lua_Integer)d);
        break;
      }
#endif
      lua_pushnumber(L, d);
      break;
  }
  return store(b, f);
}

/* Opens a container: pushes its table and its frame. */
static frame *open_frame(builder *b, int kind, const schema *s, int want,
                         const schema *wsub) {
  lua_State *L = b->L;
  frame *c;
  if (b->depth >= MAX_DEPTH || !lua_checkstack(L, 4)) return NULL;
  c = &b->fr[++b->depth];
  if (kind == FR_OBJ || kind == FR_EOBJ) lua_createtable(L, 0, s->n);
  else lua_newtable(L);
  c->kind = (unsigned char)kind;
  c->want = (unsigned char)want;
  c->s = s;
  c->wsub = wsub;
  c->seen = 0;
  c->n = 0;
  c->pending = -1;
  c->hint = 0;
  c->t = lua_gettop(L);
  return c;
}

static int cb_start_map(void *ctx) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  switch (f->want) {
    case F_OBJECT: return open_frame(b, FR_OBJ, f->wsub, W_NONE, NULL) != NULL;
    case F_ARRAY: return open_frame(b, FR_EARR, NULL, W_NONE, NULL) != NULL;
    case W_ANY: return open_frame(b, FR_UOBJ, NULL, W_ANY, NULL) != NULL;
  }
  return 0;
}

static int cb_start_array(void *ctx) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  switch (f->want) {
    case F_ARRAY: return open_frame(b, FR_ARR, f->wsub, F_OBJECT, f->wsub) != NULL;
    case F_OBJECT: return open_frame(b, FR_EOBJ, f->wsub, W_NONE, NULL) != NULL;
    case W_ANY: return open_frame(b, FR_UARR, NULL, W_ANY, NULL) != NULL;
  }
  return 0;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t n) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  lua_State *L = b->L;
  if (f->kind == FR_OBJ) {
    const field *fd = match_field(f->s, &f->hint, (const char *)k, n);
    if (fd) {
      lua_pushvalue(L, b->keys + fd->key);
      f->pending = (int)(fd - f->s->fields);
      f->want = fd->type;
      f->wsub = fd->sub;
    } else {
      lua_pushlstring(L, (const char *)k, n);
      f->pending = -1;
      f->want = W_ANY;
    }
    return 1;
  }
  if (f->kind != FR_UOBJ) return 0;      /* FR_EARR: must be empty */
  lua_pushlstring(L, (const char *)k, n);
  return 1;
}

/* Closes the container at the top: array fields the object did not give
 * become empty tables, then the table goes into its parent. */
static int close_frame(builder *b) {
  frame *f = &b->fr[b->depth];
  if (f->kind == FR_OBJ || f->kind == FR_EOBJ) {
    lua_State *L = b->L;
    int i;
    for (i = 0; i < f->s->n; i++) {
      if (f->s->fields[i].type == F_ARRAY && !(f->seen & (1UL << i))) {
        lua_pushvalue(L, b->keys + f->s->fields[i].key);
        lua_newtable(L);
        lua_rawset(L, f->t);
      }
    }
  }
  b->depth--;
  return store(b, &b->fr[b->depth]);
}

static int cb_end_map(void *ctx) { return close_frame((builder *)ctx); }
static int cb_end_array(void *ctx) { return close_frame((builder *)ctx); }

static const yajl_callbacks builder_callbacks = {
    cb_null,      cb_boolean,   NULL,       NULL,         cb_number,
    cb_string,    cb_start_map, cb_map_key, cb_end_map,   cb_start_array,
    cb_end_array};

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The high byte of the code unit of the \u escape at p, or -1. */
static int escape_high(const unsigned char *p) {
  int a = hexval(p[2]), c = hexval(p[3]);
  return a < 0 || c < 0 ? -1 : (a << 4) | c;
}

/* yajl decodes some bodies cjson refuses: a \u escape of a lone or
 * mismatched UTF-16 surrogate (into '?' or another code point), and a
 * vertical tab or form feed between tokens. Those take the cjson path. */
static int yajl_reads_as_cjson(const char *body, size_t len) {
  const unsigned char *p = (const unsigned char *)body, *end = p + len;
  if (memchr(body, '\v', len) || memchr(body, '\f', len)) return 0;
  while ((p = (const unsigned char *)memchr(p, '\\', (size_t)(end - p))) != NULL) {
    int hi = end - p >= 6 && p[1] == 'u' ? escape_high(p) : -1;
    if (hi >= 0xD8 && hi <= 0xDF) {      /* a high surrogate, then a low one */
      int lo;
      if (hi >= 0xDC || end - p < 12 || p[6] != '\\' || p[7] != 'u') return 0;
      lo = escape_high(p + 6);
      if (lo < 0xDC || lo > 0xDF) return 0;
      p += 12;
    } else {
      p += 2;                            /* the escaped character */
    }
    if (p >= end) break;
  }
  return 1;
}

/* Under lua_pcall: [1] the builder. Parses, and returns the page or
 * nothing when the parse was refused or cancelled. A Lua error (memory)
 * in a callback unwinds to the pcall; build_page frees the handle. */
static int build_run(lua_State *L) {
  builder *b = (builder *)lua_touserdata(L, 1);
  int i;
  size_t end;
  yajl_status st;
  luaL_checkstack(L, K__N + 8, "decode");
  soget_private(L);
  lua_getfield(L, -1, PRIV_KEYS);
  lua_remove(L, -2);
  if (lua_type(L, -1) != LUA_TTABLE) return 0;
  for (i = 0; i < K__N; i++) lua_rawgeti(L, 2, i + 1);
  b->L = L;
  b->keys = 3;
  b->depth = 0;
  b->done = 0;
  b->fr[0].kind = FR_ROOT;
  b->fr[0].want = F_OBJECT;
  b->fr[0].wsub = &HandlingUnitItemsResponseModel;
  st = yajl_parse(b->h, (const unsigned char *)b->body, b->len);
  if (st == yajl_status_ok) st = yajl_complete_parse(b->h);
  if (st != yajl_status_ok || !b->done || lua_type(L, -1) != LUA_TTABLE) return 0;
  /* A page gives at least one of its fields: the bits of those the root
   * object gave stay in its frame, fr[1], once it is closed. Without any,
   * the walk words the error. */
  if (b->fr[1].seen == 0) return 0;
  /* yajl lets an unterminated string after the value pass unseen: only
   * whitespace may follow the value */
  for (end = b->end; end < b->len; end++) {
    char c = b->body[end];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return 0;
  }
  return 1;
}

/* Builds the page from body in one pass: pushes it and returns 1, or
 * returns 0 with the stack as it was. */
static int build_page(lua_State *L, const char *body, size_t len) {
  builder b;
  int status;
  if (!yajl_reads_as_cjson(body, len)) return 0;
  lua_pushcfunction(L, build_run);
  lua_pushlightuserdata(L, &b);
  b.body = body;
  b.len = len;
  {
    yajl_alloc_funcs af;
    af.malloc = arena_malloc;
    af.realloc = arena_realloc;
    af.free = arena_free;
    af.ctx = &b.a;
    b.a.used = 0;
    b.h = yajl_alloc(&builder_callbacks, &af, &b);
  }
  if (b.h == NULL) {
    lua_pop(L, 2);
    return 0;
  }
  yajl_config(b.h, yajl_dont_validate_strings, 1);   /* as cjson: bytes as sent */
  status = lua_pcall(L, 1, 1, 0);
  yajl_free(b.h);
  if (status != 0) lua_error(L);         /* out of memory: raised as before */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* ---- entry points ------------------------------------------------------ */

/* Parses body with the private cjson instance: pushes the value and
 * returns 1, or fills e and returns 0 (nothing pushed). */
static int parse_json(lua_State *L, const char *body, size_t len,
                      const char *what, soget_err *e) {
  /* lua-cjson stops at a NUL byte as at the end of the text: refused here,
   * or '{"items":[]}\0junk' would be a page */
  const char *nul = memchr(body, '\0', len);
  if (nul) {
    soget_err_set(e, "decode", 0, 0, "%s is not valid JSON: a NUL byte at character %lu",
                  what, (unsigned long)(nul - body) + 1);
    return 0;
  }
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

/* Whether the object at t (as lua-cjson decoded it: a null is a light
 * userdata) has a member named as a field of the page, whatever its value.
 * The document allows a page no other member: an object with none of them,
 * such as {}, an error body or a token answer, is not a page. */
static int has_page_field(lua_State *L, int t) {
  int i, found = 0;
  for (i = 0; i < HandlingUnitItemsResponseModel.n && !found; i++) {
    lua_pushlstring(L, page_f[i].name, page_f[i].len);
    lua_rawget(L, t);
    found = !lua_isnil(L, -1);
    lua_pop(L, 1);
  }
  return found;
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
    if (!has_page_field(L, t)) {
      soget_err_set(e, "decode", 0, 0, "response body is not a page: none of "
                    "total, returned, first, items");
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

/* Copies the string field k into dst, cut to its size. dst is a C string:
 * a NUL byte from the body becomes '?', so "R001\u0000x" is not read as
 * the code R001 and a message is not cut short. */
static void copy_string_field(lua_State *L, int t, const char *k, char *dst,
                              size_t dstsz) {
  lua_getfield(L, t, k);
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n, i;
    const char *s = lua_tolstring(L, -1, &n);
    if (n >= dstsz) n = dstsz - 1;
    for (i = 0; i < n; i++) dst[i] = s[i] ? s[i] : '?';
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
  /* a number, or a string holding one: all of it (Lua 5.1 and LuaJIT would
   * read "300\u0000x" as 300, 5.2 on as no number) */
  if (lua_type(L, -1) == LUA_TNUMBER ||
      (lua_type(L, -1) == LUA_TSTRING &&
       strlen(lua_tostring(L, -1)) == lua_rawlen(L, -1)))
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
