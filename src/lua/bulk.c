/* client:handling_units_many(queries[, {concurrency = n, exact = b,
 * on_result = f}]): many calls at once, over the multi back end of the
 * transport seam (io/io.h).
 *
 * Each query runs the core's call steps (core/call.h), as
 * client:handling_units does; this file only drives several of them: up
 * to `concurrency` slots of the back end, retry waits as per-call timers.
 * The token policy is the core's: one token request at a time per client
 * (the others wait for it), a 401 for a token replaced meanwhile resent
 * with the new one, one renewal per 401 episode.
 *
 * Ownership. The back end's handles belong to the client's transport:
 * they outlive batches, so later batches reuse their connections, and
 * client:close() or __gc frees them. A batch's own state (one soget_call
 * per slot: URL, credential headers) lives in a userdata with __gc, so a
 * Lua error raised mid-batch (out of memory, raised as Lua's own memory
 * error whether Lua or a step ran out) still wipes the credentials and
 * ends the exchanges in flight. */
#define _POSIX_C_SOURCE 200809L
#include "soget.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/call.h"
#include "core/request.h"
#include "exact.h"
#include "io/io.h"
#include "io/transport.h"

#define BULK_DEFAULT 8
#define BULK_MAX SOGET_BULK_MAX
#if SOGET_BULK_MAX > SOGET_IO_SLOTS
#error "the multi back end has fewer slots than the largest concurrency"
#endif
#define POLL_MAX_MS 1000   /* longest single wait; timers and curl wake earlier */

/* ---- a batch -------------------------------------------------------------- */

enum {            /* slot.phase */
  SLOT_IDLE = 0,  /* no query */
  SLOT_READY,     /* ask the call for its next step at once */
  SLOT_SENT,      /* its request is out */
  SLOT_TIMER      /* waits until `wake` (a retry, or another call's token) */
};

typedef struct slot {
  soget_call k;
  soget_exact x;  /* an exact lookup's walk (x.on) */
  int q;          /* 1-based index of its query, 0 when idle */
  int phase;
  double wake;
} slot;

typedef struct batch {
  soget_client *c;   /* kept alive by the uservalue */
  soget_engine *g;   /* c's */
  int held;          /* holds c and its transport (soget_client_hold) */
  soget_io io;       /* the transport's multi back end */
  double began;      /* every call of the batch counts as begun then */
  unsigned long group;   /* the engine's group of the batch's calls */
  int live;          /* calls initialized, not yet cleaned up */
  int running;       /* run() is under way: __gc waits for its end */
  int n;             /* slots */
  int nq, next, done;
  int qt, rt;        /* stack indices: normalized queries, results */
  int cb;            /* stack index: on_result, 0 when none */
  int st;            /* stack index: exact walks' states, by slot */
  long ok, failed;
  slot s[1];         /* n of them */
} batch;

/* Wipes and frees every call; ends the exchanges in flight unless the
 * client was closed meanwhile (its transport freed them). Safe to run
 * twice: at the end of a batch, and from __gc after a raised error. */
static void batch_end(batch *b) {
  int i;
  if (b->live) {
    b->live = 0;
    for (i = 0; i < b->n; i++) soget_call_free(b->g, &b->s[i].k);
    if (soget_client_transport(b->c)) {
      for (i = 0; i < b->n; i++) b->io.ops->abort(b->io.self, i);
    }
  }
  if (b->held) {   /* last: a close() asked for meanwhile frees the pool */
    b->held = 0;
    soget_client_give_transport(b->c);
    soget_client_release(b->c);
  }
}

/* Reachable from Lua (debug.getlocal in a finalizer or a hook): while the
 * batch runs, its caller ends it when run() returns, whatever it raised;
 * but at a lua_close amid it (an os.exit(code, true) from on_result),
 * which never returns, it is ended here, its buffers wiped. */
static int batch_gc(lua_State *L) {
  batch *b = luaL_checkudata(L, 1, SOGET_BULK_T);
  if (!b->running || !soget_gc_amid_code(L)) batch_end(b);
  return 0;
}

