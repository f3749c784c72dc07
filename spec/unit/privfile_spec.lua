-- soget._privfile: the soget command's private files (token cache,
-- profile). Real files, directories, symbolic links and FIFOs; a second
-- local user (nobody, through setpriv) plants them or runs the functions.
-- Needs root (to act as nobody) and setpriv.
local S = require "support"
local pf = require("soget")._privfile

local q = S.shell_quote
local LUA = S.lua
local MODULE_DIR = os.getenv("SOGET_MODULE_DIR") or "build/lua5.4"
local AS_NOBODY = "setpriv --reuid=nobody --regid=nogroup --clear-groups "

-- Exit code of a shell command (any Lua version).
local function sh(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a % 256 == 0 and a / 256 or a end
  return a and 0 or (c or 1)
end

local function must(cmd)
  assert(sh(cmd) == 0, "failed: " .. cmd)
end

local function out(cmd)
  return (S.popen_read(cmd):gsub("%s+$", ""))
end

local function mode(path) return out("stat -c %a " .. q(path)) end
local function owner(path) return out("stat -c %U " .. q(path)) end
local function kind(path) return out("stat -c %F " .. q(path)) end

-- Runs a Lua chunk in a new interpreter (as nobody when asked); the chunk
-- gets `pf` and prints its results. Returns the exit code and the output.
local function lua_run(chunk, opts)
  opts = opts or {}
  local code = 'package.cpath = ' .. ("%q"):format(MODULE_DIR .. "/?.so;") .. ' .. package.cpath; '
    .. 'local pf = require("soget")._privfile; ' .. chunk
  local log = os.tmpname()
  local rc = sh((opts.umask and ("umask " .. opts.umask .. "; ") or "")
    .. "timeout " .. (opts.timeout or 20) .. " "
    .. (opts.nobody and (AS_NOBODY .. S.for_other_user(LUA)) or LUA) .. " -e " .. q(code) .. " >" .. log
    .. " 2>&1")
  local f = io.open(log, "rb")
  local text = f:read("*a")
  f:close()
  os.remove(log)
  return rc, text
end

describe("soget._privfile", function()
  local root

  setup(function()
    assert(out("id -u") == "0", "these specs act as a second user (nobody): run them as root")
    assert(sh("command -v setpriv >/dev/null") == 0, "setpriv is needed (util-linux)")
  end)

  before_each(function()
    root = out("mktemp -d")
    must("chmod 755 " .. q(root))       -- nobody may enter
  end)
  after_each(function()
    if root and root:match("^/tmp/") then sh("rm -rf " .. q(root)) end
  end)

  describe("dir", function()
    it("creates what is missing, mode 0700, like mkdir -p", function()
      local d = root .. "/a/b/c"
      assert.is_true(pf.dir(d))
      assert.are.equal("700", mode(root .. "/a"))
      assert.are.equal("700", mode(root .. "/a/b"))
      assert.are.equal("700", mode(d))
      assert.is_true(pf.dir(d))          -- and accepts it again
      -- whatever the umask
      local rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/u") .. "))",
        { umask = "000" })
      assert.are.equal(0, rc, text)
      assert.are.equal("700", mode(root .. "/u"))
      rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/v") .. "))",
        { umask = "777" })
      assert.are.equal(0, rc, text)
      assert.are.equal("700", mode(root .. "/v"))
      -- and so do the parents it creates: under umask 0277 a parent left
      -- r-x refuses its own child to anyone but root
      must("mkdir -m 700 " .. q(root .. "/n") .. " && chown nobody " .. q(root .. "/n"))
      rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/n/x/y") .. "))",
        { umask = "0277", nobody = true })
      assert.are.equal(0, rc, text)
      assert.are.equal("true\n", text)
      assert.are.equal("700", mode(root .. "/n/x"))
      assert.are.equal("700", mode(root .. "/n/x/y"))
    end)

    it("makes no folder in another user's folder: only in the user's own, or root's with the sticky bit", function()
      -- root with another user's HOME made a ~/.cache of root's (0700),
      -- which barred the home's owner from their own ~/.cache
      local uid = out("id -u nobody")
      must("mkdir -m 755 " .. q(root .. "/theirs") .. " && chown nobody " .. q(root .. "/theirs"))
      for _, p in ipairs { root .. "/theirs/.cache/soget", root .. "/theirs/.cache" } do
        local ok, why = pf.dir(p)
        assert.is_nil(ok, p)
        assert.are.equal(root .. "/theirs belongs to another user (uid " .. uid
          .. "): no folder is made in it", why)
      end
      assert.are.equal("", out("ls -A " .. q(root .. "/theirs")))
      -- one of the user's own that is there already is used as before
      must("mkdir -m 700 " .. q(root .. "/theirs/mine"))
      assert.is_true(pf.dir(root .. "/theirs/mine"))
      assert.is_true(pf.dir(root .. "/theirs/mine/sub"))
      -- another user, in root's folders: one with the sticky bit (/tmp) will do
      must("mkdir -m 1777 " .. q(root .. "/sticky") .. " && mkdir -m 777 " .. q(root .. "/open"))
      local rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/sticky/x/y") .. "))",
        { nobody = true })
      assert.are.equal(0, rc, text)
      assert.are.equal("true\n", text)
      assert.are.equal("nobody 700", out("stat -c '%U %a' " .. q(root .. "/sticky/x")))
      rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/open/x") .. "))", { nobody = true })
      assert.are.equal(0, rc, text)
      assert.are.equal("nil\t" .. root .. "/open belongs to another user (uid 0): no folder is made in it\n",
        text)
      assert.are.equal("", out("ls -A " .. q(root .. "/open")))
    end)

    it("follows no symbolic link of another user's folder to make one", function()
      -- root with another user's HOME, whose ~/.cache links to a folder of
      -- root's: root made soget/ there, where that user chose
      must("mkdir -m 755 " .. q(root .. "/theirs") .. " && chown nobody " .. q(root .. "/theirs")
        .. " && mkdir -m 755 " .. q(root .. "/roots"))
      must(AS_NOBODY .. "ln -s " .. q(root .. "/roots") .. " " .. q(root .. "/theirs/.cache"))
      local ok, why = pf.dir(root .. "/theirs/.cache/soget")
      assert.is_nil(ok)
      assert.are.equal(root .. "/theirs/.cache is a symbolic link in a folder another user can"
        .. " change: no folder is made through it", why)
      assert.are.equal("", out("ls -A " .. q(root .. "/roots")))
      -- deeper too: a link on the way, the folder made two below it
      ok, why = pf.dir(root .. "/theirs/.cache/a/b")
      assert.is_nil(ok)
      assert.truthy(why:find("/theirs/.cache is a symbolic link", 1, true), why)
      assert.are.equal("", out("ls -A " .. q(root .. "/roots")))
      -- a folder of root's others can write to (without the sticky bit)
      must("mkdir -m 777 " .. q(root .. "/shared") .. " && ln -s " .. q(root .. "/roots") .. " "
        .. q(root .. "/shared/c"))
      ok, why = pf.dir(root .. "/shared/c/soget")
      assert.is_nil(ok)
      assert.truthy(why:find("/shared/c is a symbolic link", 1, true), why)
      -- root's with the sticky bit: root's own link is followed, another's not
      must("mkdir -m 1777 " .. q(root .. "/sticky") .. " && ln -s " .. q(root .. "/roots") .. " "
        .. q(root .. "/sticky/mine"))
      must(AS_NOBODY .. "ln -s " .. q(root .. "/roots") .. " " .. q(root .. "/sticky/theirs"))
      ok, why = pf.dir(root .. "/sticky/theirs/soget")
      assert.is_nil(ok)
      assert.truthy(why:find("/sticky/theirs is a symbolic link", 1, true), why)
      assert.are.equal("", out("ls -A " .. q(root .. "/roots")))
      assert.is_true(pf.dir(root .. "/sticky/mine/soget"))
      assert.are.equal("root 700", out("stat -c '%U %a' " .. q(root .. "/roots/soget")))
      -- a link in the user's own folder is followed, as before: a ~/.cache
      -- on another disk
      must("mkdir -m 755 " .. q(root .. "/home") .. " " .. q(root .. "/disk")
        .. " && ln -s " .. q(root .. "/disk") .. " " .. q(root .. "/home/.cache"))
      assert.is_true(pf.dir(root .. "/home/.cache/soget/x"))
      assert.are.equal("700", mode(root .. "/disk/soget/x"))
      -- and the user's own link in their folder, for another user than root
      must("mkdir -m 755 " .. q(root .. "/n") .. " " .. q(root .. "/n/disk")
        .. " && chown nobody " .. q(root .. "/n") .. " " .. q(root .. "/n/disk"))
      must(AS_NOBODY .. "ln -s disk " .. q(root .. "/n/.cache"))
      local rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/n/.cache/soget") .. "))",
        { nobody = true })
      assert.are.equal(0, rc, text)
      assert.are.equal("true\n", text)
      assert.are.equal("nobody 700", out("stat -c '%U %a' " .. q(root .. "/n/disk/soget")))
    end)

    it("opens no folder that is there already through another user's link, to read or write", function()
      -- the user's own private folder, reached through a link another
      -- user put on the way: a run's cache went where they chose
      must("mkdir -m 755 " .. q(root .. "/theirs") .. " && chown nobody " .. q(root .. "/theirs")
        .. " && mkdir -m 755 " .. q(root .. "/roots") .. " && mkdir -m 700 " .. q(root .. "/roots/soget")
        .. " && printf x > " .. q(root .. "/roots/soget/old") .. " && chmod 600 "
        .. q(root .. "/roots/soget/old"))
      must(AS_NOBODY .. "ln -s " .. q(root .. "/roots") .. " " .. q(root .. "/theirs/l"))
      local refusal = root .. "/theirs/l is a symbolic link in a folder another user can change: "
        .. "it is not followed"
      local ok, why = pf.dir(root .. "/theirs/l/soget")
      assert.is_nil(ok)
      assert.are.equal(refusal, why)
      ok, why = pf.write(root .. "/theirs/l/soget/token", "secret")
      assert.is_nil(ok)
      assert.are.equal("its directory: " .. refusal, why)
      assert.are.equal("old", out("ls -A " .. q(root .. "/roots/soget")))
      ok, why = pf.read(root .. "/theirs/l/soget/old", 100)
      assert.is_nil(ok)
      assert.are.equal("its directory: " .. refusal, why)
      -- deeper on the way, and the user's own link still followed
      ok, why = pf.read(root .. "/theirs/l/soget/x/y", 100)
      assert.is_nil(ok)
      assert.truthy(why:find(refusal, 1, true), why)
      must("ln -s " .. q(root .. "/roots") .. " " .. q(root .. "/mine"))
      assert.is_true(pf.write(root .. "/mine/soget/token", "secret"))
      assert.are.equal("secret", (pf.read(root .. "/mine/soget/token", 100)))
      -- a missing folder on the way is still told as missing
      local _, _, missing = pf.read(root .. "/none/soget/token", 100)
      assert.are.equal("missing", missing)
    end)

    it("walks folders it may only go through, follows links in the user's own group-shared folder, and checks the links a link's target goes through", function()
      -- a home under a /home of mode 0711: each folder on the way was
      -- opened for reading, which 0711 refuses
      must("mkdir -m 711 " .. q(root .. "/home") .. " && mkdir -m 755 " .. q(root .. "/home/n")
        .. " && chown nobody " .. q(root .. "/home/n"))
      local rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/home/n/.cache/soget") .. "))",
        { nobody = true })
      assert.are.equal(0, rc, text)
      assert.are.equal("true\n", text)
      -- the user's own home of mode 0775 (user-private groups), its
      -- ~/.cache a link of theirs: followed, as check_parent makes a
      -- folder there
      must("mkdir -m 775 " .. q(root .. "/g") .. " " .. q(root .. "/g/disk")
        .. " && chown nobody " .. q(root .. "/g") .. " " .. q(root .. "/g/disk"))
      must(AS_NOBODY .. "ln -s disk " .. q(root .. "/g/.cache"))
      rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/g/.cache/soget") .. "))", { nobody = true })
      assert.are.equal(0, rc, text)
      assert.are.equal("true\n", text)
      assert.are.equal("nobody 700", out("stat -c '%U %a' " .. q(root .. "/g/disk/soget")))
      -- root's link, whose target goes through another user's link: the
      -- kernel followed both, and root made soget/ where that user chose
      must("mkdir -m 755 " .. q(root .. "/theirs") .. " " .. q(root .. "/roots") .. " " .. q(root .. "/mine")
        .. " && chown nobody " .. q(root .. "/theirs"))
      must(AS_NOBODY .. "ln -s " .. q(root .. "/roots") .. " " .. q(root .. "/theirs/l"))
      must("ln -s " .. q(root .. "/theirs/l") .. " " .. q(root .. "/mine/.cache"))
      local ok, why = pf.dir(root .. "/mine/.cache/soget")
      assert.is_nil(ok)
      assert.truthy(why:find("/theirs/l is a symbolic link in a folder another user can change", 1, true), why)
      assert.are.equal("", out("ls -A " .. q(root .. "/roots")))
      -- a relative target, and links of links that are all root's, followed
      must("mkdir -m 755 " .. q(root .. "/mine/a") .. " && ln -s a " .. q(root .. "/mine/b")
        .. " && ln -s ../mine/b " .. q(root .. "/mine/c"))
      assert.is_true(pf.dir(root .. "/mine/c/x/y"))
      assert.are.equal("700", mode(root .. "/mine/a/x/y"))
      -- a loop of links ends
      must("ln -s loop2 " .. q(root .. "/mine/loop1") .. " && ln -s loop1 " .. q(root .. "/mine/loop2"))
      ok, why = pf.dir(root .. "/mine/loop1/x")
      assert.is_nil(ok)
      assert.truthy(why:find("symbolic links", 1, true) or why:find("Too many levels", 1, true), why)
    end)

    it("accepts the user's own directory that others can only read", function()
      must("mkdir -m 755 " .. q(root .. "/d"))
      assert.is_true(pf.dir(root .. "/d"))
      assert.are.equal("755", mode(root .. "/d"))   -- not changed
    end)

    it("refuses a directory another user created, even one open to all", function()
      must("chmod 1777 " .. q(root))
      must(AS_NOBODY .. "mkdir -m 777 " .. q(root .. "/soget"))
      local ok, why = pf.dir(root .. "/soget")
      assert.is_nil(ok)
      assert.are.equal("it belongs to another user (uid " .. out("id -u nobody") .. ")", why)
      must(AS_NOBODY .. "chmod 700 " .. q(root .. "/soget"))
      ok, why = pf.dir(root .. "/soget")
      assert.is_nil(ok)
      assert.truthy(why:find("another user", 1, true))
    end)

    it("refuses the user's own directory when its group or others can write to it", function()
      for _, m in ipairs { "777", "770", "1777", "702" } do
        local d = root .. "/d" .. m
        must("mkdir " .. q(d) .. " && chmod " .. m .. " " .. q(d))
        local ok, why = pf.dir(d)
        assert.is_nil(ok, m)
        assert.are.equal(("its group or others can write to it (mode %03d)"):format(tonumber(m)), why)
      end
    end)

    it("refuses a symbolic link planted by another user, and does not follow it", function()
      must("chmod 1777 " .. q(root))
      must(AS_NOBODY .. "mkdir -m 777 " .. q(root .. "/theirs"))
      must(AS_NOBODY .. "ln -s " .. q(root .. "/theirs") .. " " .. q(root .. "/soget"))
      for _, p in ipairs { root .. "/soget", root .. "/soget/" } do
        local ok, why = pf.dir(p)
        assert.is_nil(ok, p)
        assert.are.equal("it is a symbolic link", why)
      end
      -- even a link to the user's own private directory
      must("mkdir -m 700 " .. q(root .. "/mine") .. " && ln -s mine " .. q(root .. "/link"))
      local ok, why = pf.dir(root .. "/link")
      assert.is_nil(ok)
      assert.are.equal("it is a symbolic link", why)
      -- a write through the link is refused too: nothing lands in their directory
      ok, why = pf.write(root .. "/soget/token", "secret")
      assert.is_nil(ok)
      assert.are.equal("its directory: it is a symbolic link", why)
      assert.are.equal("", out("ls -A " .. q(root .. "/theirs")))
    end)

    it("returns failures as nil and a reason, never raising", function()
      must("touch " .. q(root .. "/file"))
      local ok, why = pf.dir(root .. "/file")
      assert.is_nil(ok)
      assert.are.equal("it is not a directory", why)
      ok, why = pf.dir(root .. "/file/sub")
      assert.is_nil(ok)
      assert.truthy(why:find("^it cannot be created"), why)
      -- as nobody, under root's private directory
      must("mkdir -m 700 " .. q(root .. "/private"))
      local rc, text = lua_run("print(pf.dir(" .. ("%q"):format(root .. "/private/x") .. "))",
        { nobody = true })
      assert.are.equal(0, rc, text)
      assert.truthy(text:find("^nil\tit cannot be created: Permission denied"), text)
      -- bad arguments do raise
      assert.has_error(function() pf.dir("") end)
      assert.has_error(function() pf.dir("a\0b") end)
      assert.has_error(function() pf.dir(nil) end)
    end)
  end)

  describe("read", function()
    local d
    before_each(function()
      d = root .. "/cache"
      assert.is_true(pf.dir(d))
    end)

    it("reads the user's private file, bytes as they are", function()
      local data = "a\0b\r\n" .. string.rep("\255", 300)
      assert.is_true(pf.write(d .. "/f", data))
      assert.are.equal(data, pf.read(d .. "/f", 1000))
      assert.are.equal(data, pf.read(d .. "/f", #data))
      local ok, why = pf.read(d .. "/f", #data - 1)
      assert.is_nil(ok)
      assert.are.equal("it is larger than " .. (#data - 1) .. " bytes", why)
      assert.is_true(pf.write(d .. "/empty", ""))
      assert.are.equal("", pf.read(d .. "/empty", 10))
    end)

    it("tells a missing file (or directory) apart", function()
      local ok, why, tag = pf.read(d .. "/none", 10)
      assert.is_nil(ok)
      assert.are.equal("it does not exist", why)
      assert.are.equal("missing", tag)
      ok, why, tag = pf.read(root .. "/nodir/none", 10)
      assert.is_nil(ok)
      assert.are.equal("it does not exist", why)
      assert.are.equal("missing", tag)
    end)

    it("refuses a FIFO at once instead of waiting for a writer", function()
      must("mkfifo -m 600 " .. q(d .. "/fifo"))
      local t0 = S.now()
      local rc, text = lua_run("print(pf.read(" .. ("%q"):format(d .. "/fifo") .. ", 100))",
        { timeout = 10 })
      assert.are.equal(0, rc, "hung or failed: " .. text)
      assert.are.equal("nil\tit is not a regular file\n", text)
      assert.truthy(S.now() - t0 < 5)
      local ok, why = pf.read(d .. "/fifo", 100)
      assert.is_nil(ok)
      assert.are.equal("it is not a regular file", why)
    end)

    it("does not follow a symbolic link", function()
      must("chmod 1777 " .. q(root))
      must(AS_NOBODY .. "sh -c " .. q("umask 077; echo forged > " .. root .. "/theirs"))
      must("ln -s " .. q(root .. "/theirs") .. " " .. q(d .. "/link"))
      local ok, why = pf.read(d .. "/link", 100)
      assert.is_nil(ok)
      assert.are.equal("it is a symbolic link", why)
      -- nor one to the user's own private file
      assert.is_true(pf.write(d .. "/mine", "x"))
      must("ln -s mine " .. q(d .. "/link2"))
      ok, why = pf.read(d .. "/link2", 100)
      assert.is_nil(ok)
      assert.are.equal("it is a symbolic link", why)
    end)

    it("refuses a file owned by another user, and any group or other bit", function()
      assert.is_true(pf.write(d .. "/f", "token"))
      must("chown nobody " .. q(d .. "/f"))
      local ok, why = pf.read(d .. "/f", 100)
      assert.is_nil(ok)
      assert.are.equal("it belongs to another user (uid " .. out("id -u nobody") .. ")", why)
      must("chown root " .. q(d .. "/f"))
      for _, m in ipairs { "644", "640", "604", "660", "611" } do
        must("chmod " .. m .. " " .. q(d .. "/f"))
        ok, why = pf.read(d .. "/f", 100)
        assert.is_nil(ok, m)
        assert.are.equal("its mode " .. m .. " is looser than 600", why)
      end
      must("chmod 400 " .. q(d .. "/f"))
      assert.are.equal("token", pf.read(d .. "/f", 100))
    end)

    it("refuses a file whose directory is not private", function()
      assert.is_true(pf.write(d .. "/f", "token"))
      must("chmod 777 " .. q(d))
      local ok, why = pf.read(d .. "/f", 100)
      assert.is_nil(ok)
      assert.are.equal("its directory: its group or others can write to it (mode 777)", why)
      -- run as nobody against root's files: refused, never read
      must("chmod 755 " .. q(d) .. " && chmod 644 " .. q(d .. "/f"))
      local rc, text = lua_run("print(pf.read(" .. ("%q"):format(d .. "/f") .. ", 100))",
        { nobody = true })
      assert.are.equal(0, rc, text)
      assert.are.equal("nil\tits directory: it belongs to another user (uid 0)\n", text)
    end)
  end)

  describe("write", function()
    local d
    before_each(function()
      d = root .. "/cache"
      assert.is_true(pf.dir(d))
    end)

    local function listing() return out("ls -A " .. q(d)) end

    it("creates a 0600 file whatever the umask, and leaves no temporary file", function()
      local rc, text = lua_run("print(pf.write(" .. ("%q"):format(d .. "/f") .. ", 'one'))",
        { umask = "000" })
      assert.are.equal(0, rc, text)
      assert.are.equal("true\n", text)
      assert.are.equal("600", mode(d .. "/f"))
      assert.are.equal("one", pf.read(d .. "/f", 10))
      assert.is_true(pf.write(d .. "/f", "two"))
      assert.are.equal("two", pf.read(d .. "/f", 10))
      assert.are.equal("f", listing())
    end)

    it("replaces a planted symbolic link, a FIFO or a foreign file, writing through none", function()
      must("chmod 1777 " .. q(root))
      must(AS_NOBODY .. "sh -c " .. q("umask 000; echo theirs > " .. root .. "/theirs"))
      must("ln -s " .. q(root .. "/theirs") .. " " .. q(d .. "/f"))
      assert.is_true(pf.write(d .. "/f", "secret"))
      assert.are.equal("theirs\n", S.read_file(root .. "/theirs"))
      assert.are.equal("regular file", kind(d .. "/f"))
      assert.are.equal("secret", pf.read(d .. "/f", 100))
      must("rm " .. q(d .. "/f") .. " && mkfifo " .. q(d .. "/f"))
      assert.is_true(pf.write(d .. "/f", "secret2"))
      assert.are.equal("regular file", kind(d .. "/f"))
      assert.are.equal("secret2", pf.read(d .. "/f", 100))
      must("chown nobody " .. q(d .. "/f"))
      assert.is_true(pf.write(d .. "/f", "secret3"))
      assert.are.equal("root", owner(d .. "/f"))
      assert.are.equal("f", listing())
    end)

    it("removes the temporary files a killed writer left, an hour old, and nothing else", function()
      local hex = ("0123456789abcdef"):rep(2)
      local stale, young = "." .. "f." .. hex .. ".tmp", ".f." .. hex:reverse() .. ".tmp"
      local others = {
        ".g." .. hex .. ".tmp",               -- another file's
        ".f." .. hex:sub(2) .. ".tmp",         -- not the random part's length
        ".f." .. hex:upper() .. ".tmp",        -- not its alphabet
        ".f." .. hex .. ".tmp~",               -- not its ending
      }
      for _, name in ipairs { stale, young, table.unpack(others) } do
        must("printf token > " .. q(d .. "/" .. name) .. " && chmod 600 " .. q(d .. "/" .. name))
      end
      -- (a minute past the hour: time() reads a coarse clock, which may lag
      -- the one touch sets the time from by a tick)
      for _, name in ipairs { stale, table.unpack(others) } do
        must("touch -d '-61 minutes' " .. q(d .. "/" .. name))
      end
      -- a link of the name: removed as a name, its target untouched
      local link = ".f." .. ("ab"):rep(16) .. ".tmp"
      must("printf theirs > " .. q(root .. "/target") .. " && ln -s " .. q(root .. "/target") .. " "
        .. q(d .. "/" .. link) .. " && touch -h -d '-61 minutes' " .. q(d .. "/" .. link))
      -- one of another user's: left (not ours to remove)
      local foreign = ".f." .. ("cd"):rep(16) .. ".tmp"
      must("printf x > " .. q(d .. "/" .. foreign) .. " && chown nobody " .. q(d .. "/" .. foreign)
        .. " && touch -d '-61 minutes' " .. q(d .. "/" .. foreign))
      assert.is_true(pf.write(d .. "/f", "new"))
      local want = { "f", young, foreign }
      for _, name in ipairs(others) do want[#want + 1] = name end
      table.sort(want)
      local got = {}
      for name in listing():gmatch("[^\n]+") do got[#got + 1] = name end
      table.sort(got)
      assert.are.same(want, got)
      assert.are.equal("theirs", S.read_file(root .. "/target"))
      assert.are.equal("new", pf.read(d .. "/f", 10))
    end)

    it("never writes into a directory another user owns or can write to", function()
      must("chmod 1777 " .. q(root))
      must(AS_NOBODY .. "mkdir -m 777 " .. q(root .. "/shared"))
      local ok, why = pf.write(root .. "/shared/token", "secret")
      assert.is_nil(ok)
      assert.are.equal("its directory: it belongs to another user (uid " .. out("id -u nobody") .. ")", why)
      assert.are.equal("", out("ls -A " .. q(root .. "/shared")))
      must("chmod 777 " .. q(d))
      ok, why = pf.write(d .. "/token", "secret")
      assert.is_nil(ok)
      assert.are.equal("its directory: its group or others can write to it (mode 777)", why)
      assert.are.equal("", listing())
    end)

    it("gives concurrent writers each an unpredictable temporary name of its own", function()
      -- 6 processes started in the same second, 40 writes each: with a
      -- name from the clock they would share temporary files
      local chunk = "local ok, n = 0, ... for i = 1, 40 do "
        .. "local body = string.rep(tostring(n), 2000) "
        .. "if pf.write(" .. ("%q"):format(d .. "/f") .. ", body) then ok = ok + 1 end end "
        .. "print(ok)"
      local script = {}
      for n = 1, 6 do
        script[#script + 1] = "timeout 60 " .. LUA .. " -e " .. q('package.cpath = '
          .. ("%q"):format(MODULE_DIR .. "/?.so;") .. ' .. package.cpath; '
          .. 'local pf = require("soget")._privfile; ' .. chunk:gsub("%.%.%.", n))
          .. " > " .. q(root .. "/out" .. n) .. " 2>&1 &"
      end
      must("sh -c " .. q(table.concat(script, "\n") .. "\nwait"))
      for n = 1, 6 do
        assert.are.equal("40\n", S.read_file(root .. "/out" .. n), "writer " .. n)
      end
      local final = pf.read(d .. "/f", 100000)
      assert.are.equal(2000, #final)
      assert.are.equal(string.rep(final:sub(1, 1), 2000), final, "one writer's whole content")
      assert.are.equal("f", listing())
    end)

    it("removes its temporary file when the rename fails", function()
      must("mkdir " .. q(d .. "/f"))      -- a directory where the file goes
      local ok, why = pf.write(d .. "/f", "secret")
      assert.is_nil(ok)
      assert.truthy(why:find("^it cannot be replaced: "), why)
      assert.are.equal("f", listing())
    end)
  end)

  it("keeps no descriptor open, whatever the outcome", function()
    -- the process's descriptors, once files the collector may close are closed
    local function fds()
      collectgarbage(); collectgarbage()
      return tonumber(out("ls /proc/" .. out("echo $PPID") .. "/fd | wc -l"))
    end
    local d = root .. "/cache"
    assert.is_true(pf.dir(d))
    must("mkfifo " .. q(d .. "/fifo") .. " && ln -s fifo " .. q(d .. "/link")
      .. " && mkdir " .. q(d .. "/sub") .. " && touch " .. q(d .. "/loose")
      .. " && chmod 644 " .. q(d .. "/loose"))
    assert.is_true(pf.write(d .. "/ok", "x"))
    local before = fds()
    for _ = 1, 50 do
      pf.dir(d); pf.dir(d .. "/fifo"); pf.dir(d .. "/link"); pf.dir(d .. "/ok/x")
      pf.read(d .. "/ok", 10); pf.read(d .. "/ok", 0.5 + 0.5); pf.read(d .. "/fifo", 10)
      pf.read(d .. "/link", 10); pf.read(d .. "/loose", 10); pf.read(d .. "/none", 10)
      pf.write(d .. "/ok", "y"); pf.write(d .. "/sub", "y"); pf.write(d .. "/none/x", "y")
      pf.read_config(d .. "/ok", 10); pf.read_config(d .. "/fifo", 10)
      pf.read_config(d .. "/loose", 10); pf.read_config("/dev/null", 10)
    end
    -- A leak would leave dozens (some 15 opens a round, 50 rounds); the
    -- margin absorbs a descriptor the interpreter itself holds for a moment
    -- (seen once in dozens of LuaJIT runs under load).
    local after = fds()
    assert.is_true(after <= before + 2, ("a descriptor was left open: %d, then %d"):format(before, after))
    assert.are.equal("fifo link loose ok sub", (out("ls -A " .. q(d)):gsub("%s+", " ")))
  end)

  describe("read_config", function()
    it("reads a regular file through symbolic links and gives its mode", function()
      must("printf 'a = 1\\n' > " .. q(root .. "/p.ini") .. " && chmod 640 " .. q(root .. "/p.ini"))
      must("ln -s p.ini " .. q(root .. "/link.ini"))
      local text, m = pf.read_config(root .. "/link.ini", 100)
      assert.are.equal("a = 1\n", text)
      assert.are.equal(tonumber("640", 8), m)
    end)

    it("refuses what others could have written, and what is not a file", function()
      local p = root .. "/p.ini"
      must("echo x > " .. q(p))
      for _, m in ipairs { "666", "620", "602" } do
        must("chmod " .. m .. " " .. q(p))
        local ok, why = pf.read_config(p, 100)
        assert.is_nil(ok, m)
        assert.are.equal("its group or others can write to it (mode " .. m .. ")", why)
      end
      must("chmod 600 " .. q(p) .. " && chown nobody " .. q(p))
      local ok, why = pf.read_config(p, 100)
      assert.is_nil(ok)
      assert.are.equal("it belongs to another user (uid " .. out("id -u nobody") .. ")", why)
      ok, why = pf.read_config("/dev/null", 100)
      assert.is_nil(ok)
      assert.are.equal("it is not a regular file", why)
      ok, why = pf.read_config(root, 100)
      assert.is_nil(ok)
      assert.are.equal("it is not a regular file", why)
      local tag
      ok, why, tag = pf.read_config(root .. "/none", 100)
      assert.is_nil(ok)
      assert.are.equal("it does not exist", why)
      assert.are.equal("missing", tag)
      -- a FIFO of another user: refused at once
      must("chmod 1777 " .. q(root))
      must(AS_NOBODY .. "mkfifo -m 644 " .. q(root .. "/fifo"))
      local rc, text = lua_run("print(pf.read_config(" .. ("%q"):format(root .. "/fifo") .. ", 100))",
        { timeout = 10 })
      assert.are.equal(0, rc, "hung or failed: " .. text)
      assert.truthy(text:find("^nil\tit belongs to another user"), text)
    end)

    it("refuses a profile in a directory others can write to, or reached through one", function()
      -- another user could have put it there, or a link to any file of
      -- ours whose text they chose
      must("printf 'a = 1\\n' > " .. q(root .. "/ours.ini") .. " && chmod 600 " .. q(root .. "/ours.ini"))
      for _, m in ipairs { "777", "775", "757" } do
        must("mkdir -p " .. q(root .. "/open") .. " && chmod " .. m .. " " .. q(root .. "/open"))
        must("cp -p " .. q(root .. "/ours.ini") .. " " .. q(root .. "/open/p.ini"))
        local ok, why = pf.read_config(root .. "/open/p.ini", 100)
        assert.is_nil(ok, m)
        assert.are.equal("its group or others can write to its directory (mode " .. m .. ")", why)
        -- a link to it from a private directory
        must("mkdir -p -m 700 " .. q(root .. "/priv") .. " && ln -sf ../open/p.ini " .. q(root .. "/priv/l.ini"))
        ok, why = pf.read_config(root .. "/priv/l.ini", 100)
        assert.is_nil(ok, m)
        assert.are.equal("its group or others can write to its directory (mode " .. m .. ")", why)
      end
      -- the link planted by another user in their directory
      must("mkdir -m 755 " .. q(root .. "/theirs") .. " && chown nobody " .. q(root .. "/theirs"))
      must(AS_NOBODY .. "ln -s ../ours.ini " .. q(root .. "/theirs/p.ini"))
      local ok, why = pf.read_config(root .. "/theirs/p.ini", 100)
      assert.is_nil(ok)
      assert.are.equal("its directory belongs to another user (uid " .. out("id -u nobody") .. ")", why)
      -- a link of ours to their link to our file: the middle link could
      -- be turned to any file, so its directory counts too
      must(AS_NOBODY .. "ln -s ../ours.ini " .. q(root .. "/theirs/m.ini"))
      must("ln -s ../theirs/m.ini " .. q(root .. "/priv/via.ini"))
      ok, why = pf.read_config(root .. "/priv/via.ini", 100)
      assert.is_nil(ok)
      assert.are.equal("its directory belongs to another user (uid " .. out("id -u nobody") .. ")", why)
      -- the same through a directory all can write to, absolute links
      must("ln -s " .. q(root .. "/ours.ini") .. " " .. q(root .. "/open/m.ini"))
      must("ln -s " .. q(root .. "/open/m.ini") .. " " .. q(root .. "/priv/via2.ini"))
      ok, why = pf.read_config(root .. "/priv/via2.ini", 100)
      assert.is_nil(ok)
      assert.truthy(why:find("^its group or others can write to its directory %(mode 757%)"), why)
      -- a chain of private links is read
      must("ln -s via3.ini " .. q(root .. "/priv/via4.ini") .. " && ln -s ../ours.ini " .. q(root .. "/priv/via3.ini"))
      assert.are.equal("a = 1\n", (pf.read_config(root .. "/priv/via4.ini", 100)))
      -- root's directory with the sticky bit (as /tmp): nobody can replace
      -- an entry of another there
      must("chmod 1777 " .. q(root .. "/open") .. " && chmod 700 " .. q(root .. "/open/p.ini"))
      assert.are.equal("a = 1\n", (pf.read_config(root .. "/open/p.ini", 100)))
      assert.are.equal("a = 1\n", (pf.read_config(root .. "/priv/l.ini", 100)))
    end)

    it("reads root's profile as another user, and the user's own pipe", function()
      must("echo shared > " .. q(root .. "/etc.ini") .. " && chmod 644 " .. q(root .. "/etc.ini"))
      local rc, text = lua_run("print(pf.read_config(" .. ("%q"):format(root .. "/etc.ini") .. ", 100))",
        { nobody = true })
      assert.are.equal(0, rc, text)
      assert.are.equal("shared\n\t420\n", text)
      -- a shell's process substitution hands over a pipe
      local code = 'package.cpath = ' .. ("%q"):format(MODULE_DIR .. "/?.so;") .. ' .. package.cpath; '
        .. 'local pf = require("soget")._privfile; print(pf.read_config("/dev/fd/3", 100))'
      local got = out("timeout 20 bash -c " .. q("exec 3< <(sleep 0.3; echo piped); "
        .. LUA .. " -e " .. q(code)))
      assert.are.equal("piped\n\t384", got)
    end)
  end)
end)
