/* soget.h: the soget Lua module for C programs that embed Lua.
 *
 * `make install` puts this header, the static library libsoget.a (the
 * module's objects, built for one Lua runtime: LUA_VERSION) and soget.pc in
 * PREFIX; a host builds with
 *
 *   cc host.c $(pkg-config --cflags --libs soget lua5.4)
 *
 * naming the Lua it was built for (soget.pc's variable lua_pc).
 *
 * Register the module before running scripts, best through
 * package.preload, so that `require "soget"` finds it on every runtime and
 * only scripts that ask for it load it:
 *
 *   lua_getglobal(L, "package");
 *   lua_getfield(L, -1, "preload");
 *   lua_pushcfunction(L, luaopen_soget);
 *   lua_setfield(L, -2, "soget");
 *   lua_pop(L, 2);
 *
 * (or, on Lua 5.2 and later, luaL_requiref(L, "soget", luaopen_soget, 1)
 * and lua_pop(L, 1), which loads it at once, into package.loaded and the
 * global soget; with 0 as its last argument, package.loaded only).
 *
 * libcurl: the first luaopen_soget of the process calls
 * curl_global_init(CURL_GLOBAL_DEFAULT), once (pthread_once); later calls,
 * in this or other Lua states, in this or other threads, also at the same
 * moment, do not. libcurl's global state is the process's, so soget never
 * releases it: a host that wants it released (at exit, for leak checkers)
 * calls curl_global_cleanup() once, after lua_close of every state that
 * loaded soget, and loads soget in no state after that. A host that uses
 * libcurl itself pairs its own curl_global_init with its own cleanup, as
 * usual.
 *
 * Threads: states that never share anything may run soget in as many
 * threads as the host likes (make test-threads checks it under
 * ThreadSanitizer); one state is never used by two threads at once, as
 * with any Lua state. The C locale is the process's: a state calling
 * os.setlocale changes it for the others' decodes meanwhile.
 *
 * lua_close frees every client, pager and call of the state, and their
 * curl handles. */
#ifndef SOGET_PUBLIC_H
#define SOGET_PUBLIC_H

#ifdef __cplusplus
extern "C" {   /* lua.h too: LuaJIT's (and Lua's own) has no guards of its own */
#endif

#include <lua.h>

/* Opens the module: pushes the soget table (soget._VERSION, soget.client,
 * ...) and returns 1, as require "soget" would. Raises a Lua error when
 * libcurl cannot be initialized. */
int luaopen_soget(lua_State *L);

#ifdef __cplusplus
}
#endif

#endif