/* run()'s tables (its stack slots 2, 3 and 5) and their entries are
 * reachable from Lua through the debug library: checked at each use. */
static void need_table(lua_State *L, int i) {
  if (lua_type(L, i) != LUA_TTABLE)
    luaL_error(L, "handling_units_many: the batch's state was changed under it "
                  "(through the debug library)");
}

/* Pushes query q (its normalized copy). */
static void push_query(lua_State *L, batch *b, int q) {
  need_table(L, b->qt);
  lua_rawgeti(L, b->qt, q);
  need_table(L, -1);
}

/* Query q's answer (at the top, popped) goes to results[q], or to
 * on_result(q, answer). The function is Lua code: it may raise (run's
 * caller ends the batch) or close the client (which the batch holds); a
 * call of the client from it is refused (its transport is taken). */
static void deliver(lua_State *L, batch *b, int q) {
  if (b->cb) {
    lua_pushvalue(L, b->cb);
    lua_insert(L, -2);
    lua_pushinteger(L, q);
    lua_insert(L, -2);
    lua_call(L, 2, 0);
    soget_client_rewatch(b->c);   /* a hook it set is no Ctrl-C */
  } else {
    need_table(L, b->rt);
    lua_rawseti(L, b->rt, q);
  }
}

/* The slot's query is over: its page (on the stack top when `page`) or
 * the error e is delivered, once the slot is idle (on_result may run
 * anything). */
static void slot_result(lua_State *L, batch *b, slot *s, int page, const soget_err *e) {
  int q = s->q;
  if (page && s->x.on) {   /* complete: page:iter() has nothing to fetch */
    soget_page_attach(L, -1, 0, 0);
    b->ok++;
  } else if (page) {
    push_query(L, b, s->q);
    soget_page_attach(L, -2, 1, -1);
    lua_pop(L, 1);
    b->ok++;
  } else {
    soget_push_error(L, e);
    b->failed++;
  }
  b->done++;
  soget_call_free(b->g, &s->k);
  soget_call_init(&s->k);
  s->x.on = 0;
  s->q = 0;
  s->phase = SLOT_IDLE;
  deliver(L, b, q);
}

/* Acts on a step other than SOGET_STEP_SEND (SOGET_STEP_PAGE: the page is
 * on the stack). Out of memory it raises: run's caller cleans up. */
static void slot_step(lua_State *L, batch *b, slot *s, int step, const soget_err *e) {
  switch (step) {
    case SOGET_STEP_NOMEM: soget_nomem(L); break;
    case SOGET_STEP_PAGE: slot_result(L, b, s, 1, NULL); break;
    case SOGET_STEP_WAIT:
      s->phase = SLOT_TIMER;
      s->wake = soget_now() + s->k.wait;
      break;
    case SOGET_STEP_AGAIN: s->phase = SLOT_READY; break;
    default: slot_result(L, b, s, 0, e); break;
  }
}

/* Runs slot i's call until it sends a request, waits, or ends. */
static void slot_advance(lua_State *L, batch *b, int i) {
  slot *s = &b->s[i];
  while (s->phase == SLOT_READY) {
    soget_err e;
    int step;
    soget_err_clear(&e);
    step = soget_call_next(b->g, &s->k, &e);
    if (step == SOGET_STEP_SEND) {
      if (b->io.ops->start(b->io.self, i, &s->k.rq, &e) == 0) {
        s->phase = SLOT_SENT;
        return;
      }
      step = soget_call_failed(b->g, &s->k, &e);
    }
    slot_step(L, b, s, step, &e);
  }
}

/* After SOGET_STEP_PAGE of slot i's exact lookup (the page at the top):
 * the answer replaces the page, or the call is begun again for the
 * listing's next page within the first request's deadline
 * (SOGET_STEP_AGAIN, the page gone), or the walk failed (e). */
