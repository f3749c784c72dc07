/* The libcurl back ends' shared part: a transport is one client's libcurl
 * settings, its easy handle (the blocking back end, curl_easy.c) and the
 * pool of handles of the multi back end (curl_multi.c). Drivers see them
 * through io.h only. Knows nothing about Lua. */
#ifndef SOGET_TRANSPORT_H
#define SOGET_TRANSPORT_H

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/http.h"
#include "core/version.h"
#include "core/visibility.h"
#include "io.h"

SOGET_HIDDEN_BEGIN

typedef struct soget_transport soget_transport;

typedef struct soget_transport_opts {
  int verify_tls;
  const char *ca_file;         /* NULL: the system store */
  const char *user_agent;      /* NULL: "soget/X.Y.Z libcurl/X.Y.Z" */
  size_t max_body;             /* response size cap, bytes */
  int gzip;                    /* ask for compressed responses */
  const char *proxy;           /* every URL's proxy, "" none; NULL: the environment's */
  const char *no_proxy;        /* hosts that go direct, "" none; NULL: the environment's */
} soget_transport_opts;

/* NULL on no memory. */
soget_transport *soget_transport_new(const soget_transport_opts *o);
/* The transport's two back ends (io.h): its easy handle, blocking
 * (perform), and its pool of easy handles in a multi handle (reserve,
 * start, poll, finish, abort), made at the first reserve and kept until
 * the transport is freed, so later batches reuse its connections. */
soget_io soget_curl_easy(soget_transport *t);
soget_io soget_curl_multi(soget_transport *t);
void soget_transport_free(soget_transport *t);
int soget_transport_set_ca(soget_transport *t, int verify, const char *ca_file);
/* The secrets of the transport's proxies (their users and passwords, in
 * every form they are sent), NUL-separated: for the client to scrub from
 * its errors (soget_engine_mask). */
const soget_buf *soget_transport_masked(const soget_transport *t);
/* Why the transport's proxy settings cannot be used, naming where they
 * came from (the option, or an environment variable) and never their
 * value; NULL when they can. */
const char *soget_transport_problem(const soget_transport *t);

/* 0: an HTTP response arrived (any status). -1: no usable response; e says
 * why, with kind "network", "timeout" or "tls", "http" for a size limit,
 * or e->nomem when soget's own memory ran out (building the request,
 * growing the body buffer). libcurl's CURLE_OUT_OF_MEMORY stays a
 * transport error: libcurl also reports some of its header size limits so,
 * which a server controls. */
int soget_transport_perform(soget_transport *t, const soget_http_request *rq,
                            soget_http_response *rs, soget_err *e);
/* Once perform's rs->body is used: lets go of it as a batch's handle does
 * (a token response's body wiped, a buffer grown past 1 MiB freed), so
 * that an idle client holds neither. */
void soget_transport_done(soget_transport *t);

/* The same exchange in two halves, for the multi back end (curl_multi.c). A soget_xfer is one easy handle with the
 * transport's settings (TLS, user agent, size cap, connection counter) and
 * its own body buffer; soget_xfer_handle gives its CURL * (whose
 * CURLOPT_PRIVATE is the soget_xfer). */
typedef struct soget_xfer soget_xfer;

soget_xfer *soget_xfer_new(soget_transport *t);   /* NULL on no memory */
void soget_xfer_free(soget_xfer *x);               /* not while in a multi */
void *soget_xfer_handle(soget_xfer *x);
/* Sets rq on the handle (the header lines are copied). 0, or -1 with e. */
int soget_xfer_prepare(soget_xfer *x, const soget_http_request *rq, soget_err *e);
/* After prepare: whether the transfer waits for a connection being made
 * to learn whether it multiplexes (CURLOPT_PIPEWAIT) rather than open its
 * own. */
void soget_xfer_pipewait(soget_xfer *x, int on);
/* After the transfer ended with CURLcode `result`: lets go of the POST
 * body (the call's, which wipes it), then fills rs (0) or e (-1) as
 * soget_transport_perform does. rs->body stays valid until the next
 * prepare (a token response's body is wiped then). The header lines stay
 * on the handle for the next request (curl_easy.c: wiped when replaced or
 * when the handle is freed). */
int soget_xfer_finish(soget_xfer *x, int result, soget_http_response *rs, soget_err *e);
/* Lets go of the POST body of a prepared request that will not finish,
 * or of the response body once used after finish (the header lines stay,
 * as after finish). */
void soget_xfer_abort(soget_xfer *x);

/* While stop (NULL: none; the caller's, alive until it is replaced) asks
 * for it (core/clock.h), each exchange of either back end ends at once,
 * with kind "interrupted" (soget_err_interrupted): libcurl asks at each
 * step of a transfer, and when a signal wakes its wait. */
void soget_transport_set_stop(soget_transport *t, const soget_stop *stop);

/* Something the transport owns on a driver's behalf (the bulk driver's
 * multi handle and easy handles): `release(p)` runs when the transport is
 * freed, before its own handle. */
void soget_transport_attach(soget_transport *t, void *p, void (*release)(void *));
void *soget_transport_attached(const soget_transport *t);

/* The process's libcurl, set up once for every Lua state and thread that
 * loads soget (pthread_once: states loading it in threads at the same time
 * make one curl_global_init): curl_global_init, then the facts below, read
 * once. 0, or -1 when libcurl could not be set up (for good: it is not
 * tried again). */
int soget_curl_global_init(void);
/* Marks the object holding soget's code never to be unloaded (pin.c);
 * called once, by soget_curl_global_init. */
void soget_pin_module(void);
/* After soget_curl_global_init: "soget/X.Y.Z libcurl/X.Y.Z", and the
 * version of the libcurl the module runs with ("7.88.1"); constant. */
const char *soget_default_user_agent(void);
const char *soget_libcurl_version(void);

/* Counters for tests and stats: connections libcurl opened. */
long soget_transport_connections(const soget_transport *t);
/* How many transfers a batch may run at once in this process: libcurl
 * polls one entry per transfer (a batch's on one HTTP/2 connection too),
 * and poll() refuses more entries than the process may open files
 * (RLIMIT_NOFILE): under `ulimit -n 20`, a batch of 64 failed 63 lookups
 * as "Unrecoverable error in select/poll". At least 1. */
int soget_transport_max_parallel(void);

SOGET_HIDDEN_END

#endif
