/* make test-threads: several Lua states in several threads at once, each
 * loading soget and using it, as a C host that embeds Lua does (one state
 * per thread, never shared; soget linked in from libsoget.a and registered
 * in package.preload, as the README's host.c does). Built with
 * ThreadSanitizer, with an archive built the same way: any data race in
 * soget's process-wide state (its libcurl set-up, the facts read once)
 * stops the run.
 *
 *   threads N ROUNDS SCRIPT
 *
 * Each round starts N threads that wait at a barrier, then each makes a
 * state, requires soget (at the same moment), runs SCRIPT and closes the
 * state. The host also counts the process's curl_global_init calls (it
 * defines the function, exported, and passes each call on to libcurl's):
 * soget must make exactly one, however many states load it. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dlfcn.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "soget.h"

static atomic_int inits;
static pthread_barrier_t barrier;
static const char *script;

CURLcode curl_global_init(long flags) {
  CURLcode (*real)(long) = (CURLcode(*)(long))dlsym(RTLD_NEXT, "curl_global_init");
  atomic_fetch_add(&inits, 1);
  return real ? real(flags) : CURLE_FAILED_INIT;
}

static void *run(void *arg) {
  lua_State *L = luaL_newstate();
  long failed = 0;
  (void)arg;
  if (!L) return (void *)1;
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_soget);
  lua_setfield(L, -2, "soget");
  lua_pop(L, 2);
  pthread_barrier_wait(&barrier);
  if (luaL_dofile(L, script) != 0) {
    fprintf(stderr, "threads: %s\n", lua_tostring(L, -1));
    failed = 1;
  }
  lua_close(L);
  return (void *)failed;
}

int main(int argc, char **argv) {
  int n, rounds, r, i, failures = 0;
  pthread_t t[32];
  if (argc != 4 || (n = atoi(argv[1])) < 2 || n > 32 || (rounds = atoi(argv[2])) < 1) {
    fprintf(stderr, "usage: threads N(2-32) ROUNDS SCRIPT\n");
    return 2;
  }
  script = argv[3];
  for (r = 0; r < rounds; r++) {
    if (pthread_barrier_init(&barrier, NULL, (unsigned)n) != 0) return 2;
    for (i = 0; i < n; i++)
      if (pthread_create(&t[i], NULL, run, NULL) != 0) return 2;
    for (i = 0; i < n; i++) {
      void *v;
      pthread_join(t[i], &v);
      failures += v != NULL;
    }
    pthread_barrier_destroy(&barrier);
  }
  printf("threads: %d rounds of %d states, %d failed, curl_global_init called %d time(s)\n",
         rounds, n, failures, atomic_load(&inits));
  curl_global_cleanup();   /* the host's one cleanup, after every lua_close */
  return failures == 0 && atomic_load(&inits) == 1 ? 0 : 1;
}
