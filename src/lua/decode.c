/* Response bodies to native tables, by the schema:
 *  - JSON null becomes nil,
 *  - array fields are always tables (empty when null or absent),
 *  - integer fields become Lua integers (5.3+), and so do whole numbers
 *    outside the schema below 2^53 in magnitude, -0 excepted,
 *  - every known field's JSON type is checked and a mismatch reported with
 *    its path, 1-based: "items[2].events[1].eventDate: expected string,
 *    got number"; an empty object or array has its own type: {} where an
 *    array is due fails, and so does [] where an object is,
 *  - unknown fields are kept (their nulls removed from objects),
 *  - a body is a page when it is an object with at least one of the page's
 *    fields (total, returned, first, items), whatever their values.
 *
 * A page is parsed by simdjson (core/json.h) when it can be: the builder
 * below reads its values in place and turns them into the final tables,
 * sized from the start. A body simdjson refuses, or that holds what it may
 * not be asked about (a \u escape of a surrogate, -0), is parsed again by
 * libyajl, whose parse events feed the same builder: so a page is the same
 * page whichever parser read it (spec/unit/decode_parsers_spec.lua and the
 * fuzz driver compare them), and every error is worded from the yajl
 * path. The builder is also the checker, so the first problem in the
 * body's order is the one reported. Where libyajl is laxer than JSON, or
 * JSON leaves a choice, the builder decides:
 *  - white space between tokens is space, tab, LF and CR: yajl also skips a
 *    vertical tab and a form feed, so the parse stops at the first of them
 *    and the body fails ("... not valid JSON: a vertical tab at character
 *    N", "... inside a string at character N" where a string holds it, as
 *    for every control character);
 *  - a \u escape of an unpaired UTF-16 surrogate (a lone one, or a high
 *    one followed by anything but a low one), which yajl would decode into
 *    '?' or another code point, fails with the path of its string: a
 *    string yajl hands over decoded (it had escapes) is checked on its raw
 *    text, so strings without escapes cost nothing;
 *  - bytes that are not UTF-8 inside strings are kept as sent
 *    (yajl_dont_validate_strings), as lua-cjson kept them before; a raw
 *    control character inside a string fails, as JSON says;
 *  - a NUL byte fails wherever it is ("a NUL byte at character N", "... a
 *    NUL byte inside a string at character N"); a "\u0000" escape is a
 *    NUL byte in the string, as sent;
 *  - only white space may follow the value: anything else fails, an
 *    unterminated string included (yajl lets that one pass);
 *  - numbers of any length are read: whole numbers of up to 15 digits
 *    directly, the others with strtod on a copy whose '.' is the locale's
 *    decimal point, so a body reads the same under every LC_NUMERIC;
 *  - nesting deeper than MAX_DEPTH arrays and objects fails.
 * Errors name a position as yajl gives it ("at character N", 1-based
 * bytes) and never echo the body: a control character is named, a server's
 * key in a path is made printable.
 *
 * The page is a plain table: the drivers give it the Page metatable
 * (paging.c). Token and error bodies are the core's (core/body.c). */
#include "soget.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/text.h"
#include "schema.h"

/* Lua 5.1 to 5.3 hash a string from at most 32 of its bytes, spread
 * over it: a server can send many strings that differ only in the others,
 * which all hash alike, and each new one is compared with all those
 * before it as Lua interns it. An 8 MB page of them took a minute and more
 * of CPU to decode. On those runtimes a call's decode looks at the clock
 * every TIME_TICK tape words or values (keys included; the members of a
 * known object the fast path reads together count as one) and ends at the
 * call's deadline. Lua 5.4 (seeded,
 * whole hashes of short strings, long ones not interned) and LuaJIT do
 * not need it. */
#if LUA_VERSION_NUM < 504 && !defined(LUA_LJDIR)
#define SOGET_WEAK_STRING_HASH 1
#endif
#define TIME_TICK 1024

#define MAX_DEPTH 200   /* nesting allowed */

/* The builder's inner loops, inlined where the compiler would make a call
 * of them (callgrind: a call per object cost what the loop saved). */
#if defined(__GNUC__) || defined(__clang__)
#define SOGET_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SOGET_ALWAYS_INLINE inline
#endif

/* ---- the schema, from the OpenAPI document's components --------------- */

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

typedef soget_schema schema;   /* schema.h */
typedef soget_field field;
#define FLD(n, t, s) {#n, (unsigned char)(sizeof #n - 1), K_##n, t, s}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define SCHEMA(name, fields) static const schema name = {fields, N(fields), 0}
/* A schema with array fields: `arrays` has their bits (soget_decode_open
 * checks them against the fields). */
#define SCHEMA_ARRAYS(name, fields, arrays) \
  static const schema name = {fields, N(fields), arrays}

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
SCHEMA_ARRAYS(Transport, transport_f, 1UL << 9);   /* meansId */

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
SCHEMA_ARRAYS(HandlingUnit, hu_f,   /* references, shipments, events, hazardousItems */
              1UL << 7 | 1UL << 12 | 1UL << 14 | 1UL << 15);

static const field page_f[] = {FLD(total, F_INT, NULL),
                               FLD(returned, F_INT, NULL),
                               FLD(first, F_INT, NULL),
                               FLD(items, F_ARRAY, &HandlingUnit)};
SCHEMA_ARRAYS(HandlingUnitItemsResponseModel, page_f, 1UL << 3);   /* items */

/* 1 when every schema under s has the bits of its array fields in
 * `arrays`, and no more fields than those bits can hold. */
static int arrays_match(const schema *s) {
  unsigned long bits = 0;
  int i;
  if (s->n > (int)(sizeof bits * CHAR_BIT)) return 0;
  for (i = 0; i < s->n; i++) {
    if (s->fields[i].type == F_ARRAY) bits |= 1UL << i;
    if (s->fields[i].sub && !arrays_match(s->fields[i].sub)) return 0;
  }
  return bits == s->arrays;
}

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

const soget_schema *soget_schema_named(const char *name) {
  if (strcmp(name, "page") == 0) return &HandlingUnitItemsResponseModel;
  if (strcmp(name, "unit") == 0) return &HandlingUnit;
  if (strcmp(name, "event") == 0) return &EventInformation;
  return NULL;
}

/* ---- the one-pass builder ---------------------------------------------- */

