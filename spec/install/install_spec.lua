-- Installing soget like a Lua module: with its rockspec (luarocks make, no
-- network) and with make install, each into a temporary prefix, then
-- loading it from there in a fresh interpreter of the runtime under test.
local sh = require "install.shell"

local file, rockspec = sh.rockspec()
local version = rockspec.version and rockspec.version:match("^(.-)%-%d+$")
local expected = "soget " .. tostring(version)

local load_from = sh.load_from

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

-- Objects and libraries in the source tree outside build/ (and the
-- sandbox's node_modules), sorted.
local function stray_objects()
  local out = sh.check("find . \\( -path ./build -o -path ./.git -o -name node_modules \\) -prune"
    .. " -o -type f \\( -name '*.o' -o -name '*.so' -o -name '*.a' \\) -print | sort")
  local t = {}
  for line in out:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

local lua_incdir = sh.lua_incdir

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

  it("declares the runtimes, libcurl, libyajl, simdjson, libhttp-parser and zlib, and no lua-cjson", function()
    local deps = {}
    for _, d in ipairs(rockspec.dependencies) do deps[d] = true end
    assert.is_true(deps["lua >= 5.1, < 5.5"])
    assert.is_nil(deps["lua-cjson"])   -- the module reads every body with libyajl
    assert.is_table(rockspec.external_dependencies.CURL)
    assert.is_table(rockspec.external_dependencies.YAJL)
    assert.is_table(rockspec.external_dependencies.SIMDJSON)
    assert.is_table(rockspec.external_dependencies.HTTP_PARSER)
    assert.is_table(rockspec.external_dependencies.ZLIB)
  end)

  it("builds with the Makefile's rock target into build/luarocks, and installs from there", function()
    local b = rockspec.build
    assert.are.equal("make", b.type)
    assert.are.equal("rock", b.build_target)
    assert.are.equal(false, b.install_pass)
    assert.are.same({ soget = "build/luarocks/soget.so" }, b.install.lib)
    assert.truthy(sh.read_all("Makefile"):find("\nROCK_DIR = build/luarocks\n", 1, true))
    -- every library found is passed on
    for name in pairs(rockspec.external_dependencies) do
      assert.truthy(b.build_variables.LDFLAGS:find("-L$(" .. name .. "_LIBDIR)", 1, true), name)
      local flags = b.build_variables.CFLAGS .. " " .. b.build_variables.CXXFLAGS
      assert.truthy(flags:find("-I$(" .. name .. "_INCDIR)", 1, true), name)
    end
  end)

  it("installs every Lua file, the soget command's modules included", function()
    local want = {}
    for _, f in ipairs(lua_files()) do
      want[(f:gsub("%.lua$", ""):gsub("/", "."))] = "lua/" .. f
    end
    assert.are.same(want, rockspec.build.install.lua)
    assert.are.equal("lua/soget/cli/init.lua", rockspec.build.install.lua["soget.cli.init"])
    assert.are.same({ soget = "bin/soget" }, rockspec.build.install.bin)
  end)

  it("is MIT-licensed, as LICENSE says", function()
    assert.are.equal("MIT", rockspec.description.license)
    local text = sh.read_all("LICENSE")
    assert.truthy(text:find("^MIT License\n\nCopyright %(c%) %d%d%d%d the soget authors\n"), text)
    assert.truthy(text:find("Permission is hereby granted, free of charge", 1, true))
  end)

  it("describes its source as the tarball make dist makes", function()
    assert.are.same({ url = "soget-" .. version .. ".tar.gz", dir = "soget-" .. version },
      rockspec.source)
  end)

  it("runs the suite with luarocks test (spec/run, which runs busted), offline", function()
    assert.are.same({ type = "command", command = "spec/run" }, rockspec.test)
    assert.truthy(sh.read_all("spec/run"):find('"$LUA" /usr/bin/busted "$@"', 1, true))
    assert.is_true(sh.have("luarocks"), "luarocks is needed (Debian package luarocks; make deps)")
    -- one spec file, through a second sandbox of its own
    local code, out = sh.run("luarocks test --lua-version=" .. sh.abi .. " " .. sh.quote(file)
      .. " -- spec/unit/iso6346_spec.lua", 120)
    assert.are.equal(0, code, out)
    assert.truthy(("\n" .. out):find("\nspec/run: [^\n]*, module from [^\n]*, sandbox pid %d+\n"), out)
    assert.truthy(out:find("\n(%d+) successes / 0 failures / 0 errors / 0 pending"), out)
  end)

  it("passes luarocks lint", function()
    assert.is_true(sh.have("luarocks"), "luarocks is needed (Debian package luarocks; make deps)")
    local code, out = sh.run("luarocks lint " .. sh.quote(file), 60)
    assert.are.equal(0, code, out)
    assert.are.equal("", out)
  end)
end)