static int exact_step(lua_State *L, batch *b, int i, soget_err *e) {
  slot *s = &b->s[i];
  int pi = lua_gettop(L), r;
  soget_query q;
  double deadline = s->k.deadline;
  need_table(L, b->st);
  lua_rawgeti(L, b->st, i + 1);
  need_table(L, -1);
  r = soget_exact_take(L, &s->x, pi + 1, pi, e);
  if (r == SOGET_EXACT_DONE) {
    lua_replace(L, pi);
    lua_settop(L, pi);
    return SOGET_STEP_PAGE;
  }
  lua_settop(L, pi - 1);
  if (r == SOGET_EXACT_FAIL) return SOGET_STEP_FAIL;
  push_query(L, b, s->q);   /* anchors q's strings while the URL is made */
  soget_read_query(L, lua_gettop(L), &q, s->x.requested);
  r = soget_call_begin(b->g, &s->k, &q, SOGET_CALL_NEXT_PAGE, e);
  lua_pop(L, 1);
  if (r != 0) return SOGET_STEP_NOMEM;
  s->k.deadline = deadline;
  return SOGET_STEP_AGAIN;
}

/* Slot i's exchange ended. */
static void slot_done(lua_State *L, batch *b, int i) {
  slot *s = &b->s[i];
  soget_http_response rs;
  soget_err e;
  int step;
  soget_err_clear(&e);
  if (b->io.ops->finish(b->io.self, i, &rs, &e) == 0) {
    step = soget_call_response(b->g, &s->k, rs.status, rs.body->data, rs.body->len,
                               rs.retry_after, rs.redirect, rs.token_invalid, &e);
    if (step == SOGET_STEP_PAGE) {
      if (s->k.empty) {
        soget_push_empty_page(L, s->k.offset);
      } else if (!soget_decode_page_until(L, rs.body->data, rs.body->len, s->k.offset,
                                          s->k.limit, &e, s->k.deadline, b->g->timeout)) {
        soget_engine_scrub(b->g, &s->k, &e);
        step = e.nomem ? SOGET_STEP_NOMEM : SOGET_STEP_FAIL;
      }
      if (step == SOGET_STEP_PAGE && s->x.on) step = exact_step(L, b, i, &e);
    }
    b->io.ops->abort(b->io.self, i);   /* rs used: the handle lets go of its body */
  } else {
    step = soget_call_failed(b->g, &s->k, &e);
    /* a body cut short or over the cap (a token answer's part) let go too */
    b->io.ops->abort(b->io.self, i);
  }
  slot_step(L, b, s, step, &e);
  /* At once: after a 401 this sends the token request, which the 401s
   * still to be read must see going out. */
  if (s->phase == SLOT_READY) slot_advance(L, b, i);
}

/* The back end itself failed: every request in flight fails with e. */
static void fail_sent(lua_State *L, batch *b, const soget_err *why) {
  int i;
  for (i = 0; i < b->n; i++) {
    slot *s = &b->s[i];
    soget_err e;
    if (s->phase != SLOT_SENT) continue;
    b->io.ops->abort(b->io.self, i);
    e = *why;
    e.retryable = 0;
    soget_call_failed(b->g, &s->k, &e);   /* not retried: not retryable */
    slot_result(L, b, s, 0, &e);
  }
}

/* Gives idle slots the next queries. */
static void fill(lua_State *L, batch *b) {
  int i;
  for (i = 0; i < b->n; i++) {
    slot *s = &b->s[i];
    while (s->phase == SLOT_IDLE && b->next <= b->nq) {
      soget_query q;
      soget_err e;
      soget_err_clear(&e);
      s->q = b->next++;
      push_query(L, b, s->q);
      soget_read_query(L, lua_gettop(L), &q, -1);
      /* the call first: q's strings are the query's, which Lua code run
       * from here on (a finalizer) could let go */
      s->k.group = b->group;
      if (soget_call_begin(b->g, &s->k, &q, b->began, &e) != 0) soget_nomem(L);
      soget_exact_init(L, &s->x, -1);
      if (s->x.on) {   /* the walk's state, by slot */
        soget_exact_push_state(L);
        need_table(L, b->st);
        lua_rawseti(L, b->st, i + 1);
      }
      lua_pop(L, 1);
      s->phase = SLOT_READY;
      slot_advance(L, b, i);
    }
  }
}

