/* The libcurl multi back end (io.h): up to SOGET_IO_SLOTS exchanges at
 * once, each on an easy handle of the transport's pool, in one multi
 * handle (HTTP/2 streams over one connection when the server offers it,
 * else several connections), with TLS sessions and DNS shared.
 *
 * The pool belongs to the transport (soget_transport_attach): it outlives
 * a batch, so later batches reuse its connections, and freeing the
 * transport frees it. */
#include "transport.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct pool {
  CURLM *multi;
  CURLSH *share;
  int n;                                 /* easy handles made */
  soget_xfer *x[SOGET_IO_SLOTS];
  unsigned char in_multi[SOGET_IO_SLOTS];
  unsigned char ended[SOGET_IO_SLOTS];   /* out of the multi, not finished */
  int result[SOGET_IO_SLOTS];            /* its CURLcode */
} pool;

/* Takes handle i out of the multi and wipes a request it still holds. */
static void pool_detach(pool *p, int i) {
  if (p->in_multi[i]) {
    curl_multi_remove_handle(p->multi, soget_xfer_handle(p->x[i]));
    p->in_multi[i] = 0;
  }
  p->ended[i] = 0;
  soget_xfer_abort(p->x[i]);
}

static void pool_release(void *ud) {
  pool *p = ud;
  int i;
  if (!p) return;
  for (i = 0; i < p->n; i++) {
    pool_detach(p, i);
    soget_xfer_free(p->x[i]);   /* before the share and the multi they use */
  }
  if (p->multi) curl_multi_cleanup(p->multi);
  if (p->share) curl_share_cleanup(p->share);
  free(p);
}

static int multi_reserve(void *self, int n) {
  soget_transport *t = self;
  pool *p = soget_transport_attached(t);
  int i;
  if (n > SOGET_IO_SLOTS) return -1;
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->multi = curl_multi_init();
    p->share = curl_share_init();
    if (!p->multi || !p->share ||
        curl_multi_setopt(p->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX) != CURLM_OK ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
      pool_release(p);
      return -1;
    }
    soget_transport_attach(t, p, pool_release);
  }
  while (p->n < n) {
    soget_xfer *x = soget_xfer_new(t);
    CURL *easy;
    CURLcode rc = CURLE_OK;
    if (!x) return -1;
    easy = soget_xfer_handle(x);
    rc |= curl_easy_setopt(easy, CURLOPT_SHARE, p->share);
    rc |= curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (rc != CURLE_OK) {
      soget_xfer_free(x);
      return -1;
    }
    p->x[p->n++] = x;
  }
  /* Keep as many idle connections as the widest batch used. */
  curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)p->n);
  for (i = 0; i < p->n; i++) pool_detach(p, i);
  return 0;
}

static pool *pool_of(void *self) {
  return soget_transport_attached(self);
}

static int multi_start(void *self, int slot, const soget_http_request *rq, soget_err *e) {
  pool *p = pool_of(self);
  CURLMcode mc;
  if (soget_xfer_prepare(p->x[slot], rq, e) != 0) return -1;
  /* Over https, a transfer waits for a connection being made to learn
   * whether it multiplexes (HTTP/2) rather than open its own. Over plain
   * HTTP it never does (HTTP/1.1): waiting only ran the batch one transfer
   * after another, past their deadlines. */
  soget_xfer_pipewait(p->x[slot], strncmp(rq->url, "https://", 8) == 0);
  mc = curl_multi_add_handle(p->multi, soget_xfer_handle(p->x[slot]));
  if (mc == CURLM_OK) {
    p->in_multi[slot] = 1;
    p->ended[slot] = 0;
    return 0;
  }
  soget_xfer_abort(p->x[slot]);
  if (mc == CURLM_OUT_OF_MEMORY)
    soget_err_nomem(e, "starting the request");
  else
    soget_err_set(e, "network", 0, 0, "cannot start the request: %s",
                  curl_multi_strerror(mc));
  return -1;
}

/* Moves the transfers libcurl says are done out of the multi. */
static void collect(pool *p) {
  CURLMsg *m;
  int left, i;
  while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    for (i = 0; i < p->n; i++)
      if (p->in_multi[i] && soget_xfer_handle(p->x[i]) == (void *)m->easy_handle) break;
    curl_multi_remove_handle(p->multi, m->easy_handle);
    if (i == p->n) continue;   /* not ours: never happens */
    p->in_multi[i] = 0;
    p->ended[i] = 1;
    p->result[i] = (int)m->data.result;
  }
}

static int first_ended(pool *p, int *slot) {
  int i;
  for (i = 0; i < p->n; i++)
    if (p->ended[i]) {
      *slot = i;
      return 1;
    }
  return 0;
}

static int multi_poll(void *self, long ms, int *slot, soget_err *e) {
  pool *p = pool_of(self);
  int running;
  CURLMcode mc;
  if (first_ended(p, slot)) return 1;
  mc = curl_multi_perform(p->multi, &running);
  if (mc == CURLM_OK) {
    collect(p);
    if (first_ended(p, slot)) return 1;
    mc = curl_multi_poll(p->multi, NULL, 0, (int)(ms < 0 ? 0 : ms), NULL);
  }
  if (mc == CURLM_OK) mc = curl_multi_perform(p->multi, &running);
  if (mc != CURLM_OK) {
    soget_err_set(e, "network", 0, 0, "libcurl: %s", curl_multi_strerror(mc));
    return -1;
  }
  collect(p);
  return first_ended(p, slot);
}

static int multi_finish(void *self, int slot, soget_http_response *rs, soget_err *e) {
  pool *p = pool_of(self);
  p->ended[slot] = 0;
  return soget_xfer_finish(p->x[slot], p->result[slot], rs, e);
}

static void multi_abort(void *self, int slot) {
  pool *p = pool_of(self);
  if (p && slot < p->n) pool_detach(p, slot);
}

static const soget_io_ops multi_ops = {.name = "libcurl multi",
                                       .reserve = multi_reserve,
                                       .start = multi_start,
                                       .poll = multi_poll,
                                       .finish = multi_finish,
                                       .abort = multi_abort};

soget_io soget_curl_multi(soget_transport *t) {
  soget_io io;
  io.ops = &multi_ops;
  io.self = t;
  return io;
}

int soget_transport_max_parallel(void) {
  struct rlimit r;
  /* (room for the wake-up pair, the connections and what else is open) */
  const rlim_t margin = 16;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return INT_MAX;
  if (r.rlim_cur <= margin + 1) return 1;
  return r.rlim_cur - margin > (rlim_t)INT_MAX ? INT_MAX : (int)(r.rlim_cur - margin);
}
