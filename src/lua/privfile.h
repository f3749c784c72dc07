/* Private files for the soget command (bin/soget): its token cache and its
 * profile file. See privfile.c. */
#ifndef SOGET_PRIVFILE_H
#define SOGET_PRIVFILE_H

#include "compat.h"
#include "core/visibility.h"

SOGET_HIDDEN_BEGIN

/* Pushes the table the module exposes as soget._privfile (+1). */
void soget_privfile_push(lua_State *L);

SOGET_HIDDEN_END

#endif
