/* Keeps the code that loaded libcurl mapped for the life of the process.
 * libcurl's threaded resolver may outlive a call: told to exit quickly at
 * a timeout (CURLOPT_QUICK_EXIT, curl_easy.c), libcurl leaves a thread
 * still inside getaddrinfo to end on its own. A host that closes its Lua
 * state unloads the module, and libcurl with it: that thread would then
 * return into unmapped code. So the object holding this file (soget.so,
 * or the program libsoget.a is linked into) is marked never to be
 * unloaded, and what it depends on stays with it. */
#define _GNU_SOURCE 1   /* dladdr, RTLD_NODELETE */
#include "transport.h"

#include <dlfcn.h>

void soget_pin_module(void) {
  Dl_info info;
  if (dladdr((void *)&soget_pin_module, &info) && info.dli_fname) {
    /* a reference never given back, to an object already loaded: no load */
    void *self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    (void)self;
  }
}
