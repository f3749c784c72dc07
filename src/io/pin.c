/* Keeps the code that loaded libcurl mapped for the life of the process.
 * libcurl's threaded resolver may outlive a call: told to exit quickly at
 * a timeout (CURLOPT_QUICK_EXIT, curl_easy.c), libcurl leaves a thread
 * still inside getaddrinfo to end on its own. A host that closes its Lua
 * state unloads the module, and libcurl with it: that thread would then
 * return into unmapped code. So the shared object holding this file
 * (soget.so) is marked never to be unloaded, and what it depends on stays
 * with it. A program libsoget.a is linked into is never unloaded: nothing
 * to do (and its name, argv[0] as glibc gives it, is not opened). */
#define _GNU_SOURCE 1   /* dladdr1, RTLD_NODELETE */
#include "transport.h"

#include <dlfcn.h>
#include <link.h>

void soget_pin_module(void) {
  Dl_info info;
  struct link_map *self = NULL;
  if (!dladdr1((void *)&soget_pin_module, &info, (void **)&self, RTLD_DL_LINKMAP) || !self ||
      !self->l_name || !self->l_name[0])   /* the main program's name is "" */
    return;
  /* a reference never given back, to the object as it was loaded: no load */
  (void)dlopen(self->l_name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}