-- A build into a folder built before: with the same settings, nothing is
-- made again; with other flags (or another compiler), every object is. A
-- copy of the runtime's own build (plain runs: the module under test is
-- that build), rebuilt with echo for compilers, which makes nothing.
local BUILD = sh.runtime == "jit" and "build/luajit" or "build/lua" .. sh.runtime
if os.getenv("SOGET_MODULE_DIR") == BUILD then
  describe("building again into a built folder", function()
    it("makes nothing with the same settings, and every object with other flags", function()
      local tmp = sh.mktemp()
      local copy = tmp .. "/build"
      sh.check("cp -pR " .. sh.quote(BUILD) .. " " .. sh.quote(copy))
      local make = "make --no-print-directory build LUA_VERSION=" .. sh.runtime .. " BUILD_DIR=" .. sh.quote(copy)
      local same = sh.check(make .. " 2>&1")
      local other = sh.check(make .. " CPPFLAGS=-DSOGET_FLAGS_PROBE CC='echo cc' CXX='echo c++' 2>&1")
      sh.rmtree(tmp)
      assert.truthy(same == "" or same:find("^make: Nothing to be done for 'build'%.\n$"), same)
      local compiled = 0
      for line in other:gmatch("[^\n]+") do
        if line:find(" -c ", 1, true) and not line:find("^echo ") then
          assert.truthy(line:find("-DSOGET_FLAGS_PROBE", 1, true), line)
          compiled = compiled + 1
        end
      end
      local sources = 0
      for _ in sh.check("ls lua_soget.c src/*/*.c src/*/*.cpp"):gmatch("[^\n]+") do sources = sources + 1 end
      assert.are.equal(sources, compiled, other)
    end)
  end)
end