/* The page is built in one pass over yajl's parse events, directed by the
 * schema: known keys come from interned strings, objects are pre-sized,
 * nulls are never stored, missing array fields are added when their
 * object ends. The builder is also the checker: a callback that meets
 * what the schema or JSON does not allow fills the error and cancels the
 * parse, so the first problem in the body's order is the one reported. */

#define PATH_SIZE 256            /* bytes of a path in a message, at most */
#define PATH_SEGMENT 80          /* a segment's, at most: a key of 64 bytes */

/* Containers being built. */
enum {
  FR_ROOT,    /* below the body's value */
  FR_OBJ,     /* an object of schema s */
  FR_ARR,     /* an array of objects of schema s */
  FR_UOBJ,    /* an object outside the schema */
  FR_UARR     /* an array outside the schema */
};
/* What the next value may be, besides an F_* type: anything (outside the
 * schema). */
enum { W_ANY = 16 };

typedef struct frame {
  const schema *s;      /* FR_OBJ: its schema; FR_ARR: the items' */
  const schema *wsub;   /* want is F_OBJECT or F_ARRAY: that schema */
  unsigned long seen;   /* FR_OBJ: bits of the fields given so far */
  int t;                /* stack index of the table */
  int n;                /* arrays: elements so far, nulls included */
  int pending;          /* FR_OBJ: the field of the key just read, -1 unknown */
  int hint;             /* FR_OBJ: where to look for the next key */
  unsigned char kind;
  unsigned char want;
  unsigned char keynext;   /* the fast path, objects: a key comes next */
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
  soget_err *e;         /* the error, once failed */
  int failed;           /* a callback filled e and cancelled the parse */
  int fast;             /* the values come from simdjson, not yajl */
  int zero;             /* the body holds -0: 1, 0, or -1 not looked yet */
  int parser;           /* SOGET_PARSE_AUTO, _YAJL (no fast path), _SIMDJSON
                         * (no yajl path) */
  struct jsonbox *jb;   /* the state's simdjson parser, when this decode has it */
  soget_json *own;      /* a parser of its own, for a decode amid another */
  int keys;             /* index of key_names[0]'s string, key k's is
                         * keys + k: upvalues or stack slots (build_run) */
  int amt;              /* stack index of the metatable arrays carry (arrays.c) */
  int depth;            /* containers open */
  int done;             /* the body's value is complete */
  size_t end;           /* and ends there */
  char dp[8];           /* the locale's decimal point, once a number needs it */
  size_t dplen;         /* 0 until then */
  double deadline;      /* the call's (soget_now()), 0: none */
  double timeout;       /* the call's timeout, for the message */
  unsigned tick;        /* values until the clock is looked at again */
  int late;             /* the deadline passed: no other path is tried */
  int not_page;         /* simdjson read it whole: an object of no page field */
  int max_items;        /* the most units a page's items may hold; -1: any */
  size_t presize;       /* members the yajl path may still make room for ahead:
                         * a member takes 6 bytes of body at least (a
                         * schema's, 10 and more), so a page fills fewer than
                         * a member for 8 bytes; past that, an object grows
                         * as it is filled (a body of empty objects) */
  int limit_sent;       /* max_items is the query's limit, not the API's */
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

/* ---- errors, worded as the page's paths are ---------------------------- */

static void path_append(char *p, size_t sz, size_t *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Appends a segment whole, or, when it does not fit, "..." and nothing
 * more: a segment is never cut, for a key may be a secret the server
 * echoed, which the scrubber finds only whole (or cut at the message's
 * end). sz leaves room for the "...". */
static void path_append(char *p, size_t sz, size_t *n, const char *fmt, ...) {
  char seg[PATH_SEGMENT];
  va_list ap;
  int k;
  if (*n >= sz - 4) return;   /* full: "..." written */
  va_start(ap, fmt);
  k = vsnprintf(seg, sizeof seg, fmt, ap);
  va_end(ap);
  if (k < 0) return;
  if ((size_t)k < sizeof seg && *n + (size_t)k < sz - 4) {
    memcpy(p + *n, seg, (size_t)k + 1);
    *n += (size_t)k;
  } else {
    memcpy(p + *n, "...", 4);
    *n = sz - 4;
  }
}

/* The key at stack index i as a path segment: ".name" for a name made of
 * letters, digits and '_' (every schema field), else ["..."] as sent, up
 * to 64 bytes (an unknown key is the server's text: the message is
 * scrubbed, then made printable, after), else its length alone: a key is
 * never cut, which could leave part of a secret the scrubber would not
 * know; nor escaped (the same), so a key holding '"' or '\\', which could
 * close the quotes and write a path of its own, is its length alone too. */
static void path_key(builder *b, int i, char *p, size_t sz, size_t *n) {
  size_t k, j;
  const char *s = lua_tolstring(b->L, i, &k);
  int plain = s != NULL && k > 0 && k <= 64, whole = s != NULL && k <= 64;
  for (j = 0; whole && j < k; j++) {
    char c = s[j];
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_');
    whole = c != '\0' && c != '"' && c != '\\';   /* (a message is a C string) */
  }
  if (plain)
    path_append(p, sz, n, "%s%.*s", *n ? "." : "", (int)k, s);
  else if (whole)
    path_append(p, sz, n, "[\"%.*s\"]", (int)k, s);
  else
    path_append(p, sz, n, "[a key of %lu bytes]", (unsigned long)k);
}

/* The path of the container being built, 1-based as Lua counts
 * ("items[2].events"), and with `current` the path of the value being
 * read in it: its key sits at the top of the stack, its index is the
 * container's next. NULL for the body itself. */
static const char *path_of(builder *b, char *p, size_t sz, int current) {
  size_t n = 0;
  int i, last = b->depth + (current ? 1 : 0);
  p[0] = '\0';
  for (i = 1; i <= last; i++) {
    const frame *up = &b->fr[i - 1];
    switch (up->kind) {
      case FR_OBJ:
      case FR_UOBJ:
        path_key(b, i <= b->depth ? b->fr[i].t - 1 : lua_gettop(b->L), p, sz, &n);
        break;
      case FR_ARR:
      case FR_UARR:
        path_append(p, sz, &n, "[%ld]", (long)up->n + 1);
        break;
    }
  }
  return n ? p : NULL;
}

static const char *want_name(int want) {
  switch (want) {
    case F_STRING: return "string";
    case F_INT: return "integer";
    case F_NUMBER: return "number";
    case F_BOOL: return "boolean";
    case F_OBJECT: return "object";
    case F_ARRAY: return "array";
  }
  return "nothing";
}

/* A value of JSON type `got` where the schema wants another: returns 0,
 * which cancels the parse. */
static int type_error(builder *b, const char *got) {
  char path[PATH_SIZE];
  const char *where = path_of(b, path, sizeof path, 1);
  soget_err_set(b->e, "decode", 0, 0, "%s: expected %s, got %s", where ? where : "response",
                want_name(b->fr[b->depth].want), got);
  b->failed = 1;
  return 0;
}

/* A control character's name: the message names it, never holds it. */
static const char *control_name(unsigned char c, char *buf, size_t sz) {
  switch (c) {
    case '\0': return "a NUL byte";
    case '\t': return "a tab";
    case '\n': return "a line feed";
    case '\r': return "a carriage return";
    case '\v': return "a vertical tab";
    case '\f': return "a form feed";
  }
  snprintf(buf, sz, "a control character (0x%02x)", c);
  return buf;
}

/* The body is not JSON at byte `at` (0-based; b->len: its end). A control
 * character there is named instead of `reason`. */
static void json_error(builder *b, size_t at, const char *reason, int in_string) {
  char name[40];
  unsigned char c = at < b->len ? (unsigned char)b->body[at] : 'x';
  if (c < 0x20 || c == 0x7f) {
    reason = control_name(c, name, sizeof name);
  }
  soget_err_set(b->e, "decode", 0, 0, "response body is not valid JSON: %s%s at character %lu",
                reason, in_string && c < 0x20 ? " inside a string" : "",
                (unsigned long)at + 1);
  b->failed = 1;
}

/* After a yajl error (not a cancel): yajl's reason without its "lexical
 * error: " or "parse error: " and final ".\n", at yajl's position: a
 * lexical error stops at the offending byte ("invalid char" just past
 * it), a parse error just past the offending token (inside it for a
 * misplaced value in an object, where yajl backs up), so the byte before
 * is named, and an error at yajl_complete_parse is at the body's end. */
static void yajl_error(builder *b, int at_end) {
  unsigned char *m = yajl_get_error(b->h, 0, (const unsigned char *)b->body, b->len);
  const char *r = m ? (const char *)m : "parse error: invalid JSON";
  char reason[128];
  size_t k, at, o = yajl_get_bytes_consumed(b->h);
  int lexical = strncmp(r, "lexical error: ", 15) == 0;
  if (lexical) r += 15;
  else if (strncmp(r, "parse error: ", 13) == 0) r += 13;
  for (k = 0; r[k] && r[k] != '\n' && k < sizeof reason - 1; k++) reason[k] = r[k];
  while (k > 0 && reason[k - 1] == '.') k--;
  reason[k] = '\0';
  if (m) yajl_free_error(b->h, m);
  if (at_end) at = b->len;
  else if (lexical && strcmp(reason, "invalid char in json text") != 0) at = o;
  else at = o > 0 ? o - 1 : 0;
  if (at > b->len) at = b->len;
  json_error(b, at, reason, strstr(reason, "inside string") != NULL);
}

/* ---- \u escapes: unpaired UTF-16 surrogates ---------------------------- */

/* yajl hands a string over as the body's own bytes when it holds no
 * escape, and decoded into its buffer otherwise; it decodes a lone or
 * mismatched UTF-16 surrogate escape into '?' or another code point,
 * where JSON text must pair a high surrogate with a low one. So a string
 * that does not point into the body is checked on its raw text: its
 * closing quote ends the token yajl just read, its opening quote is the
 * first one before that is not escaped (an even run of backslashes before
 * it). Every escape is longer than what it decodes to, so the raw text is
 * longer than the n bytes yajl decoded: the look for the opening quote
 * starts n + 1 bytes before the closing one. (The body goes to yajl in one
 * yajl_parse call: a string is never split between two buffers, so one
 * without escapes always points into the body.) Returns 1 when it has no unpaired surrogate; else fills the error,
 * with the path of the value or, for a key, of its object. Called through
 * ESCAPES_OK, which tells the common case, no escape, inline. */
static int escapes_ok(builder *b, size_t n, int key) {
  const char *body = b->body, *p;
  size_t open, close;
  close = yajl_get_bytes_consumed(b->h) - 1;
  for (open = close > n + 1 ? close - n - 2 : 0; open > 0; open--) {
    if (body[open] == '"') {
      size_t k = 0;
      while (k < open && body[open - 1 - k] == '\\') k++;
      if (k % 2 == 0) break;
    }
  }
  p = soget_json_unpaired_surrogate(body + open + 1, close - open - 1);
  if (p != NULL) {
    char path[PATH_SIZE];
    const char *where = path_of(b, path, sizeof path, !key);
    soget_err_set(b->e, "decode", 0, 0, "%s%s not valid JSON: an unpaired UTF-16 surrogate "
                  "%.6s%s at character %lu", where ? where : "response body",
                  where ? ":" : " is", p, key ? " in a key" : "",
                  (unsigned long)(p - body) + 1);
    b->failed = 1;
    return 0;
  }
  return 1;
}

#define ESCAPES_OK(b, s, n, key) \
  ((b)->fast || (uintptr_t)(s) - (uintptr_t)(b)->body < (b)->len || escapes_ok(b, n, key))

/* a[0..n) == b[0..n), compared a word at a time: the words overlap
 * rather than read past either end. Field names are short, and this
 * runs once per key. */
static inline int same_bytes(const char *a, const char *b, size_t n) {
  if (n >= 8) {
    uint64_t x, y;
    size_t i;
    for (i = 0; i + 8 < n; i += 8) {
      memcpy(&x, a + i, 8);
      memcpy(&y, b + i, 8);
      if (x != y) return 0;
    }
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    uint32_t x, y, z, w;
    memcpy(&x, a, 4);
    memcpy(&y, b, 4);
    memcpy(&z, a + n - 4, 4);
    memcpy(&w, b + n - 4, 4);
    return x == y && z == w;
  }
  while (n > 0) {
    n--;
    if (a[n] != b[n]) return 0;
  }
  return 1;
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
    if (f->len == n && same_bytes(f->name, k, n)) {
      *hint = i + 1;
      return f;
    }
  }
  return NULL;
}

/* Stores the value at the top into the container f (for an object, the
 * key sits just below it). */
static SOGET_ALWAYS_INLINE int store(builder *b, frame *f) {
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
      b->end = b->fast ? b->len : yajl_get_bytes_consumed(b->h);
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
          lua_pushvalue(L, b->amt);
          lua_setmetatable(L, -2);
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
  return type_error(b, "null");          /* where an object is due */
}

static int cb_boolean(void *ctx, int v) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  if (f->want != F_BOOL && f->want != W_ANY) return type_error(b, "boolean");
  lua_pushboolean(b->L, v);
  return store(b, f);
}

