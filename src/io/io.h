/* The transport seam: the one way drivers move a call's bytes. A back end
 * is an ops table and its state; a driver runs the core's call steps
 * (core/call.h) and hands each SOGET_STEP_SEND request to a back end:
 *
 *   perform                      one exchange, blocking (the blocking
 *                                client; libcurl easy: curl_easy.c)
 *   reserve, start, poll,        up to n exchanges at once, each in a
 *   finish, abort                slot (bulk lookups; libcurl multi:
 *                                curl_multi.c)
 *
 * The scripted back end (scripted.c) answers from a list, in memory, for
 * the C tests of the core. Back ends know nothing about Lua. An entry a
 * back end does not offer is NULL. */
#ifndef SOGET_IO_H
#define SOGET_IO_H

#include "core/error.h"
#include "core/http.h"
#include "core/visibility.h"

SOGET_HIDDEN_BEGIN

#define SOGET_IO_SLOTS 64   /* the most exchanges a back end runs at once */

typedef struct soget_io_ops {
  const char *name;
  /* 0: an HTTP response arrived (any status), in rs until the back end's
   * next use. -1: no usable response; e says why (kind "network",
   * "timeout", "tls", or "http" for a size limit; e->nomem when soget's
   * own memory ran out). */
  int (*perform)(void *self, const soget_http_request *rq, soget_http_response *rs,
                 soget_err *e);
  /* Makes slots 0..n-1 usable, all idle. 0, or -1 out of memory. */
  int (*reserve)(void *self, int n);
  /* Starts rq in an idle slot (the header lines are copied). 0, or -1
   * with e (nothing started). */
  int (*start)(void *self, int slot, const soget_http_request *rq, soget_err *e);
  /* Waits at most ms milliseconds for a started exchange to end: 1 with
   * *slot (finish it next), 0 when none ended, -1 when the back end itself
   * failed (e): every started slot is then over; abort them. */
  int (*poll)(void *self, long ms, int *slot, soget_err *e);
  /* The ended exchange of slot, as perform answers; the slot is idle
   * again and rs valid until it starts again. */
  int (*finish)(void *self, int slot, soget_http_response *rs, soget_err *e);
  /* Ends slot's exchange if one is started (the handle lets go of its
   * POST body, which the call wipes); the slot is idle. After finish, once
   * rs is used: the slot lets go of the response's body (a large buffer
   * is freed, not kept while the slot idles). */
  void (*abort)(void *self, int slot);
} soget_io_ops;

typedef struct soget_io {
  const soget_io_ops *ops;
  void *self;
} soget_io;

SOGET_HIDDEN_END

#endif
