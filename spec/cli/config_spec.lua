-- Configuration: profile file, token cache between runs, secrets never shown.
local cli = require "cli.cli"
local support = cli.support

local NO_ENV = {
  SOGET_BASE_URL = false, SOGET_TOKEN_URL = false, SOGET_CLIENT_ID = false,
  SOGET_CLIENT_SECRET = false, SOGET_API_KEY = false, SOGET_CA_FILE = false,
}

local function profile_text(name, extra)
  return table.concat({
    "# soget profiles", "",
    "[" .. name .. "]",
    "base_url = " .. support.base_url,
    "token_url = " .. support.token_url,
    "client_id = " .. support.client_id,
    'client_secret = "' .. support.client_secret .. '"',
    "api_key = " .. support.api_key,
    "ca_file = " .. support.ca_file,
    "timeout = 20",
    extra or "",
  }, "\n") .. "\n"
end

local function cache_files(home)
  local list = cli.sh("ls " .. cli.q(home .. "/cache/soget") .. " 2>/dev/null")
  local t = {}
  for f in list:gmatch("%S+") do t[#t + 1] = home .. "/cache/soget/" .. f end
  return t
end

describe("soget configuration", function()
  local home
  before_each(function()
    home = cli.tmpdir()
    os.execute("mkdir -p " .. cli.q(home .. "/config/soget"))
  end)
  after_each(function() cli.rm(home) end)

  it("reads a profile from ${XDG_CONFIG_HOME}/soget/profiles.ini", function()
    cli.write(home .. "/config/soget/profiles.ini", profile_text("sandbox"), "600")
    local r = cli.run({ "--profile", "sandbox", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("^CGMU2436601"))
    assert.are.equal("", r.err)
    -- SOGET_PROFILE names it too
    local e = NO_ENV
    e.SOGET_PROFILE = "sandbox"
    local r2 = cli.run({ "track", "CGMU2436601" }, { home = home, env = e })
    e.SOGET_PROFILE = nil
    assert.are.equal(0, r2.code, r2.err)
  end)

  it("takes a profile's token URL beside its base_url, and names the line of one that has none", function()
    local text = profile_text("sandbox"):gsub("\ntoken_url = [^\n]*", "")
    cli.write(home .. "/config/soget/profiles.ini", text, "600")
    local r = cli.run({ "--profile", "sandbox", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("^CGMU2436601"))
    local other = support.base_url:gsub("/api%-tracing%-code/v1$", "/tracing/v1")
    cli.write(home .. "/config/soget/profiles.ini", text:gsub("\nbase_url = [^\n]*",
      "\nbase_url = " .. other), "600")
    r = cli.run({ "--profile", "sandbox", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code, r.err)
    assert.truthy(r.err:find("profiles.ini:4: no token_url for this base_url", 1, true), r.err)
  end)

  it("refuses a SOGET_TOKEN_URL on another host than the profile's base_url, and names its line",
    function()
    -- a token URL left in the shell from another environment would get
    -- the profile's client secret
    local text = profile_text("sandbox"):gsub("\ntoken_url = [^\n]*", "")
    cli.write(home .. "/config/soget/profiles.ini", text, "600")
    local e = {}
    for k, v in pairs(NO_ENV) do e[k] = v end
    e.SOGET_TOKEN_URL = "https://127.0.0.1:1/soget-connect/v1/openid-connect/token"
    local before = support.stats().token_requests
    local r = cli.run({ "--profile", "sandbox", "track", "CGMU2436601" }, { home = home, env = e })
    assert.are.equal(3, r.code, r.err)
    assert.truthy(r.err:find("profiles.ini:4: SOGET_TOKEN_URL (from the environment) is not on "
      .. "base_url's host, and the client secret would go there", 1, true), r.err)
    assert.are.equal(before, support.stats().token_requests)
    -- one on the profile's host is used
    e.SOGET_TOKEN_URL = support.token_url
    r = cli.run({ "--profile", "sandbox", "--no-token-cache", "track", "CGMU2436601" },
      { home = home, env = e })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(before + 1, support.stats().token_requests)
  end)

  it("says a SOGET_SEARCH_BASE_URL on another host than the profile's base_url is the "
    .. "configuration's fault (exit 3), when the command first searches", function()
    local text = profile_text("sandbox"):gsub("\nbase_url = [^\n]*",
      "\nbase_url = " .. support.http .. "/api-tracing-code/v1")
    cli.write(home .. "/config/soget/profiles.ini", text, "600")
    local e = {}
    for k, v in pairs(NO_ENV) do e[k] = v end
    e.SOGET_SEARCH_BASE_URL = support.search_base_url
    for _, argv in ipairs { { "search", "--document", "3714238101" },
                            { "bulk", "--documents", "-" } } do
      local args = { "--profile", "sandbox" }
      for _, a in ipairs(argv) do args[#args + 1] = a end
      local r = cli.run(args, { home = home, env = e, stdin = "3714238101\n" })
      assert.are.equal(3, r.code, r.err)
      assert.truthy(r.err:find("SOGET_SEARCH_BASE_URL (from the environment) is not on "
        .. "base_url's host", 1, true), r.err)
    end
    -- its lookups go on
    local r = cli.run({ "--profile", "sandbox", "track", "CGMU2436601" }, { home = home, env = e })
    assert.are.equal(0, r.code, r.err)
  end)

  it("reads a profile file that begins with a byte order mark", function()
    cli.write(home .. "/config/soget/profiles.ini", "\239\187\191" .. profile_text("sandbox"), "600")
    local r = cli.run({ "--profile", "sandbox", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("^CGMU2436601"))
  end)

  it("lets the profile win and the environment fill what it leaves out", function()
    cli.write(home .. "/config/soget/profiles.ini",
      "[partial]\nbase_url = https://127.0.0.1:1/api-tracing-code/v1\n"
      .. "token_url = https://127.0.0.1:1/soget-connect/v1/openid-connect/token\nretries = 0\n", "600")
    local r = cli.run({ "--profile", "partial", "track", "CGMU2436601" }, { home = home })
    assert.are.equal(5, r.code)   -- the profile's (unreachable) base URL was used
  end)

  it("exits 3 on a missing profile or a bad profile file, never echoing values", function()
    local path = home .. "/config/soget/profiles.ini"
    cli.write(path, profile_text("a"), "600")
    local r = cli.run({ "--profile", "b", "track", "X" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("no profile [b] in " .. path .. " (it has: a)", 1, true))
    cli.write(path, "[a]\nclient_secret " .. support.client_secret .. "\n", "600")
    r = cli.run({ "--profile", "a", "track", "X" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find(path .. ":2: expected 'key = value'", 1, true))
    assert.is_nil(r.err:find(support.client_secret, 1, true))
    cli.write(path, "[a]\nclient_sekret = x\n", "600")
    r = cli.run({ "--profile", "a", "track", "X" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code)
    assert.are.equal("soget: " .. path .. ":2: unknown setting (did you mean client_secret?)\n", r.err)
  end)

  it("refuses an empty --profile as a usage error, and takes an empty SOGET_PROFILE for none", function()
    cli.write(home .. "/config/soget/profiles.ini", profile_text("a"), "600")
    for _, name in ipairs { "", "  " } do
      local r = cli.run({ "--profile", name, "check", "CSQU3054383" }, { home = home })
      assert.are.equal(2, r.code, r.err)
      assert.are.equal("soget: empty --profile\n", r.err)
    end
    local r = cli.run({ "track", "CGMU2436601" }, { home = home, env = { SOGET_PROFILE = "" } })
    assert.are.equal(0, r.code, r.err)
  end)

  it("reads long runs of spaces in a profile without stalling", function()
    -- "[" and spaces with no "]": the section pattern was quadratic in them
    local path = home .. "/config/soget/profiles.ini"
    local spaces = (" "):rep(300000)
    cli.write(path, "[a" .. spaces .. "x\nclient_id = x" .. spaces .. "y\n", "600")
    local r = cli.run({ "--profile", "a", "track", "X" }, { home = home, env = NO_ENV, timeout = 60 })
    assert.are.equal(3, r.code, r.err:sub(1, 300))
    assert.are.equal("soget: " .. path .. ":1: expected 'key = value' or '[profile]'\n", r.err)
    cli.write(path, "[" .. spaces .. "a" .. spaces .. "]\nclient_id = x" .. spaces .. "y\n", "600")
    r = cli.run({ "--profile", "a", "track", "X" }, { home = home, env = NO_ENV, timeout = 60 })
    assert.are.equal(3, r.code, r.err:sub(1, 300))
    assert.falsy(r.err:find("[profile]", 1, true), r.err:sub(1, 300))   -- the section was read
  end)

  it("names the line of a setting the module refuses, unless an option replaced it", function()
    local path = home .. "/config/soget/profiles.ini"
    -- (a setting given twice: its last line, which counts)
    cli.write(path, profile_text("a", "base_url = https://b.test/v1?x=1"), "600")
    local r = cli.run({ "--profile", "a", "track", "X" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code)
    assert.are.equal("soget: " .. path .. ":11: base_url must hold no query (?) or fragment (#)\n", r.err)
    cli.write(path, profile_text("a", "retries = 1.5"), "600")
    r = cli.run({ "--profile", "a", "track", "X" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code)
    assert.are.equal("soget: " .. path .. ":11: option 'retries' must be an integer\n", r.err)
    r = cli.run({ "--profile", "a", "--retries", "0", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.are.equal(0, r.code, r.err)
  end)

  it("shows no part of a URL's password with --verbose, whatever it holds", function()
    for _, url in ipairs { "http://user:pa/ss@127.0.0.1:1/api", "http://a@b:hunter2@127.0.0.1:1/api" } do
      local r = cli.run({ "-v", "--no-token-cache", "track", "X" }, { home = home,
        env = { SOGET_BASE_URL = url } })
      assert.is_nil(r.err:find("pa/ss", 1, true), r.err)
      assert.is_nil(r.err:find("hunter2", 1, true), r.err)
      assert.truthy(r.err:find("base_url: http://***@127.0.0.1:1/api (from SOGET_BASE_URL)", 1, true), r.err)
    end
  end)

  it("names no part of a value in any profile error, continuation lines included", function()
    local path = home .. "/config/soget/profiles.ini"
    local secret = "c2VjcmV0LXZhbHVl"    -- base64, as a client secret may be
    local cases = {
      -- a value continued on an indented line: an error naming the line only
      { "[a]\nclient_id = x\nclient_secret =\n    " .. secret .. "==\napi_key = k\n", 4,
        "an indented line cannot continue the value above (put the whole value on one line)" },
      { "[a]\n  client_secret = " .. secret .. "\n     " .. secret .. "\n", 3,
        "an indented line cannot continue the value above (put the whole value on one line)" },
      -- a value where a setting's name should be
      { "[a]\n" .. secret .. "= = x\n", 2, "unknown setting" },
      { "[a]\n" .. secret .. "\n", 2, "expected 'key = value' or '[profile]'" },
      { secret .. "==\n[a]\n", 1, "a setting comes before any [profile] line" },
      { "client_secret = " .. secret .. "\n[a]\n", 1, "a setting comes before any [profile] line" },
      { "[a]\ntimeout = " .. secret .. "\n", 2, "'timeout' must be a number" },
      { "[a]\nverify_tls = " .. secret .. "\n", 2, "'verify_tls' must be true or false" },
      { "[a]\nclient_secret " .. secret .. "\n", 2, "expected 'key = value' or '[profile]'" },
    }
    for i, c in ipairs(cases) do
      cli.write(path, c[1], "600")
      local r = cli.run({ "--profile", "a", "track", "X" }, { home = home, env = NO_ENV })
      assert.are.equal(3, r.code, "case " .. i)
      assert.are.equal("soget: " .. path .. ":" .. c[2] .. ": " .. c[3] .. "\n", r.err, "case " .. i)
      for j = 1, #secret - 3 do
        assert.is_nil(r.err:find(secret:sub(j, j + 3), 1, true), "case " .. i .. " echoes the value")
      end
    end
    -- indentation alone is fine: settings indented alike, or after a blank line
    cli.write(path, "[a]\n  client_id = x\n  retries = 0\n\n    api_key = k\n", "600")
    local r = cli.run({ "--profile", "a", "track", "X" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("no credentials", 1, true), r.err)
  end)

  it("refuses a profile file another user owns or can write to, or that is not a file", function()
    local path = home .. "/config/soget/profiles.ini"
    cli.write(path, profile_text("p"), "600")
    os.execute("chown nobody " .. cli.q(path))
    local r = cli.run({ "--profile", "p", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code, r.err)
    assert.are.equal("soget: cannot use profile file " .. path .. ": it belongs to another user (uid "
      .. cli.sh("id -u nobody"):gsub("%s+", "") .. ")\n", r.err)
    os.execute("chown root " .. cli.q(path) .. " && chmod 622 " .. cli.q(path))
    r = cli.run({ "--profile", "p", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code, r.err)
    assert.are.equal("soget: cannot use profile file " .. path .. ": its group or others can "
      .. "write to it (mode 622)\n", r.err)
    -- a FIFO: refused at once (run as nobody: the FIFO is root's)
    os.execute("rm " .. cli.q(path) .. " && mkfifo -m 644 " .. cli.q(path) .. " && chmod 755 "
      .. cli.q(home) .. " " .. cli.q(home .. "/config") .. " " .. cli.q(home .. "/config/soget"))
    r = cli.run({ "--profile", "p", "track", "CGMU2436601" }, { home = home, env = NO_ENV,
      as_nobody = true, timeout = 10 })
    assert.are.equal(3, r.code, r.err)
    assert.truthy(r.err:find("cannot use profile file " .. path .. ": it belongs to another user",
      1, true), r.err)
    -- the user's own pipe is read (a shell's process substitution)
    os.execute("rm " .. cli.q(path))
    cli.write(home .. "/p.txt", profile_text("p"), "600")
    local piped = cli.sh("env -u SOGET_PROFILE LUA_CPATH=" .. cli.q(cli.module_dir .. "/?.so;;")
      .. " XDG_CACHE_HOME=" .. cli.q(home .. "/cache") .. " SOGET_PROFILES=/dev/fd/3 bash -c "
      .. cli.q("exec 3< <(cat " .. cli.q(home .. "/p.txt") .. "); timeout 30 " .. cli.lua
        .. " bin/soget --profile p track CGMU2436601") .. " 2>&1")
    assert.truthy(piped:find("^CGMU2436601  Container"), piped)
  end)

  it("refuses a profile in a folder others can write to, and a path too long", function()
    -- another user could have put there a link to any file of ours whose
    -- text they chose: its settings say where the secret goes
    local path = home .. "/config/soget/profiles.ini"
    cli.write(path, profile_text("p"), "600")
    os.execute("chmod 777 " .. cli.q(home .. "/config/soget"))
    local r = cli.run({ "--profile", "p", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.are.equal(3, r.code, r.err)
    assert.are.equal("soget: cannot use profile file " .. path .. ": its group or others can "
      .. "write to its directory (mode 777)\n", r.err)
    local long = "/" .. ("d"):rep(4100)
    r = cli.run({ "--profile", "p", "track", "CGMU2436601" },
      { home = home, env = { XDG_CONFIG_HOME = long } })
    assert.are.equal(3, r.code, r.err)
    assert.truthy(r.err:find(": its path is too long\n$"), r.err)
    -- a relative XDG_CONFIG_HOME is ignored: HOME's .config is read
    os.execute("chmod 700 " .. cli.q(home .. "/config/soget") .. " && mkdir -p "
      .. cli.q(home .. "/.config") .. " && mv " .. cli.q(home .. "/config/soget") .. " "
      .. cli.q(home .. "/.config/"))
    r = cli.run({ "--profile", "p", "track", "CGMU2436601" },
      { home = home, env = { XDG_CONFIG_HOME = "config", HOME = home } })
    assert.are.equal(0, r.code, r.err)
  end)

  it("warns when a profile holding secrets is readable by others", function()
    for _, mode in ipairs { "644", "640", "604" } do   -- the world, the group, either
      cli.write(home .. "/config/soget/profiles.ini", profile_text("sandbox"), mode)
      local r = cli.run({ "--profile", "sandbox", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
      assert.are.equal(0, r.code)
      assert.truthy(r.err:find("readable by others (mode " .. mode .. ")", 1, true), mode .. ": " .. r.err)
    end
    cli.write(home .. "/config/soget/profiles.ini", profile_text("sandbox"), "600")
    local r = cli.run({ "--profile", "sandbox", "track", "CGMU2436601" }, { home = home, env = NO_ENV })
    assert.is_nil(r.err:find("readable by others", 1, true), r.err)
    -- the secrets in another section than the one used: the file holds them all the same
    cli.write(home .. "/config/soget/profiles.ini", "[dev]\ntimeout = 10\n\n" .. profile_text("prod"), "644")
    r = cli.run({ "--profile", "dev", "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("readable by others (mode 644)", 1, true), r.err)
    -- and a profile the file lacks: the warning, then the error
    r = cli.run({ "--profile", "none", "track", "CGMU2436601" }, { home = home })
    assert.are.equal(3, r.code, r.err)
    assert.truthy(r.err:find("readable by others (mode 644)", 1, true), r.err)
    assert.truthy(r.err:find("no profile [none]", 1, true), r.err)
    -- and a file refused for an error in it (its first line a secret's,
    -- after a byte order mark)
    cli.write(home .. "/config/soget/profiles.ini", "\239\187\191client_secret = x\n" .. profile_text("prod"), "644")
    r = cli.run({ "--profile", "prod", "track", "CGMU2436601" }, { home = home })
    assert.are.equal(3, r.code, r.err)
    assert.truthy(r.err:find("readable by others (mode 644)", 1, true), r.err)
    assert.truthy(r.err:find("before any [profile] line", 1, true), r.err)
    cli.write(home .. "/config/soget/profiles.ini", profile_text("prod") .. "[other]\nbogus_setting = 1\n", "644")
    r = cli.run({ "--profile", "prod", "track", "CGMU2436601" }, { home = home })
    assert.are.equal(3, r.code, r.err)
    assert.truthy(r.err:find("readable by others (mode 644)", 1, true), r.err)
    assert.truthy(r.err:find("unknown setting", 1, true), r.err)
  end)

  it("refuses an unknown setting of any length at once, naming the closest known one", function()
    -- every setting's edit distance to a long name took the square of its
    -- length: a million-byte name took 35 s
    for _, case in ipairs { { "timout", "timeout" }, { ("a"):rep(1000000), nil } } do
      cli.write(home .. "/config/soget/profiles.ini", "[p]\n" .. case[1] .. " = 1\n", "600")
      local r = cli.run({ "--profile", "p", "track", "CGMU2436601" }, { home = home, env = NO_ENV, timeout = 10 })
      assert.are.equal(3, r.code, r.err)
      assert.truthy(r.err:find(":2: unknown setting" .. (case[2] and (" (did you mean " .. case[2] .. "?)") or "\n"),
        1, true), r.err)
    end
  end)

  it("caches the token between runs in a 0600 file", function()
    support.reset()
    local r1 = cli.run({ "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r1.code, r1.err)
    assert.are.equal(1, support.stats().token_requests)
    local files = cache_files(home)
    assert.are.equal(1, #files)
    assert.are.equal("600", cli.mode(files[1]))
    assert.are.equal("700", cli.mode(home .. "/cache/soget"))
    for _ = 1, 3 do
      local r = cli.run({ "track", "CGMU2436601" }, { home = home })
      assert.are.equal(0, r.code, r.err)
    end
    local st = support.stats()
    assert.are.equal(1, st.token_requests)
    assert.are.equal(4, st.api_requests)
  end)

  it("ignores a cache file whose mode is looser than 0600", function()
    support.reset()
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    local file = cache_files(home)[1]
    os.execute("chmod 644 " .. cli.q(file))
    local r = cli.run({ "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code)
    assert.truthy(r.err:find("ignoring token cache " .. file .. ": its mode 644 is looser than 600", 1, true))
    assert.are.equal(2, support.stats().token_requests)
    assert.are.equal("600", cli.mode(file))   -- written anew, private
  end)

  it("renews a cached token the server no longer accepts", function()
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    local file = cache_files(home)[1]
    local text = cli.read(file):gsub("access_token=[^\n]*", "access_token=0123456789abcdef")
    cli.write(file, text, "600")
    support.reset()
    local r = cli.run({ "track", "CGMU2436601" }, { home = home })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(1, support.stats().token_requests)
    assert.is_nil(cli.read(file):find("0123456789abcdef", 1, true))
  end)

  it("keeps separate caches per token URL and client id", function()
    assert.are.equal(0, cli.run({ "track", "CGMU2436601" }, { home = home }).code)
    -- another token URL (the same server, through a harmless fault path)
    local other = cli.run({ "track", "CGMU2436601" }, { home = home,
      env = { SOGET_TOKEN_URL = support.fault_token("delay:ms=1") } })
    assert.are.equal(0, other.code, other.err)
    assert.are.equal(2, #cache_files(home))
    -- a client id the server refuses: nothing cached for it
    cli.run({ "--retries", "0", "track", "CGMU2436601" }, { home = home,
      env = { SOGET_CLIENT_ID = "someone-else" } })
    assert.are.equal(2, #cache_files(home))
  end)

  it("never prints secrets, even with --verbose", function()
    -- first run fetches a token and caches it; the second uses the cache
    local runs = {}
    runs[1] = cli.run({ "--verbose", "track", "CGMU2436601" }, { home = home })
    runs[2] = cli.run({ "-v", "track", "CGMU2436601", "--json" }, { home = home })
    local token = cli.read(cache_files(home)[1]):match("access_token=([^\n]+)")
    assert.truthy(token and #token > 8)
    runs[3] = cli.run({ "-v", "--retries", "0", "bulk", "-" }, { home = home,
      stdin = "CGMU2436601\nZZZZ0000000\n" })
    runs[4] = cli.run({ "-v", "--no-token-cache", "track", "X" }, { home = home,
      env = { SOGET_CLIENT_SECRET = support.client_secret .. "x" } })
    runs[5] = cli.run({ "-v", "--retries", "0", "watch", "CGMU2436601", "--every", "0.1", "--count", "2" },
      { home = home, env = { SOGET_BASE_URL = support.fault_base("503-then-ok:n=1:id=" .. support.uid("v")) } })
    cli.write(home .. "/config/soget/profiles.ini", profile_text("p"), "600")
    runs[6] = cli.run({ "-v", "--profile", "p", "find", "CGMU", "--limit", "2" }, { home = home, env = NO_ENV })
    for i, r in ipairs(runs) do
      local all = r.out .. r.err
      for _, secret in ipairs { support.client_secret, support.api_key, token } do
        assert.is_nil(all:find(secret, 1, true), "run " .. i .. " printed a secret")
      end
    end
    assert.truthy(runs[1].err:find("client_secret: (set, from SOGET_CLIENT_SECRET)", 1, true))
    assert.truthy(runs[1].err:find("api_key: (set, from SOGET_API_KEY)", 1, true))
    assert.truthy(runs[2].err:find("token cache: using a cached token", 1, true))
    assert.truthy(runs[6].err:find("client_secret: (set, from the profile)", 1, true))
    assert.are.equal(4, runs[4].code)
  end)
end)
