/* ISO 8601 date-times as the API sends them (eventDate, eta, ...), read
 * into seconds since the epoch so that times recorded in different zones
 * can be ordered. Knows nothing about Lua. */
#ifndef SOGET_ISOTIME_H
#define SOGET_ISOTIME_H

#include <stddef.h>
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* Reads s (len bytes, whole):
 *   YYYY-MM-DD                          midnight UTC
 *   YYYY-MM-DD[T|t| ]hh:mm[:ss[(.|,)f+]][Z|z|(+|-)hh[:]mm|(+|-)hh]
 * A time without an offset counts as UTC. Every field must be in range
 * (months 1-12, days of that month, leap years included, hours 0-23,
 * minutes 0-59, seconds 0-59, and 60 for a leap second: at 23:59 UTC
 * only, the offset applied; offsets up to 23:59). Returns 0 with the
 * seconds since 1970-01-01T00:00:00Z in *t (fractions kept), or -1 when s
 * is not such a date-time. */
int soget_isotime_parse(const char *s, size_t len, double *t);
/* The same instant exactly: whole seconds in *sec, and the fraction in
 * nanoseconds in *ns (0 to 999999999; digits past the ninth dropped), so
 * that instants a double cannot tell apart (under about 240 ns, today)
 * compare as sent. A leap second is counted in the second before it, its
 * *ns from 1000000000: it orders after that second and before the next
 * day. */
int soget_isotime_parse_ns(const char *s, size_t len, long long *sec, long *ns);

SOGET_HIDDEN_END

#endif
