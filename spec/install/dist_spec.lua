-- make dist: the tarball the rockspec's source names, made from git. It is
-- unpacked and built with luarocks make, offline, into a temporary tree;
-- and built by luarocks build from the tarball beside its rockspec.
local sh = require "install.shell"

local file, rockspec = sh.rockspec()
local version = rockspec.version:match("^(.-)%-%d+$")
local dist = "soget-" .. version
local expected = "soget " .. version

local function lines(s)
  local t = {}
  for line in s:gmatch("[^\n]+") do t[#t + 1] = line end
  table.sort(t)
  return t
end

-- The revision to pack: the tracked files as they are in the work tree
-- (git stash create makes a commit of them without touching anything, and
-- prints nothing when there is no change), so the tree under test is the
-- one packed. nil outside a git checkout.
local function revision()
  if sh.run("git rev-parse --is-inside-work-tree") ~= 0 then return nil end
  local rev = sh.check("git stash create"):gsub("%s+$", "")
  return rev ~= "" and rev or "HEAD"
end

-- luarocks for the runtime under test, with no dependency resolution (no
-- rocks server contacted).
local function luarocks(verb, tree)
  local cmd = "luarocks " .. verb .. " --tree=" .. sh.quote(tree) .. " --deps-mode=none"
    .. " --lua-version=" .. sh.abi .. " " .. sh.quote(file)
  local incdir = sh.lua_incdir()
  if incdir then cmd = cmd .. " LUA_INCDIR=" .. sh.quote(incdir) end
  return cmd
end

describe("make dist", function()
  local tmp, rev

  setup(function()
    rev = revision()
    if not rev then return end
    tmp = sh.mktemp()
    sh.check("make dist DIST_DIR=" .. sh.quote(tmp) .. " DIST_REV=" .. rev)
  end)
  teardown(function() sh.rmtree(tmp) end)

  before_each(function()
    if not rev then pending("make dist needs a git checkout") end
  end)

  it("packs every tracked file but the benchmarks and CI under " .. dist .. "/, the rockspec beside", function()
    if not rev then return end
    local packed = {}
    for _, entry in ipairs(lines(sh.check("tar tzf " .. sh.quote(tmp .. "/" .. dist .. ".tar.gz")))) do
      assert.are.equal(dist .. "/", entry:sub(1, #dist + 1))
      if entry:sub(-1) ~= "/" then packed[#packed + 1] = entry:sub(#dist + 2) end
    end
    local want = {}
    for _, f in ipairs(lines(sh.check("git ls-tree -r --name-only " .. rev))) do
      if not (f:match("^bench/") or f:match("^%.ci/") or f == ".gitignore") then want[#want + 1] = f end
    end
    assert.are.same(want, packed)
    local has = {}
    for _, f in ipairs(packed) do has[f] = true end
    for _, f in ipairs { "LICENSE", "Makefile", file, "lua_soget.c", "bin/soget", ".busted", "spec/run" } do
      assert.is_true(has[f], f .. " not packed")
    end
    assert.are.equal(sh.read_all(file), sh.read_all(tmp .. "/" .. file))
    -- nothing packed that runs reads a file left out (the suite runs from
    -- the tarball: the rockspec's test)
    for _, f in ipairs(packed) do
      if f:match("%.lua$") or f == "spec/run" or f == "bin/soget" then
        local text = sh.read_all(f)
        assert.is_nil(text:match("[\"']bench/[^\"']*"), f .. " reads a file from bench/, which is not packed")
      end
    end
  end)

  it("unpacks and builds with luarocks make, offline, into a temporary tree, objects in build/ only", function()
    if not rev then return end
    assert.is_true(sh.have("luarocks"), "luarocks is needed (Debian package luarocks; make deps)")
    local src = tmp .. "/unpacked/" .. dist
    sh.check("mkdir " .. sh.quote(tmp .. "/unpacked") .. " && tar xzf " .. sh.quote(tmp .. "/" .. dist .. ".tar.gz")
      .. " -C " .. sh.quote(tmp .. "/unpacked"))
    sh.check("cd " .. sh.quote(src) .. " && " .. luarocks("make", tmp .. "/tree"))
    local code, out = sh.load_from(tmp .. "/tree/lib/lua/" .. sh.abi .. "/?.so")
    assert.are.equal(0, code, out)
    assert.are.equal(expected, out)
    assert.are.same({}, lines(sh.check("cd " .. sh.quote(src) .. " && find . -path ./build -prune -o"
      .. " -type f \\( -name '*.o' -o -name '*.so' -o -name '*.a' \\) -print")))
    assert.is_true(sh.exists(src .. "/build/luarocks/soget.so"))
  end)

  it("builds with luarocks build from the tarball beside its rockspec", function()
    if not rev then return end
    assert.is_true(sh.have("luarocks"), "luarocks is needed (Debian package luarocks; make deps)")
    sh.check("cd " .. sh.quote(tmp) .. " && " .. luarocks("build", tmp .. "/tree2"))
    local code, out = sh.load_from(tmp .. "/tree2/lib/lua/" .. sh.abi .. "/?.so")
    assert.are.equal(0, code, out)
    assert.are.equal(expected, out)
    assert.is_true(sh.exists(tmp .. "/tree2/share/lua/" .. sh.abi .. "/soget/cli/init.lua"))
  end)
end)
