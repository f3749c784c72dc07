/* Monotonic time. Knows nothing about Lua. */
#ifndef SOGET_CLOCK_H
#define SOGET_CLOCK_H

#include "visibility.h"

SOGET_HIDDEN_BEGIN

double soget_now(void);            /* monotonic seconds */
void soget_sleep(double seconds);

SOGET_HIDDEN_END

#endif
