-- Installing soget like a Lua module: with its rockspec (luarocks make, no
-- network) and with make install, each into a temporary prefix, then
-- loading it from there in a fresh interpreter of the runtime under test.
local sh = require "install.shell"

local file, rockspec = sh.rockspec()
local version = rockspec.version and rockspec.version:match("^(.-)%-%d+$")
local expected = "soget " .. tostring(version)

-- Loads soget in a new process with package.cpath = cpath only (and an
-- empty package.path): the module needs no other Lua module. Prints
-- _VERSION.
local function load_from(cpath)
  local code = 'package.path = ""; package.cpath = '
    .. ("%q"):format(cpath)
    .. '; local s = require("soget"); io.write(s._VERSION)'
  return sh.run(sh.quote(sh.lua) .. " -e " .. sh.quote(code), 60)
end

-- The functions a shared object exports: the names nm -D --defined-only
-- lists as T or W (text, weak), sorted.
local function exported_functions(so)
  assert.is_true(sh.have("nm"), "nm is needed (Debian package binutils)")
  local out = sh.check("nm -D --defined-only " .. sh.quote(so))
  local names = {}
  for line in out:gmatch("[^\n]+") do
    local kind, name = line:match("^%x*%s+(%a)%s+(%S+)$")
    if kind == "T" or kind == "W" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- Every Lua file under lua/, relative to it (soget/ngx.lua, soget/cli/...).
