/* HTTP over libcurl: one easy handle per client, reused for keep-alive and
 * TLS session reuse (the blocking back end); more handles with the same
 * settings for the multi back end (curl_multi.c). Callbacks never call into Lua
 * and never raise; when memory runs out or the body passes its cap they
 * return 0 and curl fails cleanly, and the error says which. */
#include "transport.h"
#include "core/auth.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One exchange's easy handle and what its callbacks fill. */
struct soget_xfer {
  CURL *easy;
  struct curl_slist *hdrs;     /* set on the handle between prepare and finish */
  int post;
  soget_buf body;
  int too_large;
  int nomem;                   /* the body buffer could not grow */
  double retry_after;
  char errbuf[CURL_ERROR_SIZE];
};

struct soget_transport {
  soget_xfer x;                /* the blocking path's handle */
  long connections;
  void *attached;              /* see soget_transport_attach */
  void (*release)(void *);
};

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  soget_xfer *t = ud;
  size_t len = size * n;
  if (soget_buf_add(&t->body, p, len) != 0) {
    if (t->body.limit && t->body.len + len > t->body.limit) t->too_large = 1;
    else t->nomem = 1;
    return 0;
  }
  return len;
}

static void trim(const char **s, size_t *n) {
  while (*n && (**s == ' ' || **s == '\t')) { (*s)++; (*n)--; }
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
                (*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))
    (*n)--;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  soget_xfer *t = ud;
  size_t len = size * n;
  static const char name[] = "retry-after:";
  if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
    const char *v = p + sizeof name - 1;
    size_t vn = len - (sizeof name - 1);
    trim(&v, &vn);
    t->retry_after = soget_parse_retry_after(v, vn);
  } else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
    t->retry_after = -1;   /* a new response (after a 100 Continue, say) */
  }
  return len;
}

static int on_open_socket(void *ud, curl_socket_t fd, curlsocktype purpose) {
  soget_transport *t = ud;
  (void)fd;
  if (purpose == CURLSOCKTYPE_IPCXN) t->connections++;
  return CURL_SOCKOPT_OK;
}

const char *soget_default_user_agent(void) {
  static char ua[64];
  if (!ua[0]) {
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    snprintf(ua, sizeof ua, "soget/%s libcurl/%s", SOGET_VERSION, v->version);
  }
  return ua;
}

int soget_transport_set_ca(soget_transport *t, int verify, const char *ca_file) {
  CURLcode rc = CURLE_OK;
  rc |= curl_easy_setopt(t->x.easy, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
  rc |= curl_easy_setopt(t->x.easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
  if (ca_file) rc |= curl_easy_setopt(t->x.easy, CURLOPT_CAINFO, ca_file);
  return rc == CURLE_OK ? 0 : -1;
}

soget_transport *soget_transport_new(const soget_transport_opts *o) {
  soget_transport *t = calloc(1, sizeof *t);
  CURL *c;
  CURLcode rc = CURLE_OK;
  if (!t) return NULL;
  soget_buf_init(&t->x.body, o->max_body);
  c = t->x.easy = curl_easy_init();
  if (!c) { free(t); return NULL; }
  rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  rc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  if (o->gzip) rc |= curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  rc |= curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->x);
  rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, &t->x);
  rc |= curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_open_socket);
  rc |= curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, t);
  rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->x.errbuf);
  rc |= curl_easy_setopt(c, CURLOPT_PRIVATE, &t->x);
  rc |= curl_easy_setopt(c, CURLOPT_USERAGENT,
                         o->user_agent ? o->user_agent : soget_default_user_agent());
  if (o->max_body)
    rc |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
  if (rc != CURLE_OK || soget_transport_set_ca(t, o->verify_tls, o->ca_file)) {
    soget_transport_free(t);
    return NULL;
  }
  return t;
}

/* Drops the request's header list (it holds credentials) from the handle
 * and wipes it. */
static void drop_request(soget_xfer *x) {
  struct curl_slist *tmp;
  if (x->hdrs) {
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
    for (tmp = x->hdrs; tmp; tmp = tmp->next) soget_wipe(tmp->data, strlen(tmp->data));
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
  }
  if (x->post) curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL);
  x->post = 0;
}

void soget_transport_free(soget_transport *t) {
  if (!t) return;
  if (t->release) t->release(t->attached);   /* before the handle it copied */
  t->attached = NULL;
  t->release = NULL;
  if (t->x.easy) {
    drop_request(&t->x);
    curl_easy_cleanup(t->x.easy);
  }
  soget_buf_free(&t->x.body);
  free(t);
}

void soget_transport_attach(soget_transport *t, void *p, void (*release)(void *)) {
  t->attached = p;
  t->release = release;
}

