/* Monotonic time and sleeping, for deadlines, token expiry and waits. */
#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <errno.h>
#include <time.h>

double soget_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int soget_sleep(double seconds, const soget_stop *stop) {
  struct timespec ts;
  if (!(seconds > 0)) return 0;
  /* A signal that came before the sleep began would not interrupt it. */
  if (stop && stop->asked(stop->ud)) return 1;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    if (stop && stop->asked(stop->ud)) return 1;
  }
  return 0;
}