/* A request still out this long after its call's deadline is ended here.
 * libcurl ends a transfer at the timeout it was given, mostly first; but
 * while one waits for a connection being made (to learn whether it
 * multiplexes) libcurl sets no timer for it, and such transfers ran up to
 * 0.7 s past their deadline. */
#define DEADLINE_GRACE 0.05

/* Ends, as timed out, the requests still out past their call's deadline
 * (soget_call_overdue: the core's own error for a call out of time). */
static void end_overdue(lua_State *L, batch *b, double now) {
  int i;
  for (i = 0; i < b->n; i++) {
    slot *s = &b->s[i];
    soget_err e;
    int step;
    if (s->phase != SLOT_SENT || now < s->k.deadline + DEADLINE_GRACE) continue;
    b->io.ops->abort(b->io.self, i);
    step = soget_call_overdue(b->g, &s->k, &e);
    slot_step(L, b, s, step, &e);
    if (s->phase == SLOT_READY) slot_advance(L, b, i);
  }
}

/* Asked to stop (soget_client_stop: Ctrl-C): every query not answered yet
 * ends as interrupted, those out, those waiting and those not begun. */
static void stop_all(lua_State *L, batch *b) {
  soget_err e;
  int i;
  for (i = 0; i < b->n; i++) {
    slot *s = &b->s[i];
    if (s->phase == SLOT_IDLE) continue;
    if (s->phase == SLOT_SENT) b->io.ops->abort(b->io.self, i);
    if (soget_call_stop(b->g, &s->k, &e) == SOGET_STEP_NOMEM) soget_nomem(L);
    slot_result(L, b, s, 0, &e);
  }
  soget_err_clear(&e);
  soget_err_interrupted(&e);
  while (b->next <= b->nq) {
    int q = b->next++;
    soget_push_error(L, &e);
    b->failed++;
    b->done++;
    deliver(L, b, q);
  }
}

/* Runs the batch: a protected call (client, normalized queries, results,
 * batch, on_result or nil), so that its caller cleans up at once when
 * something raises. */
static int run(lua_State *L) {
  batch *b = lua_touserdata(L, 4);
  const soget_stop *stop = soget_client_stop(b->c);
  b->cb = lua_isnil(L, 5) ? 0 : 5;
  lua_createtable(L, b->n, 0);   /* 6: exact walks' states */
  b->st = 6;
  fill(L, b);
  while (b->done < b->nq) {
    soget_err e;
    int i, r, slot_i;
    double now, until;
    long ms;

    /* Timers that are due, and calls waiting for a token now in. */
    now = soget_now();
    for (i = 0; i < b->n; i++) {
      slot *s = &b->s[i];
      if (s->phase == SLOT_TIMER && (now >= s->wake || (s->k.lease_wait && !b->g->lease)))
        s->phase = SLOT_READY;
      if (s->phase == SLOT_READY) slot_advance(L, b, i);
    }
    fill(L, b);
    if (b->done >= b->nq) break;

    /* Wait until the earliest timer, or until an exchange ends. */
    now = soget_now();
    until = now + POLL_MAX_MS / 1000.0;
    for (i = 0; i < b->n; i++) {
      slot *s = &b->s[i];
      if (s->phase == SLOT_TIMER && s->wake < until) until = s->wake;
      if (s->phase == SLOT_SENT && s->k.deadline + DEADLINE_GRACE < until)
        until = s->k.deadline + DEADLINE_GRACE;
      if (s->phase == SLOT_READY) until = now;
    }
    ms = until <= now ? 0 : (long)ceil((until - now) * 1000.0);
    soget_err_clear(&e);
    while ((r = b->io.ops->poll(b->io.self, ms, &slot_i, &e)) == 1) {
      slot_done(L, b, slot_i);
      ms = 0;
    }
    if (r < 0) fail_sent(L, b, &e);
    end_overdue(L, b, soget_now());
    if (stop->asked(stop->ud)) stop_all(L, b);
  }
  return 0;
}

/* ---- arguments ------------------------------------------------------------ */

