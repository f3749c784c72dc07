/* Error values, filled by the core and the back ends and turned into
 * soget.Error tables by the binding (src/lua/errors.c). */
#ifndef SOGET_ERROR_H
#define SOGET_ERROR_H

#include "visibility.h"

SOGET_HIDDEN_BEGIN

typedef struct soget_err {
  const char *kind;   /* "network", "timeout", "tls", "auth", "http", "api", "decode",
                       * "interrupted" (a driver asked to stop: soget_call_stop) */
  long status;        /* HTTP status, 0 when none */
  char code[16];      /* API business code (R001...), "" when none */
  char message[512];
  int retryable;
  double retry_after; /* a retryable status's Retry-After, seconds (capped at a
                       * day), when its retries ran out: -1 when none */
  int nomem;          /* out of memory: no kind, the driver raises (soget_nomem) */
  int cut;            /* message was cut at its size: it may end in the start
                       * of a secret, which the scrubber then looks for */
} soget_err;

void soget_err_clear(soget_err *e);
/* Out of memory while `what`: the Lua-free parts cannot raise, so they
 * fill e so (kind NULL, nomem set) and the Lua-facing caller raises Lua's
 * own memory error once it has freed what the call holds. */
void soget_err_nomem(soget_err *e, const char *what);
void soget_err_set(soget_err *e, const char *kind, long status, int retryable,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* A driver asked to stop ended the call (core/call.h: soget_call_stop;
 * a back end's exchange ended so: io/transport.h). Never retryable. */
#define SOGET_KIND_INTERRUPTED "interrupted"
void soget_err_interrupted(soget_err *e);

/* Secrets shorter than this are not looked for in messages: they would
 * match ordinary text, and a secret that short is no secret. */
#define SOGET_SECRET_MIN 4

/* Replaces with "***" every occurrence in e of the given secrets, in every
 * form soget sends them and the forms a server re-encodes them in: as they
 * are (API key and token headers), percent-encoded (the token request's
 * form body, a URL; any byte as %XX, its hex digits in either case), and
 * form-encoded with '+' for a space. A message cut in the middle of one
 * (e->cut, or a code filling its buffer) loses that start (4 bytes or
 * more), as does a start that "..." follows (a path cut between its
 * segments); an uncut one keeps its last word even when a secret starts
 * so. Needs no memory. */
void soget_err_scrub(soget_err *e, const char *const *secrets, int n);

/* Makes message and code printable in place (see soget_printable), cut to
 * their buffers at a character boundary. Scrub before and after: escaping
 * can make bytes that were no secret read as one ("\xff" + "z-key"). */
void soget_err_printable(soget_err *e);

SOGET_HIDDEN_END

#endif
