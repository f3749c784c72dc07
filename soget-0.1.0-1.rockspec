rockspec_format = "3.0"
package = "soget"
version = "0.1.0-1"

source = {
  -- The tarball `make dist` makes from git (build/soget-0.1.0.tar.gz, with
  -- a copy of this rockspec beside it): `luarocks build
  -- soget-0.1.0-1.rockspec` in that folder builds from it, offline. Give
  -- the tarball's published URL here before uploading the rockspec;
  -- `luarocks make` in a source tree does not read it.
  url = "soget-0.1.0.tar.gz",
  dir = "soget-0.1.0",
}

description = {
  summary = "Client for SOGET's API Tracing Code REST API",
  detailed = [[
A Lua module with a C core (libcurl for HTTP, simdjson and libyajl for JSON;
libhttp-parser and zlib for the HTTP/1.1 layer of its OpenResty driver) that queries SOGET's "API Tracing Code" REST API: OAuth2 client
credentials, handling-unit lookups by container reference or SPI, decoded
pages and lazy paging. Builds for Lua 5.1, LuaJIT 2.1, Lua 5.2, 5.3 and 5.4.
]],
  labels = { "http", "api", "logistics" },
  license = "MIT",
}

dependencies = {
  "lua >= 5.1, < 5.5",
  "argparse",   -- the soget command
  "dkjson",     -- the soget command's JSON input (bulk --input jsonl)
}

external_dependencies = {
  -- (no header: Debian's curl/curl.h is under the multiarch include folder,
  -- /usr/include/<triplet>/, where LuaRocks looks for libraries only; the
  -- Makefile asks pkg-config for its flags)
  CURL = { library = "curl" },
  YAJL = { header = "yajl/yajl_parse.h" },
  SIMDJSON = { header = "simdjson.h" },
  -- the sans-I/O HTTP/1.1 layer soget.ngx drives over cosockets
  HTTP_PARSER = { header = "http_parser.h" },
  ZLIB = { header = "zlib.h" },
  -- libcrypto: SHA-256 (credentials' digests) and base64 (a proxy's
  -- credentials)
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
}

build = {
  -- The Makefile's `rock` target builds soget.so with LuaRocks' compiler,
  -- flags and the libraries it found, from scratch in build/luarocks/:
  -- never beside the sources (no *.o there, and no ./soget.so on Lua's
  -- default ./?.so path to shadow another build). LuaRocks installs it and
  -- the Lua files from the lists below (spec/install checks them).
  type = "make",
  build_target = "rock",
  build_variables = {
    CC = "$(CC)",
    CFLAGS = "$(CFLAGS) -I$(CURL_INCDIR) -I$(YAJL_INCDIR) -I$(HTTP_PARSER_INCDIR) -I$(ZLIB_INCDIR) -I$(OPENSSL_INCDIR)",
    -- simdjson is C++: src/core/json.cpp, behind a C interface
    CXXFLAGS = "$(CFLAGS) -I$(SIMDJSON_INCDIR)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LDFLAGS = "-L$(CURL_LIBDIR) -L$(YAJL_LIBDIR) -L$(SIMDJSON_LIBDIR) -L$(HTTP_PARSER_LIBDIR) -L$(ZLIB_LIBDIR) -L$(OPENSSL_LIBDIR)",
  },
  install_pass = false,
  install = {
    lib = { soget = "build/luarocks/soget.so" },
    -- soget.ngx, and the soget command's modules: every lua/**.lua
    lua = {
      ["soget.cli.init"] = "lua/soget/cli/init.lua",
      ["soget.cli.args"] = "lua/soget/cli/args.lua",
      ["soget.cli.cache"] = "lua/soget/cli/cache.lua",
      ["soget.cli.commands.bulk"] = "lua/soget/cli/commands/bulk.lua",
      ["soget.cli.commands.check"] = "lua/soget/cli/commands/check.lua",
      ["soget.cli.commands.find"] = "lua/soget/cli/commands/find.lua",
      ["soget.cli.commands.search"] = "lua/soget/cli/commands/search.lua",
      ["soget.cli.commands.track"] = "lua/soget/cli/commands/track.lua",
      ["soget.cli.commands.watch"] = "lua/soget/cli/commands/watch.lua",
      ["soget.cli.completion"] = "lua/soget/cli/completion.lua",
      ["soget.cli.config"] = "lua/soget/cli/config.lua",
      ["soget.cli.csv"] = "lua/soget/cli/csv.lua",
      ["soget.cli.exit"] = "lua/soget/cli/exit.lua",
      ["soget.cli.inputs"] = "lua/soget/cli/inputs.lua",
      ["soget.cli.output"] = "lua/soget/cli/output.lua",
      ["soget.cli.query"] = "lua/soget/cli/query.lua",
      ["soget.cli.session"] = "lua/soget/cli/session.lua",
      ["soget.cli.sys"] = "lua/soget/cli/sys.lua",
      ["soget.cli.units"] = "lua/soget/cli/units.lua",
      ["soget.cli.view"] = "lua/soget/cli/view.lua",
      ["soget.cli.walk"] = "lua/soget/cli/walk.lua",
      ["soget.ngx"] = "lua/soget/ngx.lua",
      -- lua-language-server's annotations (README, "Editors"): meta files
      -- for the editor, installed beside the code, never required
      ["soget.types.soget"] = "lua/soget/types/soget.lua",
      ["soget.types.soget.models"] = "lua/soget/types/soget/models.lua",
      ["soget.types.soget.ngx"] = "lua/soget/types/soget/ngx.lua",
    },
    bin = { soget = "bin/soget" },
  },
}

test = {
  -- spec/run: builds the module, starts the sandbox, runs busted
  -- (LUA_VERSION=5.1 luarocks test for another runtime).
  type = "command",
  command = "spec/run",
}