static int check_one(lua_State *L) {
  soget_check_query(L, 1, SOGET_QUERY_ANY);
  return 1;
}

#define XSTR(x) #x
#define STR(x) XSTR(x)
enum { B_CONCURRENCY, B_EXACT, B_ON_RESULT, B_COUNT };
static const soget_option bulk_options[] = {
    [B_CONCURRENCY] = {.name = "concurrency", .type = SOGET_OPT_NUMBER, .min = 1,
                       .max = BULK_MAX, .whole = 1,
                       .bad = "must be a whole number between 1 and " STR(SOGET_BULK_MAX)},
    [B_EXACT] = {.name = "exact", .type = SOGET_OPT_BOOLEAN},
    [B_ON_RESULT] = {.name = "on_result", .type = SOGET_OPT_FUNCTION},
    [B_COUNT] = {.name = NULL}};
#undef STR
#undef XSTR

static const soget_opt_reader bulk_reader = {
    .opts = bulk_options,
    .who = "handling_units_many",
    .label = "",
    SOGET_OPT_MESSAGES,
    .nottable = "%s: options must be a table, got %s",
    .nil_ok = 1};

/* The concurrency; *exact: the default of the lookups that do not say;
 * *cb: on_result was given, and replaces the options at oi (the options
 * are of no more use; the function stays anchored). */
static int read_options(lua_State *L, int oi, int *exact, int *cb) {
  soget_optval v[B_COUNT];
  int left = soget_opt_read(L, oi, &bulk_reader, 0, v);   /* on_result, if given */
  *exact = v[B_EXACT].given && v[B_EXACT].b;
  *cb = v[B_ON_RESULT].given;
  if (left) lua_replace(L, oi);
  return v[B_CONCURRENCY].given ? (int)v[B_CONCURRENCY].n : BULK_DEFAULT;
}

/* options.exact for the normalized query at the top: a lookup that does
 * not say becomes exact (a search has no such thing). */
static void default_exact(lua_State *L, int i) {
  int t = lua_gettop(L);
  lua_getfield(L, t, "search");
  if (lua_isnil(L, -1)) {
    lua_getfield(L, t, "exact");
    if (lua_isnil(L, -1)) {
      lua_getfield(L, t, "offset");
      if (!lua_isnil(L, -1))
        luaL_error(L, "handling_units_many: query %d: 'offset' does not apply to an exact "
                      "lookup (it answers every match at once)", i);
      lua_pushboolean(L, 1);
      lua_setfield(L, t, "exact");
    }
  }
  lua_settop(L, t);
}

/* Validates every query (as handling_units does) into a table of
 * normalized copies, pushed; raises naming the index of a bad one. */
static int check_queries(lua_State *L, const soget_client *c, int qi, int exact) {
  size_t len, count = 0, i;
  int t;
  if (lua_type(L, qi) != LUA_TTABLE)
    luaL_error(L, "handling_units_many: queries must be a table (a list), got %s",
               luaL_typename(L, qi));
  len = lua_rawlen(L, qi);
  lua_pushnil(L);
  while (lua_next(L, qi)) {
    lua_pop(L, 1);
    count++;
  }
  if (count != len)
    luaL_error(L, "handling_units_many: queries must be a list (keys 1 to n only)");
  if (len > INT_MAX / 2) luaL_error(L, "handling_units_many: too many queries");
  lua_createtable(L, (int)len, 0);
  t = lua_gettop(L);
  for (i = 1; i <= len; i++) {
    lua_pushcfunction(L, check_one);
    lua_rawgeti(L, qi, (lua_Integer)i);
    if (lua_pcall(L, 1, 1, 0) != 0) {
      const char *msg = lua_tostring(L, -1);
      static const char prefix[] = "handling_units: ", sprefix[] = "handling_units_search: ";
      if (!msg) lua_error(L);   /* not a message (out of memory): as it is */
      if (strncmp(msg, prefix, sizeof prefix - 1) == 0) msg += sizeof prefix - 1;
      else if (strncmp(msg, sprefix, sizeof sprefix - 1) == 0) msg += sizeof sprefix - 1;
      luaL_error(L, "handling_units_many: query %d: %s", (int)i, msg);
    }
    if (exact) default_exact(L, (int)i);
    /* (Lua code ran since the client was checked: the options' or a
     * query's metamethods, a finalizer; it may have closed it) */
    c = soget_checkclient(L, 1);
    soget_need_api(L, c, lua_gettop(L), "handling_units_many", (int)i);
    lua_rawseti(L, t, (lua_Integer)i);
  }
  return (int)len;
}