void *soget_transport_attached(const soget_transport *t) {
  return t->attached;
}

soget_xfer *soget_xfer_new(soget_transport *t) {
  soget_xfer *x = calloc(1, sizeof *x);
  CURLcode rc = CURLE_OK;
  if (!x) return NULL;
  soget_buf_init(&x->body, t->x.body.limit);
  x->easy = curl_easy_duphandle(t->x.easy);   /* options only, no connection */
  if (!x->easy) {
    free(x);
    return NULL;
  }
  rc |= curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
  rc |= curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
  rc |= curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
  rc |= curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
  if (rc != CURLE_OK) {
    soget_xfer_free(x);
    return NULL;
  }
  return x;
}

void soget_xfer_free(soget_xfer *x) {
  if (!x) return;
  drop_request(x);
  curl_easy_cleanup(x->easy);
  soget_buf_free(&x->body);
  free(x);
}

void *soget_xfer_handle(soget_xfer *x) {
  return x->easy;
}

void soget_xfer_abort(soget_xfer *x) {
  drop_request(x);
}

long soget_transport_connections(const soget_transport *t) {
  return t->connections;
}

static const char *curl_kind(CURLcode rc, int *retryable) {
  *retryable = 0;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      *retryable = 1;
      return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return "tls";
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      *retryable = 1;
      return "network";
    default:
      return "network";
  }
}

int soget_xfer_prepare(soget_xfer *x, const soget_http_request *rq, soget_err *e) {
  CURL *c = x->easy;
  struct curl_slist *tmp;
  const char *const *h;

  drop_request(x);   /* a previous exchange that never finished */
  soget_buf_reset(&x->body);
  x->too_large = 0;
  x->nomem = 0;
  x->retry_after = -1;
  x->errbuf[0] = '\0';

  for (h = rq->headers; h && *h; h++) {
    tmp = curl_slist_append(x->hdrs, *h);
    if (!tmp) {
      drop_request(x);
      soget_err_nomem(e, "building the request");
      return -1;
    }
    x->hdrs = tmp;
  }
  curl_easy_setopt(c, CURLOPT_URL, rq->url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
  if (rq->post) {
    x->post = 1;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : 1L);
  return 0;
}

int soget_xfer_finish(soget_xfer *x, int result, soget_http_response *rs, soget_err *e) {
  CURL *c = x->easy;
  CURLcode rc = (CURLcode)result;
  char *loc = NULL;
  long status = 0;

  drop_request(x);
  rs->status = 0;
  rs->body = &x->body;
  rs->retry_after = -1;
  rs->redirect[0] = '\0';

  if (rc != CURLE_OK) {
    int retryable;
    const char *kind;
    if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      soget_err_set(e, "http", status, 0,
                    "response body is larger than max_response_size (%lu bytes)",
                    (unsigned long)x->body.limit);
      return -1;
    }
    if (x->nomem) {   /* what the body holds is of no use: give it back */
      soget_buf_free(&x->body);
      soget_err_nomem(e, "reading the response body");
      return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if ((rc == CURLE_OUT_OF_MEMORY && status > 0) ||
        (rc == CURLE_RECV_ERROR && strncmp(x->errbuf, "Too large response headers", 26) == 0)) {
      /* After the status line, libcurl's limits on a header line (100 KB)
       * and on all headers (300 KB) show as these two errors. */
      soget_err_set(e, "http", status, 0,
                    "response headers are larger than libcurl's size limit");
      return -1;
    }
    kind = curl_kind(rc, &retryable);
    soget_err_set(e, kind, 0, retryable, "%s",
                  x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    return -1;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  rs->status = status;
  rs->retry_after = x->retry_after;
  if (status >= 300 && status < 400 &&
      curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
    size_t n = strlen(loc);
    if (n < sizeof rs->redirect) memcpy(rs->redirect, loc, n + 1);
  }
  return 0;
}

int soget_transport_perform(soget_transport *t, const soget_http_request *rq,
                            soget_http_response *rs, soget_err *e) {
  if (soget_xfer_prepare(&t->x, rq, e) != 0) {
    rs->status = 0;
    rs->body = &t->x.body;
    rs->retry_after = -1;
    rs->redirect[0] = '\0';
    return -1;
  }
  return soget_xfer_finish(&t->x, (int)curl_easy_perform(t->x.easy), rs, e);
}

static int easy_perform(void *self, const soget_http_request *rq, soget_http_response *rs,
                        soget_err *e) {
  return soget_transport_perform(self, rq, rs, e);
}

static const soget_io_ops easy_ops = {.name = "libcurl easy", .perform = easy_perform};

soget_io soget_curl_easy(soget_transport *t) {
  soget_io io;
  io.ops = &easy_ops;
  io.self = t;
  return io;
}