/* Whether the call's deadline passed (looked at every TIME_TICK values):
 * then fills the error. */
static int past_deadline(builder *b) {
#ifdef SOGET_WEAK_STRING_HASH
  if (b->deadline <= 0 || --b->tick != 0) return 0;
  b->tick = TIME_TICK;
  if (soget_now() <= b->deadline) return 0;
  soget_err_set(b->e, "timeout", 0, 1, "timeout reached (%.15g s) before the call completed "
                "(decoding the response)", b->timeout);
  b->failed = 1;
  b->late = 1;
  return 1;
#else
  (void)b;
  return 0;
#endif
}

static int cb_string(void *ctx, const unsigned char *s, size_t n) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  if (past_deadline(b)) return 0;
  if (!ESCAPES_OK(b, s, n, 0)) return 0;
  if (f->want != F_STRING && f->want != W_ANY) return type_error(b, "string");
  lua_pushlstring(b->L, (const char *)s, n);
  return store(b, f);
}

/* 2^53: from there on a double no longer holds every whole number, and
 * 9007199254740993 reads as 9007199254740992. */
#define TWO_53 9007199254740992.0

/* The JSON number s (n bytes, as yajl checked it) as a double: strtod,
 * which reads the locale's decimal point, on a copy where the JSON '.'
 * is that decimal point (fetched once per decode), on the C stack or, for
 * a long number, in a Lua buffer (whose allocation can raise). Returns 0
 * when strtod does not read it all. */