describe("installing", function()
  local tmp

  before_each(function() tmp = sh.mktemp() end)
  after_each(function()
    sh.rmtree(tmp)
    tmp = nil
  end)

  it("with luarocks make --deps-mode=none into a tree, leaving no object in the source tree", function()
    assert.is_true(sh.have("luarocks"), "luarocks is needed (Debian package luarocks; make deps)")
    local before = stray_objects()
    local cmd = "luarocks make --tree=" .. sh.quote(tmp .. "/tree") .. " --deps-mode=none"
      .. " --lua-version=" .. sh.abi .. " " .. sh.quote(file)
    local incdir = lua_incdir()
    if incdir then cmd = cmd .. " LUA_INCDIR=" .. sh.quote(incdir) end
    sh.check(cmd)
    -- objects in build/luarocks only: no *.o among the sources, no ./soget.so
    assert.are.same(before, stray_objects())
    assert.is_false(sh.exists("soget.so"))
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
    -- Built by the Makefile, the module exports its entry point alone.
    assert.are.same({ "luaopen_soget" }, exported_functions(so))

    -- The tree's bin/soget finds the tree it was installed in, with no
    -- `luarocks path`, from another directory and through a symbolic link.
    -- It runs LuaRocks' interpreter for the ABI (Debian's: lua5.1 for 5.1,
    -- not LuaJIT): under LuaJIT, the rock's script runs directly.
    local program, interpreter = tmp .. "/tree/bin/soget", nil
    if sh.runtime == "jit" then
      program = tmp .. "/tree/lib/luarocks/rocks-5.1/soget/" .. rockspec.version .. "/bin/soget"
      interpreter = sh.lua
    end
    check_installed_command(program, nil, interpreter)
    sh.check("mkdir " .. sh.quote(tmp .. "/links") .. " && ln -s " .. sh.quote(program) .. " "
      .. sh.quote(tmp .. "/links/soget"))
    check_installed_command(tmp .. "/links/soget", nil, interpreter)
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
    -- through a symbolic link in another directory, and a link to that link
    sh.check("mkdir " .. sh.quote(tmp .. "/links") .. " && ln -s " .. sh.quote(tmp .. "/bin/soget")
      .. " " .. sh.quote(tmp .. "/links/soget") .. " && ln -s soget " .. sh.quote(tmp .. "/links/sg"))
    check_installed_command(tmp .. "/links/soget")
    check_installed_command(tmp .. "/links/sg")
  end)

  it("with make install PREFIX=relative/path: the command knows the absolute paths", function()
    local rel = sh.check("realpath --relative-to=. " .. sh.quote(tmp)):gsub("%s+$", "") .. "/rel"
    assert.truthy(rel:find("^%.%./"), rel)
    sh.check("make install LUA_VERSION=" .. sh.runtime .. " PREFIX=" .. sh.quote(rel))
    local launcher = sh.read_all(tmp .. "/rel/bin/soget")
    local luadir, libdir = launcher:match('\nlocal LUADIR, LIBDIR = "([^"]*)", "([^"]*)"\n')
    assert.are.equal(tmp .. "/rel/share/lua/" .. sh.abi, luadir)
    assert.are.equal(tmp .. "/rel/lib/lua/" .. sh.abi, libdir)
    check_installed_command(tmp .. "/rel/bin/soget")
  end)

  it("says where it looked, and how to fix it, when the module is gone", function()
    sh.check("make install LUA_VERSION=" .. sh.runtime .. " PREFIX=" .. sh.quote(tmp))
    local libdir = tmp .. "/lib/lua/" .. sh.abi
    sh.check("mkdir " .. sh.quote(tmp .. "/away") .. " && mv " .. sh.quote(libdir .. "/soget.so")
      .. " " .. sh.quote(tmp .. "/away/"))
    local code, out = run_installed(tmp .. "/bin/soget", "check CSQU3054383")
    assert.are.equal(3, code, out)
    assert.truthy(out:find("^soget: cannot load the soget module %(soget.so, built for Lua %d.%d%)"), out)
    -- Lua's whole list of the files tried, the installed folder first among the .so
    assert.truthy(out:find("\tno file '" .. libdir .. "/soget.so'\n", 1, true), out)
    -- (and nothing from the folder it runs in: see env_spec)
    assert.is_nil(out:find("\tno file './", 1, true), out)
    for _, fix in ipairs { "SOGET_MODULE_DIR", "luarocks path --tree=TREE", "LUA_CPATH",
                           'eval "$(make env)"', "make install PREFIX=" } do
      assert.truthy(out:find(fix, 1, true), fix .. " not in: " .. out)
    end
    -- SOGET_MODULE_DIR names the folder that holds it
    code, out = run_installed(tmp .. "/bin/soget", "check CSQU3054383",
      { SOGET_MODULE_DIR = tmp .. "/away" })
    assert.are.equal(0, code, out)
    -- the Lua files gone: the launcher's own message, whole
    sh.check("mv " .. sh.quote(tmp .. "/share/lua/" .. sh.abi .. "/soget/cli") .. " "
      .. sh.quote(tmp .. "/away/"))
    code, out = run_installed(tmp .. "/bin/soget", "check CSQU3054383")
    assert.are.equal(3, code, out)
    assert.truthy(out:find("^soget: cannot load the soget.cli modules"), out)
    assert.truthy(out:find("\tno file '" .. tmp .. "/share/lua/" .. sh.abi .. "/soget/cli/init.lua'\n",
      1, true), out)
    assert.truthy(out:find("this launcher looked in " .. tmp .. "/share/lua/" .. sh.abi, 1, true), out)
  end)

  it("refuses a PREFIX or DESTDIR holding a space, making nothing anywhere", function()
    for _, v in ipairs { "PREFIX=" .. sh.quote(tmp .. "/a b"), "DESTDIR=" .. sh.quote(tmp .. "/c d"),
                         "PREFIX=" .. sh.quote(tmp .. "/p") .. " BASH_COMPLETIONDIR=" .. sh.quote(tmp .. "/e f") } do
      local code, out = sh.run("make install LUA_VERSION=" .. sh.runtime .. " " .. v .. " 2>&1", 300)
      assert.are_not.equal(0, code, out)
      assert.truthy(out:find("make install: DESTDIR, PREFIX and the install folders cannot hold a "
        .. "space", 1, true), out)
    end
    assert.are.equal("", (sh.check("ls -A " .. sh.quote(tmp)):gsub("%s+$", "")))
    assert.is_false(sh.exists("b"))   -- (the word after the space, in the tree)
    assert.is_false(sh.exists("d"))
    assert.is_false(sh.exists("f"))
  end)

  it("refuses a '~' (zsh and sh pass it as it is) and shell characters, making nothing anywhere", function()
    for _, c in ipairs {
      { "PREFIX='~/.local'", "a '~' reaches make as it is (zsh, sh): write $HOME instead" },
      { "PREFIX=" .. sh.quote(tmp .. '/q"x'), "can hold letters, digits and / . _ + , : @ = - only" },
      { "DESTDIR=" .. sh.quote(tmp .. "/s$x;y"), "can hold letters, digits and / . _ + , : @ = - only" },
      { "PREFIX=" .. sh.quote(tmp .. "/p|q"), "can hold letters, digits and / . _ + , : @ = - only" },
    } do
      -- (HOME in tmp: were '~' taken, by bash, nothing would land in the real one)
      local code, out = sh.run("HOME=" .. sh.quote(tmp) .. " make install LUA_VERSION=" .. sh.runtime
        .. " " .. c[1] .. " 2>&1", 300)
      assert.are_not.equal(0, code, out)
      assert.truthy(out:find("make install: ", 1, true) and out:find(c[2], 1, true), out)
    end
    assert.are.equal("", (sh.check("ls -A " .. sh.quote(tmp)):gsub("%s+$", "")))
    assert.is_false(sh.exists("~"))   -- (a folder named '~' in the tree)
    assert.is_false(sh.exists("q"))   -- (the word after the "|", in the tree)
  end)

  it("with make install DESTDIR=... (staged), its files readable by all whatever the umask", function()
    sh.check("umask 077; make install LUA_VERSION=" .. sh.runtime
      .. " PREFIX=/usr/local DESTDIR=" .. sh.quote(tmp .. "/stage"))
    local modes = sh.check("cd " .. sh.quote(tmp .. "/stage") .. " && find . -type f -printf '%m %p\\n'")
    for line in modes:gmatch("[^\n]+") do
      assert.truthy(line:match("^644 ") or line:match("^755 "), line)
    end
    assert.truthy(modes:find("644 ./usr/local/lib/pkgconfig/soget.pc", 1, true), modes)
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