/* client:handling_units_many(queries[, {concurrency = n, exact = b, on_result = f}])
 *   -> results, {ok = n, failed = n}
 * results[i] is queries[i]'s page (as handling_units returns it) or its
 * soget.Error; with on_result, each is handed to f(i, result) as it comes
 * instead, and results stays empty. */
int soget_client_handling_units_many(lua_State *L) {
  soget_client *c = soget_checkclient(L, 1);
  int concurrency, nq, n, i, status, exact, cb;
  long ok = 0, failed = 0;
  batch *b;

  soget_check_nargs(L, 3, "every option goes in the one table after the queries");
  lua_settop(L, 3);
  concurrency = read_options(L, 3, &exact, &cb);   /* 3: on_result, if given */
  nq = check_queries(L, c, 2, exact);   /* 4: normalized queries */
  /* (an __index of the options or the queries may have closed it: an
   * empty batch of a closed client raises too) */
  c = soget_checkclient(L, 1);
  lua_createtable(L, cb ? 0 : nq, 0);   /* 5: results (none kept with on_result) */
  n = nq < concurrency ? nq : concurrency;
  if (n > soget_transport_max_parallel()) n = soget_transport_max_parallel();
  if (n > 0) {
    lua_pushcfunction(L, run);                                                 /* 6 */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 4);
    lua_pushvalue(L, 5);
    b = soget_newuserdata(L, offsetof(batch, s) + (size_t)n * sizeof(slot));   /* 10 */
    memset(b, 0, offsetof(batch, s) + (size_t)n * sizeof(slot));
    luaL_setmetatable(L, SOGET_BULK_T);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "client");
    soget_setuv(L, -2);
    b->c = c;
    /* Every allocation since the check at the top could have run a
     * finalizer: check again, then hold with no Lua call in between. */
    soget_checkclient(L, 1);
    if (soget_client_take_transport(L, c) != 0)
      return luaL_error(L, "handling_units_many: this client is in the middle of a "
                           "call (called again from a finalizer, a hook or on_result)");
    soget_client_hold(c);
    b->held = 1;                     /* from here on, __gc releases */
    b->g = soget_client_engine(c);
    b->group = soget_engine_group(b->g);
    b->began = soget_now();
    b->io = soget_curl_multi(soget_client_transport(c));
    for (i = 0; i < n; i++) soget_call_init(&b->s[i].k);
    if (b->io.ops->reserve(b->io.self, n) != 0) {
      batch_end(b);
      return soget_nomem(L);
    }
    b->n = n;
    b->nq = nq;
    b->next = 1;
    b->qt = 2;   /* run's own stack */
    b->rt = 3;
    b->live = 1;                     /* from here on, __gc cleans up too */
    if (cb) lua_pushvalue(L, 3);
    else lua_pushnil(L);             /* 11: on_result */
    lua_pushvalue(L, -2);
    lua_replace(L, 3);               /* 3: the batch, kept for after the call */
    b->running = 1;
    status = lua_pcall(L, 5, 0, 0);
    b->running = 0;
    batch_end(b);
    if (status != 0) return lua_error(L);
    ok = b->ok;
    failed = b->failed;
  }
  lua_pushvalue(L, 5);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)ok);
  lua_setfield(L, -2, "ok");
  lua_pushinteger(L, (lua_Integer)failed);
  lua_setfield(L, -2, "failed");
  return 2;
}

static const luaL_Reg bulk_meta[] = {{"__gc", batch_gc}, {NULL, NULL}};

void soget_bulk_open(lua_State *L) {
  soget_class(L, SOGET_BULK_T, NULL, bulk_meta);
}