static int read_double(builder *b, const char *s, size_t n, double *d) {
  char small[80], *buf = small, *end;
  const char *dot = memchr(s, '.', n);
  size_t at = dot ? (size_t)(dot - s) : n, dl = 0, need;
  int ok;
  if (dot) {
    if (b->dplen == 0) {
      const char *dp = localeconv()->decimal_point;
      size_t k = dp ? strlen(dp) : 0;
      if (k == 0 || k >= sizeof b->dp) {
        dp = ".";
        k = 1;
      }
      memcpy(b->dp, dp, k);
      b->dplen = k;
    }
    dl = b->dplen;
  }
  need = n + dl + 1;
  if (need > sizeof small) buf = (char *)lua_newuserdata(b->L, need);
  memcpy(buf, s, at);
  if (dot) {
    memcpy(buf + at, b->dp, dl);
    memcpy(buf + at + dl, s + at + 1, n - at - 1);
    buf[n - 1 + dl] = '\0';
  } else {
    buf[n] = '\0';
  }
  *d = strtod(buf, &end);
  ok = *end == '\0';
  if (buf != small) lua_pop(b->L, 1);
  return ok;
}

/* A whole number where the schema wants an integer, past the int32 range
 * the document gives every integer field: said so, not as a type error
 * (the JSON type is right). The number is shown when it is exact (below
 * 10^15; printed whole, no decimal point to follow the locale). Returns
 * 0, which cancels the parse. */
static int range_error(builder *b, double d) {
  char path[PATH_SIZE], num[24];
  const char *where = path_of(b, path, sizeof path, 1);
  if (fabs(d) < 1e15) snprintf(num, sizeof num, "%.0f", d);
  else snprintf(num, sizeof num, "a number");
  soget_err_set(b->e, "decode", 0, 0, "%s: %s is past the int32 range the document gives it",
                where ? where : "response", num);
  b->failed = 1;
  return 0;
}

/* Pushes the number d (`whole`: it has no fraction) as the container f
 * wants it and stores it: integer fields in int32 range become integers,
 * numbers outside the schema integers when exact (whole, below 2^53 in
 * magnitude, not -0; 5.3+), the rest floats. */
