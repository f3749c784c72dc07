/* Monotonic time. Knows nothing about Lua. */
#ifndef SOGET_CLOCK_H
#define SOGET_CLOCK_H

#include "visibility.h"

SOGET_HIDDEN_BEGIN

double soget_now(void);            /* monotonic seconds */

/* What a driver can be asked to stop for while it waits (Ctrl-C in the
 * standalone interpreter: src/lua/client.c): asked(ud) is nonzero when
 * the wait should end now. Looked at when a signal interrupts a sleep,
 * and by the transport while a request is out (io/transport.h). */
typedef struct soget_stop {
  int (*asked)(void *ud);
  void *ud;
} soget_stop;

/* Sleeps `seconds`: 0, or 1 when stop (NULL: none) asked to end early
 * (looked at first, and whenever a signal interrupts the sleep). */
int soget_sleep(double seconds, const soget_stop *stop);

SOGET_HIDDEN_END

#endif