local function lua_files()
  local t = {}
  local p = assert(io.popen("cd lua && find . -name '*.lua' | sort"))
  for line in p:lines() do t[#t + 1] = line:gsub("^%./", "") end
  p:close()
  return t
end

-- Runs an installed soget command from another directory, with no Lua
-- paths from the environment but those of paths ({LUA_PATH = ...}).
-- interpreter: the one to run program with (default: its #! line's).
local function run_installed(program, args, paths, interpreter)
  local cmd = "cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4"
    .. " -u SOGET_MODULE_DIR"
  for k, v in pairs(paths or {}) do cmd = cmd .. " " .. k .. "=" .. sh.quote(v) end
  if interpreter then cmd = cmd .. " " .. sh.quote(interpreter) end
  return sh.run(cmd .. " " .. sh.quote(program) .. " " .. args, 60)
end

-- The installed command: its help, and a command that needs the module.
local function check_installed_command(program, paths, interpreter)
  local code, out = run_installed(program, "--help", paths, interpreter)
  assert.are.equal(0, code, out)
  assert.truthy(out:find("^Usage: soget"), out)
  assert.truthy(out:find("Exit codes:", 1, true), out)
  code, out = run_installed(program, "check CSQU3054383", paths, interpreter)
  assert.are.equal(0, code, out)
  assert.are.equal("CSQU3054383: valid ISO 6346 container number\n", out)
end

-- -I flags for the runtime's headers from pkg-config (empty when unknown).
local function lua_incdir()
  local p = io.popen("pkg-config --cflags-only-I " .. sh.pc .. " 2>/dev/null")
  local out = p and p:read("*a") or ""
  if p then p:close() end
  return out:match("%-I(%S+)")
end

describe("the rockspec", function()
  it("is named after its package and version", function()
    assert.are.equal("soget", rockspec.package)
    assert.are.equal("soget-" .. rockspec.version .. ".rockspec", file)
    assert.are.equal("3.0", rockspec.rockspec_format)
  end)

  it("has the version the module reports", function()
    assert.are.equal(expected, require("soget")._VERSION)
    local h = sh.read_all("src/core/version.h")
    assert.are.equal(version, h:match('#define SOGET_VERSION "([^"]+)"'))
  end)

  it("declares the runtimes, libcurl, libyajl, simdjson, libhttp-parser, zlib and busted, and no lua-cjson", function()
    local deps = {}
    for _, d in ipairs(rockspec.dependencies) do deps[d] = true end
    assert.is_true(deps["lua >= 5.1, < 5.5"])
    assert.is_nil(deps["lua-cjson"])   -- the module reads every body with libyajl
    assert.is_table(rockspec.external_dependencies.CURL)
    assert.is_table(rockspec.external_dependencies.YAJL)
    assert.is_table(rockspec.external_dependencies.SIMDJSON)
    assert.is_table(rockspec.external_dependencies.HTTP_PARSER)
    assert.is_table(rockspec.external_dependencies.ZLIB)
    assert.are.equal("builtin", rockspec.build.type)
    assert.are.same({ "curl", "yajl", "simdjson", "stdc++", "http_parser", "z" },
      rockspec.build.modules.soget.libraries)
    assert.are.equal("busted", rockspec.test.type)
  end)

  it("installs every Lua file, the soget command's modules included", function()
    local want = {}
    for _, f in ipairs(lua_files()) do
      local name = f:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      want[name] = "lua/" .. f
    end
    local got = {}
    for name, m in pairs(rockspec.build.modules) do
      if type(m) == "string" then got[name] = m end
    end
    assert.are.same(want, got)
    assert.are.equal("lua/soget/cli/init.lua", got["soget.cli"])
    assert.are.same({ soget = "bin/soget" }, rockspec.build.install.bin)
  end)

  it("builds lua_soget.c and every src/*/*.c and *.cpp", function()
    local want = {}
    local p = assert(io.popen("ls lua_soget.c src/*/*.c src/*/*.cpp"))
    for line in p:lines() do want[#want + 1] = line end
    p:close()
    local got = {}
    for _, s in ipairs(rockspec.build.modules.soget.sources) do got[#got + 1] = s end
    table.sort(want)
    table.sort(got)
    assert.are.same(want, got)
  end)
end)

describe("installing", function()
  local tmp

  before_each(function() tmp = sh.mktemp() end)
  after_each(function()
    sh.rmtree(tmp)
    tmp = nil
  end)

  it("with luarocks make --deps-mode=none into a tree", function()
    assert.is_true(sh.have("luarocks"), "luarocks is needed (Debian package luarocks; make deps)")
    -- Built from a copy so the source tree gets no objects.
    sh.check("mkdir -p " .. sh.quote(tmp .. "/src") .. " && cp -R lua_soget.c src lua bin "
      .. sh.quote(file) .. " " .. sh.quote(tmp .. "/src/"))
    local cmd = "cd " .. sh.quote(tmp .. "/src") .. " && luarocks make"
      .. " --tree=" .. sh.quote(tmp .. "/tree") .. " --deps-mode=none"
      .. " --lua-version=" .. sh.abi .. " " .. sh.quote(file)
    local incdir = lua_incdir()
    if incdir then cmd = cmd .. " LUA_INCDIR=" .. sh.quote(incdir) end
    sh.check(cmd)
    local so = tmp .. "/tree/lib/lua/" .. sh.abi .. "/soget.so"
    assert.is_true(sh.exists(so), so .. " missing")
    for _, f in ipairs(lua_files()) do
      f = "/tree/share/lua/" .. sh.abi .. "/" .. f
      assert.is_true(sh.exists(tmp .. f), f .. " missing")
    end
    assert.is_true(sh.exists(tmp .. "/tree/bin/soget"), "bin/soget missing")
    local code, out = load_from(tmp .. "/tree/lib/lua/" .. sh.abi .. "/?.so")
    assert.are.equal(0, code, out)
    assert.are.equal(expected, out)
    -- LuaRocks compiles without -fvisibility=hidden: the headers hide the
    -- module's own functions all the same. What the compiler instantiates
    -- out of line from simdjson's header (C++ inline functions: weak, of
    -- the simdjson namespace) stays exported there; nothing of soget's.
    local own = {}
    for _, name in ipairs(exported_functions(so)) do
      if not (name:match("^_ZN[KR]?8simdjson") or name:match("^_ZN[K]?St")) then own[#own + 1] = name end
    end
    assert.are.same({ "luaopen_soget" }, own)

    -- A tree off the default paths is used through `luarocks path`.
    local paths = {}
    for var, flag in pairs { LUA_PATH = "--lr-path", LUA_CPATH = "--lr-cpath" } do
      paths[var] = sh.check("luarocks path " .. flag .. " --tree=" .. sh.quote(tmp .. "/tree")
        .. " --lua-version=" .. sh.abi):gsub("%s+$", "") .. ";;"
    end
    -- Its bin/soget runs LuaRocks' interpreter for the ABI (Debian's: lua5.1
    -- for 5.1, not LuaJIT): under LuaJIT, the rock's script runs directly.
    if sh.runtime == "jit" then
      check_installed_command(tmp .. "/tree/lib/luarocks/rocks-5.1/soget/" .. rockspec.version
        .. "/bin/soget", paths, sh.lua)
    else
      check_installed_command(tmp .. "/tree/bin/soget", paths)
    end
  end)

  it("with make install PREFIX=...", function()
    sh.check("make install LUA_VERSION=" .. sh.runtime .. " PREFIX=" .. sh.quote(tmp))
    local dir = tmp .. "/lib/lua/" .. sh.abi
    assert.is_true(sh.exists(dir .. "/soget.so"))
    assert.are.same({ "luaopen_soget" }, exported_functions(dir .. "/soget.so"))
    assert.is_true(sh.exists(tmp .. "/share/lua/" .. sh.abi .. "/soget/ngx.lua"))
    -- and where OpenResty's LuaJIT looks, whatever the runtime
    assert.is_true(sh.exists(tmp .. "/share/lua/5.1/soget/ngx.lua"))
    for _, f in ipairs(lua_files()) do
      f = tmp .. "/share/lua/" .. sh.abi .. "/" .. f
      assert.is_true(sh.exists(f), f .. " missing")
    end
    assert.is_true(sh.exists(tmp .. "/bin/soget"))
    local code, out = load_from(dir .. "/?.so")
    assert.are.equal(0, code, out)
    assert.are.equal(expected, out)
    check_installed_command(tmp .. "/bin/soget")
  end)

  it("with make install DESTDIR=... (staged)", function()
    sh.check("make install LUA_VERSION=" .. sh.runtime
      .. " PREFIX=/usr/local DESTDIR=" .. sh.quote(tmp .. "/stage"))
    local dir = tmp .. "/stage/usr/local/lib/lua/" .. sh.abi
    assert.is_true(sh.exists(dir .. "/soget.so"))
    local code, out = load_from(dir .. "/?.so")
    assert.are.equal(0, code, out)
    assert.are.equal(expected, out)
    assert.is_true(sh.exists(tmp .. "/stage/usr/local/share/lua/" .. sh.abi .. "/soget/cli/init.lua"))
    -- the command knows where its files will be, not where they were staged
    local launcher = sh.read_all(tmp .. "/stage/usr/local/bin/soget")
    assert.truthy(launcher:find('\nlocal LUADIR, LIBDIR = "/usr/local/share/lua/' .. sh.abi
      .. '", "/usr/local/lib/lua/' .. sh.abi .. '"\n', 1, true), launcher)
  end)
end)
