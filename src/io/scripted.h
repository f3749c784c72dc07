/* The scripted back end (io.h): answers requests from a list, in memory,
 * and records every request it was given, byte for byte. For the C tests
 * of the core (spec/core/): no socket, no libcurl, no Lua. */
#ifndef SOGET_SCRIPTED_H
#define SOGET_SCRIPTED_H

#include "io.h"

SOGET_HIDDEN_BEGIN

/* One answer, used by the next request started or performed. */
typedef struct soget_script_step {
  long status;              /* 0: no response: the exchange fails with fail_* */
  const char *body;         /* NULL: empty */
  const char *retry_after;  /* the header's value, NULL: absent */
  const char *location;     /* the header's value, NULL: absent */
  const char *www_authenticate;   /* the header's value, NULL: absent */
  const char *fail_kind;    /* status 0: "network", "timeout", "tls" or "http" */
  const char *fail_msg;
  int fail_retryable;
} soget_script_step;

typedef struct soget_scripted soget_scripted;

/* The steps are used in order, by reference (they must outlive it). NULL
 * out of memory. Once they are used up, a request fails with kind
 * "network": "the script has no more answers". */
soget_scripted *soget_scripted_new(const soget_script_step *steps, int n);
void soget_scripted_free(soget_scripted *s);   /* wipes what it recorded */
soget_io soget_scripted_io(soget_scripted *s);
/* Requests given so far, and request i (0-based) as
 * "METHOD url\n" + one "Name: value\n" per header + "\n" + body. */
int soget_scripted_count(const soget_scripted *s);
const char *soget_scripted_request(const soget_scripted *s, int i);

SOGET_HIDDEN_END

#endif