static int push_number(builder *b, frame *f, double d, int whole) {
  lua_State *L = b->L;
  switch (f->want) {
    case F_NUMBER:
      lua_pushnumber(L, d);
      break;
    case F_INT:
      if (!whole) return type_error(b, "number");
      if (d < -2147483648.0 || d > 2147483647.0) return range_error(b, d);
#if SOGET_HAS_INTEGERS
      lua_pushinteger(L, (lua_Integer)d);
#else
      lua_pushnumber(L, d == 0 ? 0.0 : d);   /* an integer has no -0 */
#endif
      break;
    default:
#if SOGET_HAS_INTEGERS
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

/* A number as yajl gives it, its text: read as the correctly rounded
 * double it denotes (up to 15 digits without a fraction directly). */
static int cb_number(void *ctx, const char *s, size_t n) {
  builder *b = (builder *)ctx;
  frame *f = &b->fr[b->depth];
  double d = 0;
  int whole = 1;
  size_t i = s[0] == '-';
  if (f->want != F_NUMBER && f->want != F_INT && f->want != W_ANY)
    return type_error(b, "number");
  if (n - i <= 15) {                     /* up to 15 digits: exact */
    unsigned long long m = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
      m = m * 10 + (unsigned)(s[i] - '0');
    d = (double)m;
    if (s[0] == '-') d = -d;
  }
  if (i < n) {                           /* a fraction, an exponent, or long */
    if (!read_double(b, s, n, &d)) {
      char path[PATH_SIZE];
      const char *where = path_of(b, path, sizeof path, 1);
      soget_err_set(b->e, "decode", 0, 0, "%s: a number strtod cannot read",
                    where ? where : "response");
      b->failed = 1;
      return 0;
    }
    whole = d == floor(d);
  }
  return push_number(b, f, d, whole);
}

/* Opens a container: pushes its table and its frame, or fills the error
 * past MAX_DEPTH. A level holds at most two stack slots (its table, and
 * in an object the key of the member being built) and the deepest level
 * a few more while it stores a value: the stack is grown for 16 levels at
 * a time. */
#define STACK_LEVELS 16
static int too_many_items(builder *b) {
  soget_err_set(b->e, "decode", 0, 0, "response: items holds more units than the %d %s",
                b->max_items, b->limit_sent ? "the request asked for (its limit)"
                                            : "of the API's largest page");
  b->failed = 1;
  return 0;
}

static SOGET_ALWAYS_INLINE int open_frame(builder *b, int kind, const schema *s, int want,
                                         const schema *wsub, int size) {
  lua_State *L = b->L;
  frame *c;
  /* The caller's Lua stack without room for 16 levels more: its own
   * recursion, not the body's fault; raised as Lua raises it */
  if (b->depth < MAX_DEPTH && b->depth % STACK_LEVELS == 0 &&
      !lua_checkstack(L, 2 * STACK_LEVELS + 8))
    luaL_error(L, "stack overflow (no room on the Lua stack to decode the page)");
  if (b->depth >= MAX_DEPTH) {
    /* (simdjson's tape holds no positions: with it alone, none is given) */
    if (b->fast)
      soget_err_set(b->e, "decode", 0, 0, "response body is nested too deep: more than %d "
                    "arrays and objects", MAX_DEPTH);
    else
      soget_err_set(b->e, "decode", 0, 0, "response body is nested too deep: more than %d "
                    "arrays and objects at character %lu", MAX_DEPTH,
                    (unsigned long)yajl_get_bytes_consumed(b->h));
    b->failed = 1;
    return 0;
  }
  /* A page's items (the page's only schema array) hold at most the units
   * asked for: a server's page of millions of small units (a few KB of
   * gzip) would otherwise be built in full, each with its array fields. The
   * tape gives the array's size; libyajl's units are counted as they open. */
  if (b->max_items >= 0 && b->depth <= 2 &&
      ((kind == FR_ARR && b->depth == 1 && size > b->max_items) ||
       (kind == FR_OBJ && b->depth == 2 && b->fr[2].kind == FR_ARR &&
        b->fr[2].n >= b->max_items)))
    return too_many_items(b);
  c = &b->fr[++b->depth];
  switch (kind) {                         /* size: members, -1 unknown */
    case FR_OBJ:
      /* (unknown on the yajl path: room for the schema's fields, while a
       * body of empty objects has not used up what a body can fill) */
      if (size < 0) {
        size = (size_t)s->n <= b->presize ? s->n : 0;
        b->presize -= (size_t)size;
      }
      lua_createtable(L, 0, size);
      break;
    case FR_UOBJ: lua_createtable(L, 0, size > 0 ? size : 0); break;
    default:
      lua_createtable(L, size > 0 ? size : 0, 0);
      lua_pushvalue(L, b->amt);
      lua_setmetatable(L, -2);
      break;
  }
  c->kind = (unsigned char)kind;
  c->want = (unsigned char)want;
  c->s = s;
  c->wsub = wsub;
  c->seen = 0;
  c->n = 0;
  c->pending = -1;
  c->hint = 0;
  c->keynext = 0;
  c->t = lua_gettop(L);
  return 1;
}

static SOGET_ALWAYS_INLINE int start_map(builder *b, int size) {
  frame *f = &b->fr[b->depth];
  switch (f->want) {
    case F_OBJECT: return open_frame(b, FR_OBJ, f->wsub, W_ANY, NULL, size);
    case W_ANY: return open_frame(b, FR_UOBJ, NULL, W_ANY, NULL, size);
  }
  return type_error(b, "object");
}

static SOGET_ALWAYS_INLINE int start_array(builder *b, int size) {
  frame *f = &b->fr[b->depth];
  switch (f->want) {
    case F_ARRAY: return open_frame(b, FR_ARR, f->wsub, F_OBJECT, f->wsub, size);
    case W_ANY: return open_frame(b, FR_UARR, NULL, W_ANY, NULL, size);
  }
  return type_error(b, "array");
}

static int cb_start_map(void *ctx) { return start_map((builder *)ctx, -1); }
static int cb_start_array(void *ctx) { return start_array((builder *)ctx, -1); }

/* Field i of f's schema, fd, is the key just read: its pre-made key
 * string pushed, what its value must be noted. */
static inline void take_field(builder *b, frame *f, const field *fd, int i) {
  lua_pushvalue(b->L, b->keys + fd->key);
  f->pending = i;
  f->want = fd->type;
  f->wsub = fd->sub;
}

/* A key of object f, escapes checked: pushed, and for a schema object its
 * field looked up from the hint on. The fast path calls it with the
 * frame at hand, where fast_members did not take the key (it is not the
 * field the hint names). */
static inline int map_key(builder *b, frame *f, const char *k, size_t n) {
  if (f->kind == FR_OBJ) {
    const field *fd = match_field(f->s, &f->hint, k, n);
    if (fd != NULL) {
      take_field(b, f, fd, f->hint - 1);
      return 1;
    }
    f->pending = -1;
    f->want = W_ANY;
  }
  lua_pushlstring(b->L, k, n);
  return 1;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t n) {
  builder *b = (builder *)ctx;
  if (past_deadline(b)) return 0;
  if (!ESCAPES_OK(b, k, n, 1)) return 0;
  return map_key(b, &b->fr[b->depth], (const char *)k, n);
}

/* Closes the container at the top: array fields the object did not give
 * become empty tables, then the table goes into its parent. */
static SOGET_ALWAYS_INLINE int close_frame(builder *b) {
  frame *f = &b->fr[b->depth];
  if (f->kind == FR_OBJ) {
    lua_State *L = b->L;
    unsigned long missing = f->s->arrays & ~f->seen;
    int i;
    for (i = 0; missing != 0; i++, missing >>= 1) {
      if (missing & 1) {
        lua_pushvalue(L, b->keys + f->s->fields[i].key);
        lua_newtable(L);
        lua_pushvalue(L, b->amt);
        lua_setmetatable(L, -2);
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

/* Whether byte `at` of body lies inside a string (the parse that stopped
 * there read the JSON before it: its quotes and escapes are sound). */
static int inside_string(const char *body, size_t at) {
  size_t i;
  int in = 0;
  for (i = 0; i < at; i++) {
    if (in && body[i] == '\\') i++;
    else if (body[i] == '"') in = !in;
  }
  return in;
}

/* After the value, only JSON white space. yajl lets an unterminated
 * string there pass unseen, and the parse stopped at a vertical tab or a
 * form feed. */
static int only_space_after(builder *b) {
  size_t i;
  for (i = b->end; i < b->len; i++) {
    char c = b->body[i];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      json_error(b, i, "trailing garbage", 0);
      return 0;
    }
  }
  return 1;
}

/* ---- the fast path: simdjson ------------------------------------------ */

/* Each Lua state keeps one simdjson parser (core/json.h), an upvalue of
 * the builder's closure (build_run, made once per state), with the
 * buffers of the largest body up to KEEP_BODY bytes it decoded (their
 * resident part is about twice the body; a larger body's are freed once
 * it is built). A decode that finds the parser in use (one run by a
 * finalizer during another decode) takes the yajl path.
 *
 * build_run's upvalues: the jsonbox, then the keys, key K__N - 1 first. */
#define UV_JSON 1
#define UV_KEY0 (1 + K__N)   /* key 0's; key k's is lua_upvalueindex(UV_KEY0) + k */
static const char build_key = 0;   /* registry: build_run's closure */
#define KEYS_ON_STACK 6144   /* body bytes from which build_run copies the keys */
#define KEEP_BODY (1024 * 1024)

typedef struct jsonbox {
  soget_json *j;        /* NULL until the first decode */
  int busy;
  int dead;             /* finalized: a decode from a later finalizer of a
                         * lua_close takes the yajl path, never makes a parser
                         * nothing would free */
} jsonbox;

static int jsonbox_gc(lua_State *L) {
  jsonbox *x = (jsonbox *)lua_touserdata(L, 1);
  if (x != NULL) {
    if (x->j != NULL) soget_json_free(x->j);
    x->j = NULL;
    x->dead = 1;
  }
  return 0;
}

/* A \u escape of a UTF-16 surrogate: the yajl path checks their pairing on
 * the raw text, so a body with one (or with what merely looks like one,
 * an escaped backslash before "ud800" say) takes it. */
static int has_surrogate_escape(const char *body, size_t len) {
  const char *p = body, *end = body + len;
  while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
    if (end - p >= 4 && p[1] == 'u' && (p[2] | 0x20) == 'd' &&
        ((p[3] >= '8' && p[3] <= '9') || ((p[3] | 0x20) >= 'a' && (p[3] | 0x20) <= 'f')))
      return 1;
    if (end - p < 2) break;
    p += 2;
  }
  return 0;
}

static int fast_number(builder *b, double d, int whole) {
  frame *f = &b->fr[b->depth];
  if (f->want != F_NUMBER && f->want != F_INT && f->want != W_ANY)
    return type_error(b, "number");
  return push_number(b, f, d, whole);
}

static int size_of(uint32_t n) { return n <= INT_MAX ? (int)n : -1; }

/* The members of a schema object from w on, while each is the field the
 * schema lists next with a scalar value that field takes: a string, a
 * boolean, an integer in an integer field, a null (stored as nothing).
 * These are most of a page's pairs; each is read as its two or three
 * tape words at once, the object's state kept in locals, where the walk
 * would go round once for the key and once for the value. Returns where
 * the walk goes on word by word: at the object's end or a key out of the
 * schema's order, that word; at the next field's key with any other
 * value (a container, a float, a value of the wrong type), past the key,
 * taken as map_key takes it, so that the walk builds or refuses the
 * value. */
static SOGET_ALWAYS_INLINE const uint64_t *fast_members(builder *b, frame *f,
                                                       const soget_json_it *it,
                                                       const uint64_t *w,
                                                       const uint64_t *const end) {
  lua_State *const L = b->L;
  const field *const fields = f->s->fields;
  const unsigned char *const strings = it->strings;
  const int nf = f->s->n, t = f->t, keys = b->keys;
  unsigned long seen = f->seen;
  int i = f->hint;
  for (; i < nf && end - w >= 2; i++) {
    const field *const fd = &fields[i];
    const uint64_t x = w[0], y = w[1];
    const char *k;
    uint32_t n;
    if (SOGET_JSON_TAG(x) != '"') break;
    k = soget_json_str_in(strings, x, &n);
    if (fd->len != n || !same_bytes(fd->name, k, n)) break;
    switch (SOGET_JSON_TAG(y)) {
      case '"':
        if (fd->type != F_STRING) goto key_only;
        lua_pushvalue(L, keys + fd->key);
        k = soget_json_str_in(strings, y, &n);
        lua_pushlstring(L, k, n);
        w += 2;
        break;
      case 't':
      case 'f':
        if (fd->type != F_BOOL) goto key_only;
        lua_pushvalue(L, keys + fd->key);
        lua_pushboolean(L, SOGET_JSON_TAG(y) == 't');
        w += 2;
        break;
      case 'l': {
        int64_t v;
        if (fd->type != F_INT || end - w < 3) goto key_only;
        memcpy(&v, &w[2], sizeof v);
        if (v < INT32_MIN || v > INT32_MAX) goto key_only;   /* the walk's error */
        lua_pushvalue(L, keys + fd->key);
#if SOGET_HAS_INTEGERS
        lua_pushinteger(L, (lua_Integer)v);
#else
        lua_pushnumber(L, (double)v);
#endif
        w += 3;
        break;
      }
      case 'n':   /* as cb_null: nothing to store unless the field is an array or repeated */
        if (fd->type == F_ARRAY || (seen >> i & 1)) goto key_only;
        seen |= 1UL << i;
        w += 2;
        continue;
      default:
        goto key_only;
    }
    lua_rawset(L, t);
    seen |= 1UL << i;
  }
  f->seen = seen;
  f->hint = i;
  return w;
key_only:   /* the key is field i's, its value is the walk's */
  take_field(b, f, &fields[i], i);
  f->keynext = 0;
  f->seen = seen;
  f->hint = i + 1;
  return w + 1;
}

/* The builder over simdjson's tape: 1 when the body's value is built. A
 * string is a key where its object's frame expects one (keynext). The
 * walk dispatches on the tape's words itself (json.h's layout) and keeps
 * the open container's frame at hand; a string value, the commonest, is
 * stored in place. Where a schema object's members come next (at its
 * start, after each of its values), fast_members takes those it can. */
static int walk_tape(builder *b, soget_json_it *it) {
  lua_State *L = b->L;
  const uint64_t *w = it->w, *const end = it->end;
  frame *f = &b->fr[b->depth];
  while (w < end) {
    const uint64_t x = *w++;
    if (past_deadline(b)) return 0;   /* (0 at once where the hash is strong) */
    if (SOGET_JSON_TAG(x) == '"') {            /* most words: keys, strings */
      uint32_t n;
      const char *s = soget_json_str(it, x, &n);
      if (f->keynext) {
        f->keynext = 0;
        map_key(b, f, s, n);   /* simdjson checked the escapes */
        continue;
      }
      if (f->want != F_STRING && f->want != W_ANY) return type_error(b, "string");
      lua_pushlstring(L, s, n);
      if (f->kind == FR_OBJ) {                 /* store(), inlined */
        if (f->pending >= 0) f->seen |= 1UL << f->pending;
        lua_rawset(L, f->t);
      } else if (!store(b, f)) {
        return 0;
      }
    } else {
      switch (SOGET_JSON_TAG(x)) {
        case '{':
          if (!start_map(b, size_of(soget_json_count(x)))) return 0;
          f = &b->fr[b->depth];                /* its members come next: below */
          break;
        case '[':
          if (!start_array(b, size_of(soget_json_count(x)))) return 0;
          f = &b->fr[b->depth];
          continue;
        case '}':
        case ']':
          if (!close_frame(b)) return 0;       /* stored in its parent */
          f = &b->fr[b->depth];
          break;
        case 'l': {
          int64_t i;
          if (!soget_json_number(&w, end, &i)) return 0;
          /* an integer field has no -0: only a 0 that may become a float
           * needs its sign, looked for in the body once a decode
           * (json.h); where it may be -0, the yajl path decides */
          if (i == 0 && f->want != F_INT) {
            if (b->zero < 0) b->zero = soget_json_minus_zero(b->body, b->len);
            if (b->zero) return 0;
          }
          if (!fast_number(b, (double)i, 1)) return 0;
          break;
        }
        case 'u': {
          uint64_t u;
          if (!soget_json_number(&w, end, &u) || !fast_number(b, (double)u, 1)) return 0;
          break;
        }
        case 'd': {
          double d;
          if (!soget_json_number(&w, end, &d) || !fast_number(b, d, d == floor(d))) return 0;
          break;
        }
        case 't':
          if (!cb_boolean(b, 1)) return 0;
          break;
        case 'f':
          if (!cb_boolean(b, 0)) return 0;
          break;
        case 'n':
          if (!cb_null(b)) return 0;
          break;
        default:
          return 0;                            /* a word soget does not know */
      }
    }
    if (f->kind == FR_OBJ) {                   /* a value ended, or an object began */
      f->keynext = 1;
      w = fast_members(b, f, it, w, end);      /* inlined here only */
    } else if (f->kind == FR_UOBJ) {
      f->keynext = 1;
    }
  }
  return b->done;
}

/* A body read whole whose object gives none of a page's fields. */
static int not_a_page(builder *b) {
  soget_err_set(b->e, "decode", 0, 0, "response body is not a page: none of "
                "total, returned, first, items");
  return 0;
}

/* The page through simdjson, at the top of the stack: 1; or 0, with the
 * stack as it may be, when the yajl path must decide (b->not_page: it need
 * not, the error is filled). */
static int build_fast(builder *b) {
  soget_json_it it;
  jsonbox *x = (jsonbox *)lua_touserdata(b->L, lua_upvalueindex(UV_JSON));
  soget_json *j;
  if (x->dead || b->parser == SOGET_PARSE_YAJL || has_surrogate_escape(b->body, b->len))
    return 0;
  if (!x->busy) {
    if (x->j == NULL && (x->j = soget_json_new()) == NULL) return 0;
    x->busy = 1;
    b->jb = x;
    j = x->j;
  } else {   /* a decode amid another (Lua code run by it: a finalizer's) */
    if ((b->own = soget_json_new()) == NULL) return 0;
    j = b->own;
  }
  if (soget_json_parse(j, b->body, b->len, &it) != SOGET_JSON_OK) return 0;
  b->fast = 1;
  if (!walk_tape(b, &it)) return 0;
  /* A page gives at least one of its fields (see build_run) */
  if (b->fr[1].seen == 0) {
    b->not_page = 1;
    return not_a_page(b);
  }
  return 1;
}

/* ---- the yajl path, and the two together -------------------------------- */

/* Under lua_pcall: [1] the builder. Builds the page through simdjson, or
 * when that fails (or may not be asked) through yajl, which reports every
 * problem; returns the page, or nothing with b->e filled. A Lua error
 * (memory) in a callback unwinds to the pcall; build_page frees what the
 * paths hold.
 *
 * build_run is a closure made once per state (soget_decode_open): its
 * first upvalue is the state's simdjson parser, the others the schema's
 * key names in reverse order, so that key k is at keys + k whether keys
 * is an upvalue index or a stack index. A small body's keys are pushed
 * from the upvalues; a larger body copies them to the stack first, where
 * each push costs less. Measured with callgrind on pages of 1 to 5 units
 * (Lua 5.4 and LuaJIT alike): copying the 82 keys costs about 3,000
 * instructions, a key pushed from an upvalue about 16 more than from the
 * stack, and the two meet near 2.5 units (6 KB). */
static int build_run(lua_State *L) {
  builder *b = (builder *)lua_touserdata(L, 1);
  size_t cut;
  int i, at_end = 0, base;
  yajl_status st;
  b->keys = lua_upvalueindex(UV_KEY0);
  if (b->len >= KEYS_ON_STACK) {
    luaL_checkstack(L, K__N + 8, "decode");
    for (i = 0; i < K__N; i++) lua_pushvalue(L, b->keys + i);
    b->keys = 2;
  }
  soget_push_array_mt(L);
  b->L = L;
  b->amt = lua_gettop(L);
  base = lua_gettop(L);
  memset(&b->fr[0], 0, sizeof b->fr[0]);
  b->fr[0].kind = FR_ROOT;
  b->fr[0].want = F_OBJECT;
  b->fr[0].wsub = &HandlingUnitItemsResponseModel;
  if (build_fast(b)) return 1;
  if (b->late || b->not_page) return 0;  /* the call's time is up, or no page */
  if (b->parser == SOGET_PARSE_SIMDJSON) {
    if (!b->failed)
      soget_err_set(b->e, "decode", 0, 0, "response body not decoded: simdjson refused it or "
                    "leaves it to libyajl");
    return 0;
  }
  /* The yajl path, from the start. */
  lua_settop(L, base);
  soget_err_clear(b->e);
  b->fast = 0;
  b->failed = 0;
  b->depth = 0;
  b->done = 0;
  b->presize = b->len / 8;
  b->fr[0].kind = FR_ROOT;
  b->fr[0].want = F_OBJECT;
  b->fr[0].wsub = &HandlingUnitItemsResponseModel;
  {
    yajl_alloc_funcs af;
    af.malloc = arena_malloc;
    af.realloc = arena_realloc;
    af.free = arena_free;
    af.ctx = &b->a;
    b->a.used = 0;
    b->h = yajl_alloc(&builder_callbacks, &af, b);
  }
  if (b->h == NULL) return soget_nomem(L);
  yajl_config(b->h, yajl_dont_validate_strings, 1);   /* bytes as sent */
  cut = soget_json_prefix(b->body, b->len);
  st = yajl_parse(b->h, (const unsigned char *)b->body, cut);
  if (st == yajl_status_ok && cut == b->len) {
    st = yajl_complete_parse(b->h);
    at_end = 1;
  }
  if (b->failed) return 0;
  if (st != yajl_status_ok) {
    if (b->done) only_space_after(b);    /* "trailing garbage" */
    else yajl_error(b, at_end);
    return 0;
  }
  if (!b->done) {                        /* the parse stopped at cut */
    json_error(b, cut, "", inside_string(b->body, cut));
    return 0;
  }
  if (!only_space_after(b)) return 0;
  /* A page gives at least one of its fields (whatever their values): the
   * bits of those the root object gave stay in its frame, fr[1]. The
   * document allows a page no other member: an object with none of them,
   * such as {}, an error body or a token answer, is not a page. */
  if (b->fr[1].seen == 0) return not_a_page(b);
  return 1;
}

/* Builds the page from body in one pass: pushes it and returns 1, or
 * fills e and returns 0 with the stack as it was. Raises out of memory,
 * the parsers' buffers freed or given back first. */
static int build_page(lua_State *L, const char *body, size_t len, soget_err *e,
                      int parser, double deadline, double timeout, int limit) {
  builder b;
  int status;
  b.max_items = limit;
  b.limit_sent = limit > 0;
  if (limit == 0) b.max_items = SOGET_PAGE_MAX;
  b.deadline = deadline;
  b.timeout = timeout;
  b.tick = TIME_TICK;
  b.late = 0;
  b.not_page = 0;
  b.body = body ? body : "";   /* an empty response's buffer may be none */
  b.len = len;
  b.e = e;
  b.failed = 0;
  b.fast = 0;
  b.zero = -1;
  b.parser = parser;
  b.jb = NULL;
  b.own = NULL;
  b.h = NULL;
  b.depth = 0;
  b.done = 0;
  b.dplen = 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &build_key);
  if (lua_type(L, -1) != LUA_TFUNCTION) luaL_error(L, "soget: the decoder is not open");
  lua_pushlightuserdata(L, &b);
  status = lua_pcall(L, 1, 1, 0);
  if (b.h != NULL) yajl_free(b.h);
  if (b.jb != NULL) {
    if (len > KEEP_BODY) soget_json_release(b.jb->j);
    b.jb->busy = 0;
  }
  if (b.own != NULL) soget_json_free(b.own);
  if (status != 0) lua_error(L);         /* out of memory: raised as before */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* ---- entry points ------------------------------------------------------ */

static lua_Integer int_field(lua_State *L, int t, const char *k, int *present) {
  lua_Integer v = 0;
  lua_getfield(L, t, k);
  *present = lua_type(L, -1) == LUA_TNUMBER;
  if (*present) v = (lua_Integer)lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static int decode_page(lua_State *L, const char *body, size_t len, long offset, int limit,
                       soget_err *e, int parser, double deadline, double timeout);

int soget_decode_page_until(lua_State *L, const char *body, size_t len, long offset,
                            int limit, soget_err *e, double deadline, double timeout) {
  return decode_page(L, body, len, offset, limit, e, SOGET_PARSE_AUTO, deadline, timeout);
}

/* (soget.decode: no query, no bound on the items) */
int soget_decode_page_by(lua_State *L, const char *body, size_t len, long offset,
                         soget_err *e, int parser) {
  return decode_page(L, body, len, offset, -1, e, parser, 0, 0);
}

static int decode_page(lua_State *L, const char *body, size_t len, long offset, int limit,
                       soget_err *e, int parser, double deadline, double timeout) {
  int t, has_total, has_returned, has_first;
  lua_Integer total, returned, first;
  if (!build_page(L, body, len, e, parser, deadline, timeout, limit)) return 0;
  t = lua_gettop(L);
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
    if (first + returned > 2147483647 || first + returned < -2147483647 - 1) {   /* (each is an int32) */
      lua_pop(L, 1);
      soget_err_set(e, "decode", 0, 0, "response: no total, and first + returned (%lld) is "
                    "past the int32 range of a total", (long long)(first + returned));
      return 0;
    }
    lua_pushinteger(L, first + returned);
    lua_setfield(L, t, "total");
    /* a guess for scripts; no end for the pager and exact walks, which
     * read on to the listing's first empty page (soget_page_total) */
    soget_private(L);
    lua_getfield(L, -1, SOGET_PRIV_NOTOTAL);
    lua_pushvalue(L, t);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 2);
  }
  (void)total;
  return 1;
}

/* Makes the builder's closure (build_run), once per state: the state's
 * simdjson parser and the schema's key names, which the builder pushes
 * instead of making each string again. Opened again in the same state,
 * the module keeps it (a decode may be running it). */
void soget_decode_open(lua_State *L) {
  jsonbox *x;
  int i;
  if (!arrays_match(&HandlingUnitItemsResponseModel))
    luaL_error(L, "soget: a schema's array bits do not match its fields");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &build_key);
  i = lua_type(L, -1);
  lua_pop(L, 1);
  if (i == LUA_TFUNCTION) return;
  luaL_checkstack(L, K__N + 3, "soget");
  x = (jsonbox *)lua_newuserdata(L, sizeof *x);     /* UV_JSON */
  x->j = NULL;
  x->busy = x->dead = 0;
  lua_newtable(L);
  lua_pushcfunction(L, jsonbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  for (i = K__N - 1; i >= 0; i--) lua_pushstring(L, key_names[i]);
  lua_pushcclosure(L, build_run, 1 + K__N);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &build_key);
}
