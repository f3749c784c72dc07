/* ISO 6346 container identification numbers. Knows nothing about Lua. */
#ifndef SOGET_ISO6346_H
#define SOGET_ISO6346_H

#include <stddef.h>
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* NULL when s is a valid container number (owner code, category
 * identifier U/J/Z, six-digit serial, check digit: 11 ASCII characters),
 * else the reason (a constant, or text formatted into buf). Its length is
 * counted in characters (UTF-8, a byte that is not UTF-8 as one): an
 * 11-character s with a character other than ASCII gets the reason of the
 * position it is at. */
const char *soget_iso6346_problem(const char *s, size_t len, char *buf,
                                  size_t bufsz);

/* The check digit (0..9) of the first ten characters, or -1. */
int soget_iso6346_check_digit(const char *s);

SOGET_HIDDEN_END

#endif
