-- The token cache against another local user: directories and files
-- planted by nobody (through setpriv), a FIFO, soget run as nobody against
-- root's files. The cache holds a live token: it must never be written
-- where someone else can reach it, nor read from what someone else made.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path   -- (soget.cli.cache's key)
local cli = require "cli.cli"
local support = cli.support

local q = cli.q
local NOBODY = cli.AS_NOBODY .. " "

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function must(cmd) assert(sh(cmd), "failed: " .. cmd) end

local function out(cmd) return (cli.sh(cmd):gsub("%s+$", "")) end

local function listing(dir) return out("ls -A " .. q(dir) .. " 2>/dev/null") end

local function stat(fmt, path) return out("stat -c " .. fmt .. " " .. q(path) .. " 2>/dev/null") end

local function tokens() return support.stats().token_requests end

describe("soget's token cache against another user", function()
  local home

  setup(function()
    assert(out("id -u") == "0", "these specs act as a second user (nobody): run them as root")
  end)
  before_each(function()
    home = cli.tmpdir()
    must("chmod 755 " .. q(home))
    support.reset()
  end)
  after_each(function() cli.rm(home) end)

  -- The cache file of the sandbox's token URL and client id (one run makes it).
  local function cache_file(dir)
    local name = listing(dir)
    assert.truthy(name:match("^token%-%x+$"), "cache files: " .. name)
    return dir .. "/" .. name
  end

  it("creates the directory and its missing parents with mode 0700", function()
    local base = home .. "/new/cache"
    local r = cli.run({ "track", "CGMU2436601" }, { home = home, env = { XDG_CACHE_HOME = base } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("700", stat("%a", home .. "/new"))
    assert.are.equal("700", stat("%a", base))
    assert.are.equal("700", stat("%a", base .. "/soget"))
    local file = cache_file(base .. "/soget")
    assert.are.equal("600 root", stat("'%a %U'", file))
  end)

  it("creates its folders with mode 0700 whatever the umask, also one that takes the owner's bits", function()
    -- a umask without the owner's read bit left a folder it could not
    -- open to set its mode: 0000 for good under umask 777
    must("cp " .. q(support.ca_file) .. " " .. q(home .. "/ca.pem") .. " && chmod 644 " .. q(home .. "/ca.pem")
      .. " && chown nobody " .. q(home))
    for _, mask in ipairs { "477", "777", "277", "000" } do
      local base = home .. "/m" .. mask .. "/cache"
      local r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home, as_nobody = true,
        sh = "umask " .. mask .. "; ", env = { XDG_CACHE_HOME = base, SOGET_CA_FILE = home .. "/ca.pem" } })
      assert.are.equal(0, r.code, mask .. ": " .. r.err)
      assert.is_nil(r.err:find("token cache: not", 1, true), mask .. ": " .. r.err)
      for _, dir in ipairs { home .. "/m" .. mask, base, base .. "/soget" } do
        assert.are.equal("700 nobody", stat("'%a %U'", dir), mask .. ": " .. dir)
      end
      assert.are.equal("600 nobody", stat("'%a %U'", cache_file(base .. "/soget")), mask)
    end
  end)

  it("makes no folder in another user's home (root keeping their HOME), and still answers", function()
    -- su without -, sudo keeping HOME: a ~/.cache of root's, mode 0700,
    -- left the home's owner unable to make anything in their own ~/.cache
    must("chown nobody:nogroup " .. q(home))
    local uid = out("id -u nobody")
    for _, env in ipairs { { HOME = home, XDG_CACHE_HOME = false },
                           { HOME = home, XDG_CACHE_HOME = home .. "/xdg/cache" } } do
      local dir = (env.XDG_CACHE_HOME or (home .. "/.cache")) .. "/soget"
      for i = 1, 2 do
        support.reset()
        local r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home, env = env })
        assert.are.equal(0, r.code, r.err)
        assert.truthy(r.out:find("^CGMU2436601  Container"), r.out)
        assert.truthy(r.err:find("token cache: not used: " .. dir .. ": " .. home
          .. " belongs to another user (uid " .. uid .. "): no folder is made in it", 1, true), r.err)
        assert.are.equal(1, tokens(), i)   -- no cache: a token each run
        assert.are.equal("", listing(home))
      end
    end
    -- nor in a folder of theirs in the way, though root may enter it
    must(NOBODY .. "mkdir -m 700 " .. q(home .. "/.cache"))
    local r = cli.run({ "-v", "track", "CGMU2436601" },
      { home = home, env = { HOME = home, XDG_CACHE_HOME = false } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find(home .. "/.cache belongs to another user (uid " .. uid
      .. "): no folder is made in it", 1, true), r.err)
    assert.are.equal("", listing(home .. "/.cache"))
    -- so the home's owner makes their own, and uses it
    must("rmdir " .. q(home .. "/.cache"))
    must("cp " .. q(support.ca_file) .. " " .. q(home .. "/ca.pem") .. " && chmod 644 " .. q(home .. "/ca.pem"))
    r = cli.run({ "track", "CGMU2436601" }, { home = home, as_nobody = true,
      env = { HOME = home, XDG_CACHE_HOME = false, SOGET_CA_FILE = home .. "/ca.pem" } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("700 nobody", stat("'%a %U'", home .. "/.cache"))
    assert.are.equal("600 nobody", stat("'%a %U'", cache_file(home .. "/.cache/soget")))
    -- and a private cache folder of root's that is there already (in a
    -- folder of root's, or made before in theirs) serves root as before
    for _, base in ipairs { home .. "/root-cache", home .. "/theirs" } do
      must("mkdir -m 700 " .. q(base) .. " " .. q(base .. "/soget"))
      if base:find("theirs$") then must("chown nobody " .. q(base) .. " && chmod 755 " .. q(base)) end
      support.reset()
      for _ = 1, 2 do
        r = cli.run({ "track", "CGMU2436601" }, { home = home, env = { XDG_CACHE_HOME = base } })
        assert.are.equal(0, r.code, r.err)
        assert.are.equal("", r.err)
      end
      assert.are.equal(1, tokens(), base)   -- the second run's from the cache
      assert.are.equal("600 root", stat("'%a %U'", cache_file(base .. "/soget")))
    end
  end)

  it("outlives a file size limit: results shown, the cache not written, nothing left behind", function()
    -- SIGXFSZ killed the program at the cache's write, before the results
    -- were written (exit 153, nothing shown)
    -- (the results through a pipe, which the limit does not bound)
    local base = home .. "/cache"
    local p = assert(io.popen("ulimit -f 0; " .. cli.run_prefix(home, { XDG_CACHE_HOME = base })
      .. " bin/soget -v track CGMU2436601 2>&1; echo \"exit=$?\""))
    local all = p:read("*a")
    p:close()
    assert.truthy(all:find("exit=0\n$"), all)
    assert.truthy(all:find("Events (", 1, true), all)
    assert.truthy(all:find("token cache: could not write " .. base .. "/soget/token-", 1, true), all)
    assert.are.equal("", listing(base .. "/soget"))
    -- and results to a file past the limit (a block: 512 or 1024 bytes, by
    -- the shell): said, exit 74
    local args = { "--no-token-cache", "find", "CGMU", "--limit", "50", "--json" }
    local r = cli.run(args, { home = home })
    assert.are.equal(0, r.code, r.err)
    assert.is_true(#r.out > 4096, "the results of " .. #r.out .. " bytes would fit under the limit")
    r = cli.run(args, { home = home, sh = "ulimit -f 1; ", out = home .. "/results" })
    assert.are.equal(74, r.code, r.err)
    assert.truthy(r.err:find("cannot write the results", 1, true), r.err)
  end)

  it("ignores a relative XDG_CACHE_HOME, and skips a folder whose path is too long", function()
    -- a relative value would name a folder under the current directory
    -- (the XDG Base Directory specification has it ignored): here one that
    -- leads from the current directory to the home's "rel"
    local pwd = assert(os.getenv("PWD"))
    local rel = ("../"):rep(select(2, pwd:gsub("/[^/]+", ""))) .. home:sub(2) .. "/rel"
    local r = cli.run({ "-v", "track", "CGMU2436601" },
      { home = home, env = { XDG_CACHE_HOME = rel, HOME = home } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("", listing(home .. "/rel"))
    assert.truthy(cache_file(home .. "/.cache/soget"))
    -- a path past the system's limit: no cache, said under -v, exit 0
    local long = home .. "/" .. ("d"):rep(4100)
    r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home, env = { XDG_CACHE_HOME = long } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("token cache: not used: .*: its path is too long"), r.err)
    assert.is_nil(r.err:find("internal error", 1, true), r.err)
    -- a folder that fits, but not with the file's name: the same, and no
    -- warning without -v (nor a folder made)
    long = home .. "/" .. ("e"):rep(4050 - #home)
    r = cli.run({ "track", "CGMU2436601" }, { home = home, env = { XDG_CACHE_HOME = long } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("", r.err)
    r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home, env = { XDG_CACHE_HOME = long } })
    assert.truthy(r.err:find("token cache: not used: .*: its path is too long"), r.err)
    assert.are.equal("", out("ls -d " .. q(long) .. " 2>/dev/null"))
  end)

  it("skips a directory another user created, open to all, and writes nothing in it", function()
    local shared = home .. "/shared"
    must("mkdir -m 1777 " .. q(shared))
    must(NOBODY .. "mkdir -m 777 " .. q(shared .. "/soget"))
    for i = 1, 2 do
      local r = cli.run({ "-v", "track", "CGMU2436601" },
        { home = home, env = { XDG_CACHE_HOME = shared } })
      assert.are.equal(0, r.code, r.err)
      assert.truthy(r.err:find("token cache: not used: " .. shared .. "/soget: it belongs to "
        .. "another user (uid " .. out("id -u nobody") .. ")", 1, true), r.err)
      assert.are.equal("", listing(shared .. "/soget"))
      assert.are.equal(i, tokens())
    end
    -- without -v, nothing is said
    local r = cli.run({ "track", "CGMU2436601" }, { home = home, env = { XDG_CACHE_HOME = shared } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("", r.err)
  end)

  it("skips its own directory when its group or others can write to it", function()
    for _, m in ipairs { "777", "1777", "770" } do
      local dir = home .. "/cache/soget"
      must("rm -rf " .. q(home .. "/cache") .. " && mkdir -p " .. q(dir) .. " && chmod " .. m .. " " .. q(dir))
      local r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home })
      assert.are.equal(0, r.code, r.err)
      assert.truthy(r.err:find("token cache: not used: " .. dir .. ": its group or others can "
        .. "write to it (mode " .. m .. ")", 1, true), r.err)
      assert.are.equal("", listing(dir), m)
    end
  end)

  it("skips a symbolic link planted in its place, and writes nothing where it points", function()
    local shared = home .. "/shared"
    must("mkdir -m 1777 " .. q(shared))
    must(NOBODY .. "mkdir -m 777 " .. q(shared .. "/theirs"))
    must(NOBODY .. "ln -s theirs " .. q(shared .. "/soget"))
    local r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home, env = { XDG_CACHE_HOME = shared } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("token cache: not used: " .. shared .. "/soget: it is a symbolic link",
      1, true), r.err)
    assert.are.equal("", listing(shared .. "/theirs"))
  end)

  it("never reads a cache file through a symbolic link", function()
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    local file = cache_file(home .. "/cache/soget")
    -- the cache file, with its live token, now belongs to nobody and is
    -- reached through a link
    local theirs = home .. "/theirs"
    must("mkdir -m 755 " .. q(theirs) .. " && mv " .. q(file) .. " " .. q(theirs .. "/forged")
      .. " && chown -R nobody " .. q(theirs) .. " && ln -s " .. q(theirs .. "/forged") .. " " .. q(file))
    local forged = cli.read(theirs .. "/forged")
    support.reset()
    local r = cli.run({ "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("ignoring token cache " .. file .. ": it is a symbolic link", 1, true), r.err)
    assert.are.equal(1, tokens(), "the token behind the link was used")
    assert.are.equal(forged, cli.read(theirs .. "/forged"))
    assert.are.equal("regular file root 600", stat("'%F %U %a'", file))
  end)

  it("refuses a cache file that belongs to another user", function()
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    local file = cache_file(home .. "/cache/soget")
    must("chown nobody " .. q(file))
    local r = cli.run({ "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("ignoring token cache " .. file .. ": it belongs to another user (uid "
      .. out("id -u nobody") .. ")", 1, true), r.err)
    assert.are.equal(2, tokens())
    assert.are.equal("root 600", stat("'%U %a'", file))   -- written anew
  end)

  it("does not hang on a FIFO in the cache file's place", function()
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    local file = cache_file(home .. "/cache/soget")
    must("rm " .. q(file) .. " && mkfifo -m 600 " .. q(file))
    local t0 = support.now()
    -- a whole-call timeout the run can meet under valgrind too; a FIFO
    -- opened for reading would block past it, and past the spec's bound
    local r = cli.run({ "--timeout", "8", "track", "CGMU2436601" }, { home = home, timeout = 40 })
    assert.are.equal(0, r.code, "exit " .. tostring(r.code) .. ": " .. r.err)
    assert.truthy(support.now() - t0 < 30)
    assert.truthy(r.err:find("ignoring token cache " .. file .. ": it is not a regular file", 1, true), r.err)
    assert.are.equal("regular file 600", stat("'%F %a'", file))
  end)

  it("run as another user, leaves root's cache alone", function()
    -- a cache directory of root's that all may write to (say, a shared
    -- XDG_CACHE_HOME), holding root's token
    local cache = home .. "/cache"
    must("mkdir -m 755 " .. q(cache))
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    local dir = cache .. "/soget"
    local file = cache_file(dir)
    must("chmod 777 " .. q(dir))
    local before = cli.read(file)
    must("cp " .. q(support.ca_file) .. " " .. q(home .. "/ca.pem") .. " && chmod 644 " .. q(home .. "/ca.pem"))
    local r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home, as_nobody = true,
      env = { SOGET_CA_FILE = home .. "/ca.pem" } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("token cache: not used: " .. dir .. ": it belongs to another user (uid 0)",
      1, true), r.err)
    assert.are.equal(before, cli.read(file))
    assert.are.equal("root 600", stat("'%U %a'", file))
    assert.are.equal(file:match("[^/]+$"), listing(dir))
    -- and in nobody's own directory, root's file is not taken for nobody's
    local mine = home .. "/nobody-cache"
    must("mkdir -m 700 " .. q(mine) .. " && mkdir -m 700 " .. q(mine .. "/soget")
      .. " && cp -p " .. q(file) .. " " .. q(mine .. "/soget/") .. " && chown nobody " .. q(mine)
      .. " " .. q(mine .. "/soget"))
    support.reset()
    r = cli.run({ "track", "CGMU2436601" }, { home = home, as_nobody = true,
      env = { SOGET_CA_FILE = home .. "/ca.pem", XDG_CACHE_HOME = mine } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("ignoring token cache " .. mine .. "/soget/" .. file:match("[^/]+$")
      .. ": it belongs to another user (uid 0)", 1, true), r.err)
    assert.are.equal(1, tokens())
  end)
end)

describe("soget's token cache key", function()
  local home
  before_each(function()
    home = cli.tmpdir()
    support.reset()
  end)
  after_each(function() cli.rm(home) end)

  local function files()
    return out("ls -A " .. q(home .. "/cache/soget") .. " 2>/dev/null")
  end

  it("names the token URL the client uses: given, or taken beside the base URL", function()
    -- without SOGET_TOKEN_URL, the token endpoint beside the sandbox's API
    local r = cli.run({ "track", "CGMU2436601" }, { home = home, env = { SOGET_TOKEN_URL = false } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(1, tokens())
    local name = files()
    assert.truthy(name:match("^token%-%x+$"), name)
    local beside = support.base_url:gsub("/api%-tracing%-code/v1$", "")
      .. "/soget-connect/v1/openid-connect/token"
    local text = cli.read(home .. "/cache/soget/" .. name)
    assert.truthy(text:find("\ntoken_url=" .. beside .. "\n", 1, true), text)
    -- the same URL given: the same cache file, its token used
    r = cli.run({ "track", "CGMU2436601" }, { home = home, env = { SOGET_TOKEN_URL = beside } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(1, tokens())
    assert.are.equal(name, files())
    -- another token URL: another file, another token
    r = cli.run({ "track", "CGMU2436601" }, { home = home,
      env = { SOGET_TOKEN_URL = support.token_url .. "?x=1" } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(2, tokens())
    assert.are.equal(2, select(2, files():gsub("token%-", "")))
  end)

  it("is every credential: a wrong client secret or API key never uses a cached token", function()
    local r = cli.run({ "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(1, tokens())
    local name = files()
    assert.truthy(name:match("^token%-%x+$") and #name == 6 + 64, name)
    -- the name is a digest: no credential shows in it, nor in the file but the token's own lines
    local text = cli.read(home .. "/cache/soget/" .. name)
    assert.is_nil(text:find(support.client_secret, 1, true))
    assert.is_nil(text:find(support.api_key, 1, true))
    assert.is_nil(name:find(support.client_id, 1, true))
    assert.truthy(text:find("\nkey=" .. name:sub(7) .. "\n", 1, true), text)
    -- the same credentials: the cached token, no token request
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    assert.are.equal(1, tokens())
    -- a wrong secret: not the cached token; the token endpoint refuses it
    local w = cli.run({ "track", "CGMU2436601" }, { home = home,
      env = { SOGET_CLIENT_SECRET = "not-the-secret" } })
    assert.are.equal(4, w.code, w.err)
    assert.are.equal(2, tokens())
    assert.is_nil(w.err:find("not-the-secret", 1, true))
    -- a wrong API key: a token of its own (the right secret; renewed once
    -- when the API refuses the call), not the cached one
    local k = cli.run({ "track", "CGMU2436601" }, { home = home, env = { SOGET_API_KEY = "wrong-key" } })
    assert.are.equal(4, k.code, k.err)
    assert.are.equal(4, tokens())
    -- the first file still serves the right credentials
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    assert.are.equal(4, tokens())
  end)

  it("is left alone with --no-token-cache: neither written nor read", function()
    local r = cli.run({ "--no-token-cache", "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("", files())
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)   -- one now
    assert.truthy(files() ~= "")
    assert.are.equal(2, tokens())
    r = cli.run({ "--no-token-cache", "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(3, tokens())   -- a token of its own, not the cached one
  end)

  it("is not used within the renewal margin (30 s) of its token's expiry", function()
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    local path = home .. "/cache/soget/" .. files()
    for _, left in ipairs { 20, 90 } do
      cli.write(path, (cli.read(path):gsub("expires_at=%d+", "expires_at=" .. (os.time() + left))), "600")
      support.reset()
      local r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home })
      assert.are.equal(0, r.code, r.err)
      if left == 20 then
        assert.truthy(r.err:find("token cache: cached token expired", 1, true), r.err)
        assert.are.equal(1, tokens())
      else
        assert.truthy(r.err:find("token cache: using a cached token", 1, true), r.err)
        assert.are.equal(0, tokens())
      end
    end
  end)

  it("keeps renewal and expiry apart: a token due for renewal serves on when its renewal fails", function()
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    local text = cli.read(home .. "/cache/soget/" .. files())
    local renew = tonumber(text:match("\nrenew_at=(%d+)\n"))
    local expires = tonumber(text:match("\nexpires_at=(%d+)\n"))
    assert.truthy(renew and expires and expires > renew and renew > os.time(), text)
    local token = text:match("\naccess_token=([^\n]+)")
    -- that token cached, as soget writes it, for a token URL that answers
    -- 503: its renewal due 5 s ago, 10 minutes left before it expires
    local down = support.token_url:match("^(https?://[^/]+)")
      .. "/_fault/503:id=cache-" .. os.time() .. "/soget-connect/v1/openid-connect/token"
    local key = require("soget.cli.cache").key { token_url = down, client_id = support.client_id,
      client_secret = support.client_secret, api_key = support.api_key }
    cli.write(home .. "/cache/soget/token-" .. key, table.concat {
      "# soget token cache: private, do not share\n", "token_url=", down, "\n",
      "client_id=", support.client_id, "\n", "key=", key, "\n",
      "renew_at=", os.time() - 5, "\n", "expires_at=", os.time() + 600, "\n",
      "access_token=", token, "\n" }, "600")
    support.reset()
    local r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home, env = { SOGET_TOKEN_URL = down } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("token cache: using a cached token (", 1, true), r.err)
    assert.truthy(r.err:find("s left), due for renewal", 1, true), r.err)
    -- the renewal was tried (and refused), the lookup made with the token
    local st = support.stats()
    assert.are.equal(1, st.token_requests)
    assert.are.equal(1, st.api_requests)
    -- a renewal time that is no number: the file is not used
    local path = home .. "/cache/soget/token-" .. key
    cli.write(path, (cli.read(path):gsub("renew_at=%d+", "renew_at=bogus")), "600")
    r = cli.run({ "-v", "track", "CGMU2436601" }, { home = home, env = { SOGET_TOKEN_URL = down } })
    assert.truthy(r.err:find("does not match this configuration", 1, true), r.err)
  end)

  it("is not used for a token URL or client id with a control character", function()
    local r = cli.run({ "-v", "--retries", "0", "track", "CGMU2436601" }, { home = home,
      env = { SOGET_CLIENT_ID = "id\nkey=x", SOGET_BASE_URL = "http://127.0.0.1:1/api",
              SOGET_TOKEN_URL = "http://127.0.0.1:1/t" } })
    assert.truthy(r.err:find("token cache: not used: the token URL or the client id has a control character",
      1, true), r.err)
    assert.are.equal("", files())
  end)

  it("replaces the file of a set of credentials written before, with another key", function()
    local r = cli.run({ "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code, r.err)
    local path = home .. "/cache/soget/" .. files()
    -- a cache file whose key line is another's: not used
    local text = cli.read(path):gsub("\nkey=%x+\n", "\nkey=" .. ("0"):rep(64) .. "\n")
    cli.write(path, text, "600")
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    assert.are.equal(2, tokens())
  end)
end)
