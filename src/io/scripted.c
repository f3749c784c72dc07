/* The scripted back end: see scripted.h. */
#include "scripted.h"

#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/buf.h"

#define SCRIPT_MAX_REQUESTS 256

struct soget_scripted {
  const soget_script_step *steps;
  int n, used;
  int count;
  soget_buf req[SCRIPT_MAX_REQUESTS];
  soget_buf body;                      /* the answer being read */
  /* slots: the step each started exchange got, in start order */
  int slots;
  int slot_step[SOGET_IO_SLOTS];       /* -1 idle, -2 no step left */
  int order[SOGET_IO_SLOTS];           /* started slots, oldest first */
  int norder;
};

soget_scripted *soget_scripted_new(const soget_script_step *steps, int n) {
  soget_scripted *s = calloc(1, sizeof *s);
  int i;
  if (!s) return NULL;
  s->steps = steps;
  s->n = n;
  soget_buf_init(&s->body, 0);
  for (i = 0; i < SCRIPT_MAX_REQUESTS; i++) soget_buf_init(&s->req[i], 0);
  for (i = 0; i < SOGET_IO_SLOTS; i++) s->slot_step[i] = -1;
  return s;
}

void soget_scripted_free(soget_scripted *s) {
  int i;
  if (!s) return;
  for (i = 0; i < SCRIPT_MAX_REQUESTS; i++) {
    soget_buf_free_wiped(&s->req[i]);
  }
  soget_buf_free(&s->body);
  free(s);
}

int soget_scripted_count(const soget_scripted *s) {
  return s->count;
}

const char *soget_scripted_request(const soget_scripted *s, int i) {
  return i >= 0 && i < s->count && i < SCRIPT_MAX_REQUESTS ? s->req[i].data : NULL;
}

/* Records rq; returns the index of its step, -2 when none is left, or -1
 * out of memory. */
static int take(soget_scripted *s, const soget_http_request *rq) {
  soget_buf *b;
  const char *const *h;
  int r = 0;
  if (s->count >= SCRIPT_MAX_REQUESTS) return -1;
  b = &s->req[s->count];
  soget_buf_reset(b);
  r |= soget_buf_addf(b, "%s %s\n", rq->post ? "POST" : "GET", rq->url);
  for (h = rq->headers; h && *h; h++) r |= soget_buf_addf(b, "%s\n", *h);
  r |= soget_buf_addc(b, '\n');
  if (rq->post && rq->body_len) r |= soget_buf_add(b, rq->body, rq->body_len);
  if (r) return -1;
  s->count++;
  return s->used < s->n ? s->used++ : -2;
}

/* Fills rs (0) or e (-1) from step i as a transport would. */
static int answer(soget_scripted *s, int i, soget_http_response *rs, soget_err *e) {
  const soget_script_step *st;
  rs->status = 0;
  rs->retry_after = -1;
  rs->token_invalid = 0;
  rs->redirect[0] = '\0';
  soget_buf_reset(&s->body);
  rs->body = &s->body;
  if (i == -2) {
    soget_err_set(e, "network", 0, 0, "the script has no more answers");
    return -1;
  }
  st = &s->steps[i];
  if (st->status == 0) {
    soget_err_set(e, st->fail_kind ? st->fail_kind : "network", 0, st->fail_retryable,
                  "%s", st->fail_msg ? st->fail_msg : "connection refused");
    return -1;
  }
  if (st->body && soget_buf_adds(&s->body, st->body) != 0) {
    soget_err_nomem(e, "reading the response body");
    return -1;
  }
  rs->status = st->status;
  if (st->retry_after)
    rs->retry_after = soget_parse_retry_after(st->retry_after, strlen(st->retry_after));
  if (st->www_authenticate)
    rs->token_invalid =
        soget_bearer_invalid_token(st->www_authenticate, strlen(st->www_authenticate));
  if (st->location) {
    size_t n = strlen(st->location);
    if (n < sizeof rs->redirect) memcpy(rs->redirect, st->location, n + 1);
  }
  return 0;
}

static int sc_perform(void *self, const soget_http_request *rq, soget_http_response *rs,
                      soget_err *e) {
  soget_scripted *s = self;
  int i = take(s, rq);
  if (i == -1) {
    soget_err_nomem(e, "recording the request");
    return -1;
  }
  return answer(s, i, rs, e);
}

static int sc_reserve(void *self, int n) {
  soget_scripted *s = self;
  int i;
  if (n > SOGET_IO_SLOTS) return -1;
  s->slots = n;
  for (i = 0; i < SOGET_IO_SLOTS; i++) s->slot_step[i] = -1;
  s->norder = 0;
  return 0;
}

static int sc_start(void *self, int slot, const soget_http_request *rq, soget_err *e) {
  soget_scripted *s = self;
  int i = take(s, rq);
  if (i == -1) {
    soget_err_nomem(e, "recording the request");
    return -1;
  }
  s->slot_step[slot] = i;
  s->order[s->norder++] = slot;
  return 0;
}

static int sc_poll(void *self, long ms, int *slot, soget_err *e) {
  soget_scripted *s = self;
  (void)ms;
  (void)e;
  if (s->norder == 0) return 0;
  *slot = s->order[0];
  return 1;
}

static void unqueue(soget_scripted *s, int slot) {
  int i, j = 0;
  for (i = 0; i < s->norder; i++)
    if (s->order[i] != slot) s->order[j++] = s->order[i];
  s->norder = j;
}

static int sc_finish(void *self, int slot, soget_http_response *rs, soget_err *e) {
  soget_scripted *s = self;
  int i = s->slot_step[slot];
  s->slot_step[slot] = -1;
  unqueue(s, slot);
  return answer(s, i, rs, e);
}

static void sc_abort(void *self, int slot) {
  soget_scripted *s = self;
  if (slot < 0 || slot >= SOGET_IO_SLOTS) return;
  s->slot_step[slot] = -1;
  unqueue(s, slot);
}

static const soget_io_ops scripted_ops = {.name = "scripted",
                                          .perform = sc_perform,
                                          .reserve = sc_reserve,
                                          .start = sc_start,
                                          .poll = sc_poll,
                                          .finish = sc_finish,
                                          .abort = sc_abort};

soget_io soget_scripted_io(soget_scripted *s) {
  soget_io io;
  io.ops = &scripted_ops;
  io.self = s;
  return io;
}
