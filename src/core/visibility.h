/* Symbol visibility. soget's shared object exports luaopen_soget and
 * nothing else, whatever flags it is built with (the Makefile's
 * -fvisibility=hidden, LuaRocks' own, a host's): every header puts its
 * declarations between SOGET_HIDDEN_BEGIN and SOGET_HIDDEN_END, and a
 * function declared hidden stays hidden where it is defined (with
 * -Wmissing-prototypes every external function has such a declaration).
 * System and Lua headers stay outside the two marks: their functions
 * live in other objects, and a hidden declaration of one would not link. */
#ifndef SOGET_VISIBILITY_H
#define SOGET_VISIBILITY_H

#if defined(__GNUC__) && __GNUC__ >= 4 && !defined(_WIN32) && !defined(__CYGWIN__)
#define SOGET_HIDDEN_BEGIN _Pragma("GCC visibility push(hidden)")
#define SOGET_HIDDEN_END _Pragma("GCC visibility pop")
#define SOGET_EXPORT __attribute__((visibility("default")))
#else
#define SOGET_HIDDEN_BEGIN
#define SOGET_HIDDEN_END
#define SOGET_EXPORT
#endif

#endif
