-- A C host against the installed kit: make install into a temporary prefix
-- (libsoget.a, soget.h, soget.pc), then the README's host.c, exactly as
-- written there, built with `cc host.c $(pkg-config --cflags --libs soget
-- <lua>)` for the runtime under test and run against the sandbox (spec/run
-- exports the settings the default client reads).
local sh = require "install.shell"
require "support"   -- fails early, and clearly, without a sandbox

-- The README's host.c: the ```c block that starts with "/* host.c".
local function readme_host()
  local readme = sh.read_all("README.md")
  local code = readme:match("\n```c\n(/%* host%.c.-\n)```\n")
  assert(code, "README.md has no ```c block starting with /* host.c")
  return code
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("soget.pc, soget.h and libsoget.a", function()
  local tmp, pc_env

  setup(function()
    tmp = sh.mktemp()
    sh.check("make install LUA_VERSION=" .. sh.runtime .. " PREFIX=" .. sh.quote(tmp .. "/prefix"))
    pc_env = "export PKG_CONFIG_PATH=" .. sh.quote(tmp .. "/prefix/lib/pkgconfig") .. "; "
  end)
  teardown(function() sh.rmtree(tmp) end)

  local function pkg(args)
    return (sh.check(pc_env .. "pkg-config " .. args):gsub("%s+$", ""))
  end

  it("are installed under PREFIX, soget.pc naming the version and the Lua it was built for", function()
    for _, f in ipairs { "/lib/libsoget.a", "/include/soget.h", "/lib/pkgconfig/soget.pc" } do
      assert.is_true(sh.exists(tmp .. "/prefix" .. f), f .. " missing")
    end
    assert.are.equal(sh.read_all("include/soget.h"), sh.read_all(tmp .. "/prefix/include/soget.h"))
    local version = require("soget")._VERSION:match("^soget (.+)$")
    assert.are.equal(version, pkg("--modversion soget"))
    assert.are.equal(sh.pc, pkg("--variable=lua_pc soget"))
    assert.are.equal(tmp .. "/prefix", pkg("--variable=prefix soget"))
    -- no Lua of its own: the host names the one it embeds
    assert.are.equal("libcurl", pkg("--print-requires soget"))
    local libs = " " .. pkg("--libs soget") .. " "
    for _, l in ipairs { "-L" .. tmp .. "/prefix/lib", "-lsoget", "-lcurl", "-lyajl", "-lsimdjson",
                         "-lstdc++", "-lhttp_parser", "-lz", "-lm", "-ldl" } do
      assert.truthy(libs:find(" " .. l .. " ", 1, true), l .. " not in" .. libs)
    end
    assert.falsy(libs:find("-llua", 1, true), libs)
    assert.truthy(pkg("--cflags soget"):find("-I" .. tmp .. "/prefix/include", 1, true))
    -- the archive holds the entry point, and the header declares it
    assert.truthy(sh.check("nm " .. sh.quote(tmp .. "/prefix/lib/libsoget.a")):find(" T luaopen_soget\n", 1, true))
    assert.truthy(sh.read_all("include/soget.h"):find("\nint luaopen_soget%(lua_State %*L%);\n"))
  end)

  it("build the README's host.c with pkg-config, which runs a lookup with soget preloaded", function()
    write(tmp .. "/host.c", readme_host())
    sh.check("cd " .. sh.quote(tmp) .. " && " .. pc_env .. "cc -std=c11 -Wall -Wextra -Werror host.c"
      .. " $(pkg-config --cflags --libs soget " .. sh.pc .. ") -o host")
    write(tmp .. "/track.lua", [[
      local soget = require "soget"
      local page = assert(soget.handling_units { reference = "CGMU2436601", limit = 1 })
      print(soget._VERSION, page.items[1].reference, page.items[1].pswId)
    ]])
    -- no soget.so anywhere Lua would look: the module is the one linked in
    local code, out = sh.run("cd " .. sh.quote(tmp) .. " && env LUA_CPATH=/nonexistent/?.so"
      .. " LUA_CPATH_5_2=/nonexistent/?.so LUA_CPATH_5_3=/nonexistent/?.so"
      .. " LUA_CPATH_5_4=/nonexistent/?.so ./host track.lua", 60)
    assert.are.equal(0, code, out)
    assert.are.equal(require("soget")._VERSION .. "\tCGMU2436601\tCNI0000063978\n", out)
    -- an error ends it with status 1 and the message
    write(tmp .. "/boom.lua", 'error("boom")\n')
    code, out = sh.run("cd " .. sh.quote(tmp) .. " && ./host boom.lua", 60)
    assert.are.equal(1, code, out)
    assert.truthy(out:find("boom", 1, true), out)
    -- a soget.Error raised as it is: its own words (__tostring)
    write(tmp .. "/raised.lua", [[
local s = require "soget"
local c = s.client { access_token = "t", api_key = "k", retries = 0,
  base_url = "http://127.0.0.1:9/api-tracing-code/v1" }
local _, e = c:handling_units("CGMU2436601")
error(e)
]])
    code, out = sh.run("cd " .. sh.quote(tmp) .. " && ./host raised.lua", 60)
    assert.are.equal(1, code, out)
    assert.truthy(out:find("^soget: network: "), out)
    -- an error value whose __tostring raises: an error, not a panic
    write(tmp .. "/bad.lua", 'error(setmetatable({}, { __tostring = function() error("boom") end }))\n')
    code, out = sh.run("cd " .. sh.quote(tmp) .. " && ./host bad.lua", 60)
    assert.are.equal(1, code, out)
    assert.is_nil(out:find("PANIC", 1, true), out)
  end)

  it("let a C++ host include soget.h first, whatever the runtime's lua.h", function()
    -- (LuaJIT's lua.h declares nothing extern "C" itself)
    write(tmp .. "/cxx.cpp", [[
#include <soget.h>
extern "C" {
#include <lauxlib.h>
#include <lualib.h>
}
int main() {
  lua_State *L = luaL_newstate();
  if (L == 0) return 2;
  lua_pushcfunction(L, luaopen_soget);
  lua_call(L, 0, 1);
  int ok = lua_istable(L, -1);
  lua_close(L);
  return ok ? 0 : 1;
}
]])
    sh.check("cd " .. sh.quote(tmp) .. " && " .. pc_env .. "g++ -Wall -Wextra -Werror cxx.cpp"
      .. " $(pkg-config --cflags --libs soget " .. sh.pc .. ") -o cxx")
    local code, out = sh.run("cd " .. sh.quote(tmp) .. " && ./cxx", 60)
    assert.are.equal(0, code, out)
  end)

  it("make a host that valgrind finds clean: no errors, no leaks", function()
    assert.is_true(sh.have("valgrind"), "valgrind is needed (Debian package valgrind; make deps)")
    if not sh.exists(tmp .. "/host") then
      write(tmp .. "/host.c", readme_host())
      sh.check("cd " .. sh.quote(tmp) .. " && " .. pc_env .. "cc -std=c11 host.c"
        .. " $(pkg-config --cflags --libs soget " .. sh.pc .. ") -o host")
    end
    write(tmp .. "/one.lua", [[
      local soget = require "soget"
      local page = assert(soget.handling_units { reference = "CGMU2436601", limit = 1 })
      assert(page.items[1].reference == "CGMU2436601")
    ]])
    local code, out = sh.run("cd " .. sh.quote(tmp) .. " && valgrind -q --leak-check=full"
      .. " --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 ./host one.lua", 300)
    assert.are.equal(0, code, out)
    assert.are.equal("", out)
  end)
end)

-- The README's remark on a static Lua, on Debian's liblua5.4.a (in the 5.4
-- run): soget, linked in, needs nothing, but a C module a script loads from
-- disk (lua-cjson's cjson.so) finds the Lua API only in a program linked
-- with -Wl,-E.
if sh.runtime ~= "5.4" then return end

describe("a host with a static Lua 5.4", function()
  local tmp
  local static_lua = "/usr/lib/x86_64-linux-gnu/liblua5.4.a"

  setup(function()
    tmp = sh.mktemp()
    sh.check("make install LUA_VERSION=5.4 PREFIX=" .. sh.quote(tmp .. "/prefix"))
    write(tmp .. "/host.c", readme_host())
    write(tmp .. "/alone.lua", 'print(require("soget").check_container_number("CSQU3054383"))\n')
    write(tmp .. "/uses_cjson.lua", 'local soget = require "soget"\n'
      .. 'local cjson = require "cjson"\nprint(soget._VERSION, cjson.encode({ 1 }))\n')
  end)
  teardown(function() sh.rmtree(tmp) end)

  local function build(extra)
    local lua_static = sh.exists(static_lua) and static_lua
      or sh.check("pkg-config --variable=libdir lua5.4"):gsub("%s+$", "") .. "/liblua5.4.a"
    sh.check("cd " .. sh.quote(tmp) .. " && export PKG_CONFIG_PATH=" .. sh.quote(tmp .. "/prefix/lib/pkgconfig")
      .. "; cc -std=c11 " .. extra .. " host.c $(pkg-config --cflags soget lua5.4) "
      .. sh.quote(lua_static) .. " $(pkg-config --libs soget) -ldl -o host")
  end

  it("runs soget alone without -Wl,-E; needs -Wl,-E for cjson.so", function()
    build("")
    local code, out = sh.run("cd " .. sh.quote(tmp) .. " && ./host alone.lua", 60)
    assert.are.equal(0, code, out)
    assert.are.equal("true\n", out)
    code, out = sh.run("cd " .. sh.quote(tmp) .. " && ./host " .. sh.quote(tmp .. "/uses_cjson.lua"), 60)
    assert.are.equal(1, code, out)
    assert.truthy(out:find("cjson.so: undefined symbol: lua_", 1, true), out)
    build("-Wl,-E")
    code, out = sh.run("cd " .. sh.quote(tmp) .. " && ./host " .. sh.quote(tmp .. "/uses_cjson.lua"), 60)
    assert.are.equal(0, code, out)
    assert.are.equal(require("soget")._VERSION .. "\t[1]\n", out)
  end)
end)
