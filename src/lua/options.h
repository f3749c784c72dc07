/* Options tables, read by one table-driven reader: soget.client's options,
 * page:iter's, handling_units_many's and the query of handling_units. A
 * reader is a list of option descriptors plus the wording of its
 * messages, so every table is checked by the same rules (keys are strings
 * among the descriptors' names, by length and bytes; values of the
 * descriptor's type and in its range) and each caller keeps its own
 * messages. */
#ifndef SOGET_OPTIONS_H
#define SOGET_OPTIONS_H

#include <stddef.h>
#include "compat.h"
#include "core/visibility.h"

SOGET_HIDDEN_BEGIN

/* soget_option.type */
/* A function, as a string, is left on the stack by soget_opt_read (its
 * value is not copied into soget_optval). */
enum { SOGET_OPT_STRING, SOGET_OPT_NUMBER, SOGET_OPT_BOOLEAN, SOGET_OPT_FUNCTION };
/* soget_option.check: what a string must not hold. */
enum {
  SOGET_OPT_CHECK_NONE,
  SOGET_OPT_CHECK_NUL,      /* a NUL byte */
  SOGET_OPT_CHECK_HEADER,   /* what cannot go into a header value */
  SOGET_OPT_CHECK_QUERY     /* what cannot go into a query value */
};

/* One option. A list of them ends with a NULL name. */
typedef struct soget_option {
  const char *name;
  int type;            /* SOGET_OPT_* */
  const char *env;     /* strings: read when the option is not given, or NULL */
  int secret;          /* a credential: never shown */
  int check;           /* strings: SOGET_OPT_CHECK_* */
  size_t max_chars;    /* strings: valid UTF-8 of at most this many
                        * characters (0: no such check) */
  int utf8;            /* strings: valid UTF-8, whatever the length (implied
                        * by max_chars) */
  size_t max_bytes;    /* strings: at most this many bytes (0: no such check) */
  double min, max;     /* numbers: the range accepted */
  int whole;           /* numbers: whole numbers only */
  const char *bad;     /* numbers: the one message for a value out of range
                        * or not whole ("must be ..."), or NULL for the
                        * reader's own two */
} soget_option;

/* A reader: its options and the wording of its messages. Formats take
 * the reader's `who` first. */
typedef struct soget_opt_reader {
  const soget_option *opts;
  const char *who;        /* "soget.client" */
  const char *label;      /* before an option's quoted name: "option " or "" */
  const char *unknown;    /* (who, key): a key that is not an option's name */
  const char *badkey;     /* (who, type name): a key that is not a string */
  const char *nottable;   /* (who, type name): not a table; NULL: a bad
                           * argument error (luaL_checktype) */
  int nil_ok;             /* nil or none: no options given */
  int raw;                /* values as lua_next sees them, checked in its pass */
  const char *range;      /* snprintf format of (min, max): "between %g and %g" */
  const char *fraction;   /* "must be an integer" */
  int whole_first;        /* numbers: wholeness checked before the range */
} soget_opt_reader;

/* The messages of a reader of an options table: an unknown option by its
 * name, a key that is not a string by its type. */
#define SOGET_OPT_MESSAGES                 \
  .unknown = "%s: unknown option '%s'",    \
  .badkey = "%s: option names must be strings, got %s"

/* One option's value as read. */
typedef struct soget_optval {
  int given;           /* in the table, or from its environment variable */
  int from_env;
  const char *s;       /* strings: anchored (see soget_opt_read) */
  size_t len;
  double n;
  int b;
} soget_optval;

/* Reads the options table at index t with r into v[] (one per option, in
 * r->opts's order), raising on an unknown or non-string key, a value of
 * the wrong type, out of range or holding what its check refuses. An
 * option not given is read from its environment variable, if any.
 *
 * A table is read raw, keys and values: its metatable is never consulted
 * (an __index gives no option, as lua_next shows it no key).
 *
 * Order: every key is checked first, then every value, in r->opts's
 * order. A raw reader checks each value as the pass over the keys meets
 * it (lua_next's order and values), in one pass.
 *
 * A string (or a function) from the table stays on the stack: any
 * allocation can run a finalizer, which could drop it from the table.
 * With `copy` (an index, or 0), every value given is set in the table
 * there instead (raw), which anchors the strings. Returns the number of values left on the stack
 * above what was there, for the caller to pop once done with them. */
int soget_opt_read(lua_State *L, int t, const soget_opt_reader *r, int copy,
                   soget_optval *v);

/* Checks the value at index i as option o of r (given, not from the
 * environment) and fills v. Raises as soget_opt_read does. Stack unchanged. */
void soget_opt_check(lua_State *L, const soget_opt_reader *r, const soget_option *o,
                     int i, soget_optval *v);

/* Raises "bad argument #k to 'f' (no such argument...)" for a value other
 * than nil past the first n arguments (self included): a function of
 * soget's takes no argument it would ignore, as an options table given
 * beside a query would be (c:handling_units("R", {exact = true}) was a
 * prefix lookup). hint, if given, follows "no such argument: ". */
void soget_check_nargs(lua_State *L, int n, const char *hint);

/* The hint for the functions that take a query: where its options go. */
#define SOGET_QUERY_ARGS_HINT "a query's options go in the query, as { reference = ..., exact = true }"
#define SOGET_SEARCH_ARGS_HINT \
  "a search's options go in the query, as { documentReference = ..., limit = 10 }"

SOGET_HIDDEN_END

#endif
