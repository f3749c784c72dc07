/* Preloaded after the ASan runtime by spec/hygiene/lua-asan: removes
 * LD_PRELOAD from the environment once the interpreter has started, so
 * the programs the specs run (curl, openssl, nginx, sh) start without the
 * ASan runtime, which can hang uninstrumented programs. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>

__attribute__((constructor)) static void soget_noinherit(void) {
  unsetenv("LD_PRELOAD");
}
