rockspec_format = "3.0"
package = "soget"
version = "0.1.0-1"

source = {
  -- Set to the project's published repository before uploading this
  -- rockspec; `luarocks make` in a source tree does not read it.
  url = "git+https://example.invalid/soget/soget.git",
  tag = "v0.1.0",
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
}

dependencies = {
  "lua >= 5.1, < 5.5",
  "argparse",   -- the soget command
  "dkjson",     -- the soget command's JSON output
}

external_dependencies = {
  CURL = { library = "curl" },
  YAJL = { header = "yajl/yajl_parse.h" },
  SIMDJSON = { header = "simdjson.h" },
  -- the sans-I/O HTTP/1.1 layer soget.ngx drives over cosockets
  HTTP_PARSER = { header = "http_parser.h" },
  ZLIB = { header = "zlib.h" },
}

build = {
  type = "builtin",
  modules = {
    soget = {
      -- lua_soget.c, every src/*/*.c and src/core/json.cpp (spec/install
      -- checks the list).
      sources = {
        "lua_soget.c",
        "src/core/auth.c",
        "src/core/body.c",
        "src/core/buf.c",
        "src/core/call.c",
        "src/core/clock.c",
        "src/core/cursor.c",
        "src/core/error.c",
        "src/core/http.c",
        "src/core/http1.c",
        "src/core/iso6346.c",
        "src/core/json.cpp",
        "src/core/request.c",
        "src/core/text.c",
        "src/io/curl_easy.c",
        "src/io/curl_multi.c",
        "src/io/scripted.c",
        "src/lua/bulk.c",
        "src/lua/class.c",
        "src/lua/client.c",
        "src/lua/compat.c",
        "src/lua/decode.c",
        "src/lua/errors.c",
        "src/lua/facts.c",
        "src/lua/http.c",
        "src/lua/module.c",
        "src/lua/options.c",
        "src/lua/paging.c",
        "src/lua/privfile.c",
      },
      -- simdjson is C++: json.cpp is compiled by the C compiler's driver
      -- as C++ (by its name), and the module links the C++ runtime.
      libraries = { "curl", "yajl", "simdjson", "stdc++", "http_parser", "z" },
      incdirs = { "src", "$(CURL_INCDIR)", "$(YAJL_INCDIR)", "$(SIMDJSON_INCDIR)",
        "$(HTTP_PARSER_INCDIR)", "$(ZLIB_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(YAJL_LIBDIR)", "$(SIMDJSON_LIBDIR)", "$(HTTP_PARSER_LIBDIR)",
        "$(ZLIB_LIBDIR)" },
    },
    ["soget.ngx"] = "lua/soget/ngx.lua",
    -- the soget command: bin/soget runs soget.cli (spec/install checks
    -- that every lua/**.lua is listed)
    ["soget.cli"] = "lua/soget/cli/init.lua",
    ["soget.cli.args"] = "lua/soget/cli/args.lua",
    ["soget.cli.cache"] = "lua/soget/cli/cache.lua",
    ["soget.cli.commands.bulk"] = "lua/soget/cli/commands/bulk.lua",
    ["soget.cli.commands.check"] = "lua/soget/cli/commands/check.lua",
    ["soget.cli.commands.find"] = "lua/soget/cli/commands/find.lua",
    ["soget.cli.commands.search"] = "lua/soget/cli/commands/search.lua",
    ["soget.cli.commands.track"] = "lua/soget/cli/commands/track.lua",
    ["soget.cli.commands.watch"] = "lua/soget/cli/commands/watch.lua",
    ["soget.cli.config"] = "lua/soget/cli/config.lua",
    ["soget.cli.exit"] = "lua/soget/cli/exit.lua",
    ["soget.cli.output"] = "lua/soget/cli/output.lua",
    ["soget.cli.query"] = "lua/soget/cli/query.lua",
    ["soget.cli.session"] = "lua/soget/cli/session.lua",
    ["soget.cli.sys"] = "lua/soget/cli/sys.lua",
    ["soget.cli.units"] = "lua/soget/cli/units.lua",
    ["soget.cli.view"] = "lua/soget/cli/view.lua",
    ["soget.cli.walk"] = "lua/soget/cli/walk.lua",
  },
  install = {
    bin = { soget = "bin/soget" },
  },
}

test = {
  type = "busted",
}
