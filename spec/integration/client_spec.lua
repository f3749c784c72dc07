-- soget.client and client:handling_units against the sandbox, over real
-- loopback connections (HTTPS verified with the sandbox's CA by default).
local soget = require "soget"
local S = require "support"

local function has(s, sub) return s and s:find(sub, 1, true) ~= nil end

describe("soget.client options", function()
  it("raises on an unknown option, naming it", function()
    local ok, err = pcall(soget.client, S.options{ colour = "blue" })
    assert.is_false(ok)
    assert.truthy(has(err, "unknown option 'colour'"), err)
    ok, err = pcall(soget.client, S.options{ ["timeout\0"] = 1 })
    assert.is_false(ok)
    assert.truthy(has(err, "unknown option 'timeout\\x00'"), err)
  end)

  it("reads every table raw: an __index gives no option, a proxy list no query", function()
    local calls = 0
    local hidden = { timeout = "bad", on_result = function() calls = calls + 1 end,
                     reference = "CGMU2436601", max_items = "bad" }
    -- (were __index read, timeout = "bad" would raise)
    local c = soget.client(setmetatable(S.options{}, { __index = hidden }))
    local ok, err = pcall(c.handling_units, c, setmetatable({}, { __index = hidden }))
    assert.is_false(ok)
    assert.truthy(has(tostring(err), "give a reference or an spi"), tostring(err))
    local results, counts = c:handling_units_many({ "CGMU2436601" }, setmetatable({}, { __index = hidden }))
    assert.are.equal(1, counts.ok)
    assert.are.equal("CGMU2436601", results[1].items[1].reference)
    assert.are.equal(0, calls)
    results, counts = c:handling_units_many(setmetatable({}, { __index = { "CGMU2436601" },
                                                                __len = function() return 1 end }))
    assert.are.same({}, results)
    assert.are.equal(0, counts.ok + counts.failed)
    local page = assert(c:handling_units("CGMU2436601"))
    local n = 0
    for _ in page:iter(setmetatable({}, { __index = hidden })) do n = n + 1 end
    assert.are.equal(#page.items, n)
    c:close()
  end)

  it("names a key that is no string by its type, in every option table", function()
    local page = assert(soget.decode('{"total":0,"returned":0,"first":0,"items":[]}'))
    local function message(f, ...)
      local ok, err = pcall(f, ...)
      assert.is_false(ok)
      return (tostring(err):gsub("^[^:]*:%d+: ", ""))
    end
    assert.are.equal("iter: option names must be strings, got number", message(page.iter, page, { 5 }))
    -- a manual pager is asked for with a boolean ("false", 0: no switch)
    assert.are.equal("iter: 'manual' must be a boolean, got string",
      message(page.iter, page, { manual = "false" }))
    assert.are.equal("iter: 'manual' must be a boolean, got number", message(page.iter, page, { manual = 0 }))
    assert.are.equal("soget.decode: option names must be strings, got boolean",
      message(soget.decode, "{}", { [true] = 1 }))
    local opts = S.options()
    opts[{}] = 1
    assert.are.equal("soget.client: option names must be strings, got table", message(soget.client, opts))
  end)

  -- option, bad value, part of the message
  local cases = {
    {"timeout", "10", "must be a number"},
    {"timeout", 0, "between"},
    {"retries", 1.5, "integer"},
    {"retries", 11, "between"},
    {"verify_tls", "yes", "must be a boolean"},
    {"api_key", 42, "must be a string"},
    {"api_key", "abc\r\nX-Injected: 1", "line break"},
    {"access_token", "tok\0en", "NUL"},
    {"user_agent", "ua\nx", "line break"},
    {"base_url", "ftp://example", "http:// or https://"},
    -- the paths and queries are appended to a base URL: a query or a
    -- fragment in it put them in the wrong place
    {"base_url", "https://b.test/v1?x=1", "must hold no query (?) or fragment (#)"},
    {"base_url", "https://b.test/v1#f", "must hold no query (?) or fragment (#)"},
    {"search_base_url", "https://b.test/mass/v1?x=1", "must hold no query (?) or fragment (#)"},
    {"token_url", "https://b.test/token#f", "must hold no fragment (#)"},
    -- a user and password: libcurl would send them as Basic credentials
    -- from one driver and not another (the message never quotes them)
    {"token_url", "http://tokuser:TOKENURLPASS@127.0.0.1:9/token", "must hold no user or password"},
    {"base_url", "https://someone@b.test/v1", "must hold no user or password"},
    {"search_base_url", "https://:SEARCHURLPASS@b.test/mass/v1", "must hold no user or password"},
    {"base_url", "https://@b.test/v1", "must hold no user or password"},
    -- no host given (libcurl itself would read one: x)
    {"base_url", "https:///x/v1", "is not a valid URL"},
    {"token_url", "https:////x/token", "is not a valid URL"},
    {"max_response_size", 10, "between"},
    -- the range in digits (not 1.07374e+09), and bytes are whole
    {"max_response_size", 2 ^ 31, "must be between 1024 and 1073741824"},
    {"max_response_size", 1024.5, "must be an integer"},
    {"timeout", 0, "must be between 0.001 and 86400"},
    {"gzip", "no", "must be a boolean"},
    -- sent in the token form, which would take them empty
    {"client_id", "", "is empty"},
    {"client_secret", "", "is empty"},
    {"access_token", "", "is empty"},
  }
  for _, c in ipairs(cases) do
    it("raises on a bad '" .. c[1] .. "'", function()
      local ok, err = pcall(soget.client, S.options{ [c[1]] = c[2] })
      assert.is_false(ok)
      assert.truthy(has(err, c[3]), err)
      assert.truthy(has(err, c[1]), err)
      assert.falsy(has(err, "PASS") or has(err, "someone"), err)
    end)
  end

  it("needs credentials and an API key", function()
    -- The runner exports the sandbox's credentials: check in a process
    -- without them.
    local cmd = "env -u SOGET_CLIENT_ID -u SOGET_CLIENT_SECRET -u SOGET_API_KEY "
      .. "-u SOGET_ACCESS_TOKEN " .. S.lua .. " -e " .. S.shell_quote(
        "package.cpath=" .. string.format("%q", package.cpath) .. ";" ..
        "local s=require'soget';" ..
        "print(select(2,pcall(s.client,{api_key='k'})));" ..
        "print(select(2,pcall(s.client,{client_id='a',client_secret='b'})));" ..
        "print(select(2,pcall(s.client,{client_id='a',api_key='k'})))")
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.truthy(has(lines[1], "no credentials"), out)
    assert.truthy(has(lines[2], "no API key"), out)
    assert.truthy(has(lines[3], "no credentials"), out)
  end)

  it("names the environment as the source of a URL or CA file it refuses", function()
    -- a script that never gave base_url was told "base_url must start
    -- with http://", with no word of SOGET_BASE_URL
    local env_cases = {
      { "SOGET_BASE_URL", "htps://x", "soget.client: base_url (from the environment) must start with http:// or https://" },
      { "SOGET_TOKEN_URL", "ftp://x", "soget.client: token_url (from the environment) must start with http:// or https://" },
      { "SOGET_SEARCH_BASE_URL", "ftp://x", "soget.client: search_base_url (from the environment) must start with http:// or https://" },
      { "SOGET_CA_FILE", "/tmp", "soget.client: ca_file (from the environment) is a directory, not a CA bundle (a PEM file)" },
    }
    for _, case in ipairs(env_cases) do
      local out = S.popen_read("env " .. case[1] .. "=" .. S.shell_quote(case[2]) .. " "
        .. S.shell_quote(S.lua) .. " -e " .. S.shell_quote("package.cpath = "
        .. ("%q"):format(package.cpath) .. "; print(select(2, pcall(require('soget').client)))"))
      assert.are.equal(case[3] .. "\n", out)
    end
    -- given by the script: no such words
    local ok, err = pcall(soget.client, S.options{ base_url = "htps://x" })
    assert.is_false(ok)
    assert.truthy(has(err, "soget.client: base_url must start with http"), err)
  end)

  it("lets explicit credentials win over a SOGET_ACCESS_TOKEN from the environment", function()
    -- The token in the environment would otherwise be sent first, to the
    -- base_url the program chose.
    -- (and no client credentials there: the token alone)
    local cmd = "env -u SOGET_CLIENT_ID -u SOGET_CLIENT_SECRET SOGET_ACCESS_TOKEN=env-token-1234 "
      .. S.lua .. " -e " .. S.shell_quote(
        "package.cpath=" .. string.format("%q", package.cpath) .. ";" ..
        "local s=require'soget';" ..
        "local c=s.client{client_id='a',client_secret='secret-b',api_key='k'," ..
        "base_url='https://api.example.test/v1',token_url='https://auth.example.test/t'};" ..
        "print(c:begin('X'):request().kind);" ..
        "local t=s.client{api_key='k',base_url='https://api.example.test/v1'};" ..
        "print(t:begin('X'):request().headers.Authorization)")
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    assert.are.equal("token\nBearer env-token-1234\n", out)
  end)

  -- A program given only a token and a key (SOGET_ACCESS_TOKEN and
  -- SOGET_API_KEY) against the sandbox: a process of its own.
  local function with_token_env(token)
    local cmd = "env -u SOGET_CLIENT_ID -u SOGET_CLIENT_SECRET SOGET_ACCESS_TOKEN="
      .. S.shell_quote(token) .. " " .. S.shell_quote(S.lua) .. " -e " .. S.shell_quote(
        "package.cpath=" .. string.format("%q", package.cpath) .. ";" ..
        "local c=require'soget'.client{retries=0};" ..
        "for i=1,2 do local p,e=c:handling_units('CGMU2436601');" ..
        "io.write(p and p.items[1].pswId or (e.kind..' '..tostring(e.status)),'\\n') end")
    return S.popen_read(cmd .. " 2>&1")
  end

  it("calls with SOGET_ACCESS_TOKEN from the environment, and asks for no token", function()
    local issued = S.client()
    local token = assert(issued:token())
    issued:close()
    S.reset()
    assert.are.equal("CNI0000063978\nCNI0000063978\n", with_token_env(token))
    local st = S.stats()
    assert.are.equal(0, st.token_requests)
    assert.are.equal(2, st.api_requests)
    for _, r in ipairs(S.requests(2)) do
      assert.are.equal("Bearer " .. token, r.headers.authorization)
    end
    -- a token the API refuses is not renewed: without client credentials
    -- there is nothing to renew it with
    S.reset()
    assert.are.equal("auth 401\nauth 401\n", with_token_env("not-a-token-the-sandbox-issued"))
    st = S.stats()
    assert.are.equal(0, st.token_requests)
    assert.are.equal(2, st.api_requests)
  end)

  it("sends a custom user_agent on every request: token, lookups, searches, batches", function()
    local ua = "acme-tracker/2.1 (+ops@example.com)"
    S.reset()
    local c = S.client{ user_agent = ua }
    assert(c:handling_units("CGMU2436601"))
    assert(c:handling_units_search("HLCUEUR2002APIK9"))
    local _, counts = c:handling_units_many({ "CSQU3054383", "MSCU" })
    assert.are.equal(2, counts.ok)
    c:close()
    local log = S.requests(10)
    assert.are.equal(5, #log)
    assert.are.equal("token", log[1].kind)
    for _, r in ipairs(log) do assert.are.equal(ua, r.headers["user-agent"], r.path) end
  end)

  it("falls back to the SOGET_* environment variables", function()
    -- spec/run exports the sandbox's settings: an empty option table works.
    local c = soget.client()
    local page = assert(c:handling_units{ reference = "CGMU2436601" })
    assert.are.equal(1, page.total)
    c:close()
  end)

  it("prints no secret in tostring, and says when closed", function()
    local c = S.client{ access_token = "static-token-xyz" }
    local s = tostring(c)
    assert.truthy(s:find("^soget%.Client %(0x") or s:find("^soget%.Client %("), s)
    for _, secret in ipairs{ S.client_secret, S.api_key, "static-token-xyz", S.client_id } do
      assert.is_nil(s:find(secret, 1, true))
    end
    c:close()
    assert.are.equal("soget.Client (closed)", tostring(c))
    c:close()  -- idempotent
    local ok, err = pcall(c.handling_units, c, "CGMU2436601")
    assert.is_false(ok)
    assert.truthy(has(err, "closed client"), err)
  end)

  it("runs no options' __index, which could close the client under the call", function()
    -- (when it was run, token() answered true, nil, and an empty batch its
    -- results, from a closed client, before that raised)
    for _, call in ipairs {
      function(c, o) return c:token(o) end,
      function(c, o) return c:handling_units_many({}, o) end,
      function(c, o) return c:handling_units_many({ "CGMU2436601" }, o) end,
    } do
      local c = S.client()
      local ran = false
      local opts = setmetatable({}, { __index = function() ran = true; c:close() end })
      assert(call(c, opts))
      assert.is_false(ran)
      assert.are_not.equal("soget.Client (closed)", tostring(c))
      c:close()
    end
  end)

  it("leaves a page of a closed client yielding what it holds", function()
    -- (a kept page keeps its client alive: gc_spec.lua)
    local c = S.client()
    local page = assert(c:handling_units{ reference = "MSCU", limit = 2 })
    c:close()
    local n = 0
    local ok, err = pcall(function() for _ in page:iter{ max_items = 5 } do n = n + 1 end end)
    assert.are.equal(2, n)
    assert.is_false(ok)
    assert.truthy(has(err, "attempt to use a closed client"), err)
  end)
end)

describe("client:handling_units", function()
  local client
  before_each(function() client = S.client() end)
  after_each(function() client:close() end)

  it("tracks the spec's example container", function()
    local page, err = client:handling_units{ reference = "CGMU2436601" }
    assert.is_nil(err)
    assert.are.equal(1, page.total)
    assert.are.equal(1, page.returned)
    assert.are.equal(0, page.first)
    local hu = page.items[1]
    assert.are.equal("CGMU2436601", hu.reference)
    assert.are.equal("CNI0000063978", hu.pswId)
    assert.are.equal("Container", hu.freightFamily)
    assert.is_string(hu.huLocation.place)
    assert.is_table(hu.events)
    assert.truthy(#hu.events >= 2)
    for i = 2, #hu.events do   -- ISO-8601 strings as sent, in time order
      assert.is_string(hu.events[i].eventDate)
    end
    assert.is_table(hu.shipments)
    assert.is_table(hu.hazardousItems)
    assert.is_table(hu.references)
    assert.is_table(hu.transport.meansId)
  end)

  it("accepts a reference string as the query", function()
    local page = assert(client:handling_units("CGMU2436601"))
    assert.are.equal("CNI0000063978", page.items[1].pswId)
  end)

  it("finds by S)ONE id", function()
    local page = assert(client:handling_units{ spi = "CNI0000063978" })
    assert.are.equal("CGMU2436601", page.items[1].reference)
  end)

  it("sends both credentials, the query and a soget User-Agent", function()
    S.reset()
    assert(client:handling_units{ reference = "CGMU2436601", limit = 3, offset = 0, desc = true })
    local reqs = S.requests(5)
    local last = reqs[#reqs]
    assert.truthy(last.path:find("/handling%-units$"), last.path)
    assert.truthy(last.headers["authorization"]:find("^Bearer "))
    assert.are.equal(S.api_key, last.headers["ocp-apim-subscription-key"])
    assert.truthy(last.headers["user-agent"]:find("^soget/%d+%.%d+%.%d+ libcurl/"), last.headers["user-agent"])
    assert.are.equal("CGMU2436601", last.args.reference)
    assert.are.equal("3", last.args.limit)
    assert.are.equal("0", last.args.offset)
    assert.are.equal("true", last.args.desc)
    assert.truthy(last.headers["accept-encoding"], "gzip is accepted")
  end)

  it("URL-encodes every query value byte-exact", function()
    S.reset()
    local odd = "A&B=C#D%E+F/G?H I"   -- 17 characters
    local page, err = client:handling_units{ reference = odd }
    assert.truthy(page or err)
    local reqs = S.requests(1)
    assert.are.equal(odd, reqs[#reqs].args.reference)
    assert.is_nil(reqs[#reqs].args.B)
    local utf = "CONTÉNEUR-Ω"
    client:handling_units{ reference = utf }
    reqs = S.requests(1)
    assert.are.equal(utf, reqs[#reqs].args.reference)
  end)

  it("answers not found (404 R001) with an empty page", function()
    local page, err = client:handling_units{ reference = "ZZZZ0000000", offset = 20 }
    assert.is_nil(err)
    assert.are.same({}, page.items)
    assert.are.equal(0, page.total)
    assert.are.equal(0, page.returned)
    assert.are.equal(20, page.first)
  end)

  it("maps a business error (400 R003) to kind 'api' with its code", function()
    local page, err = client:handling_units{ spi = "CNI-00000" }
    assert.is_nil(page)
    assert.are.equal("api", err.kind)
    assert.are.equal(400, err.status)
    assert.are.equal("R003", err.code)
    assert.is_false(err.retryable)
    assert.truthy(tostring(err):find("^soget: api: .+ %(HTTP 400, R003%)$"), tostring(err))
  end)

  -- query, part of the message
  local bad = {
    { { reference = "CGMU2436601", colour = "x" }, "unknown query key 'colour'" },
    -- a key with a NUL is not shown as the known key before it
    { { reference = "CGMU2436601", ["limit\0x"] = 1 }, "unknown query key 'limit\\x00x'" },
    { { reference = "CGMU2436601", [("k"):rep(100)] = 1 }, "unknown query key '"
      .. ("k"):rep(64) .. "...'" },
    { { reference = 42 }, "'reference' must be a string" },
    { { reference = string.rep("A", 18) }, "longer than 17" },
    { { spi = string.rep("A", 14) }, "longer than 13" },
    { { reference = "A", limit = 0 }, "'limit' must be between 1 and 10" },
    { { reference = "A", limit = 11 }, "'limit' must be between 1 and 10" },
    { { reference = "A", limit = 2.5 }, "whole number" },
    { { reference = "A", limit = "5" }, "must be a number" },
    { { reference = "A", limit = 0/0 }, "whole number" },
    { { reference = "A", limit = math.huge }, "between" },
    { { reference = "A", offset = -1 }, "'offset' must be between 0" },
    { { reference = "A", offset = 2^40 }, "'offset' must be between 0" },
    { { reference = "A", desc = "true" }, "'desc' must be a boolean" },
    { { reference = "A\r\nX: y" }, "line break" },
    { { reference = "A\0B" }, "NUL" },
    { {}, "give a reference or an spi" },
    { { reference = "" }, "give a reference or an spi" },
    { 42, "query must be a table" },
  }
  for i, case in ipairs(bad) do
    it("raises before any request on bad query #" .. i .. " (" .. case[2] .. ")", function()
      S.reset()
      local ok, err = pcall(client.handling_units, client, case[1])
      assert.is_false(ok)
      assert.truthy(has(err, case[2]), err)
      assert.are.equal(0, S.stats().api_requests)
      assert.are.equal(0, S.stats().token_requests)
    end)
  end
end)

describe("soget.handling_units", function()
  it("uses a default client configured from the environment", function()
    local page, err = soget.handling_units{ reference = "CGMU2436601" }
    assert.is_nil(err)
    assert.are.equal("CNI0000063978", page.items[1].pswId)
    local again = assert(soget.handling_units("CGMU2436601"))
    assert.are.equal(1, again.total)
  end)
end)

-- For a child (S.lua_child): found(pattern), how many times the pattern is
-- found in the process's writable memory, freed blocks included; but for
-- copies in the body that follows a header block's end on the same line,
-- which are libcurl's receive buffer's (README: its own memory, freed as it
-- frees it).
local FOUND = [[
  local S = require "support"
  local function found(pattern)
    local n = 0
    local maps = assert(io.open("/proc/self/maps"))
    local mem = assert(io.open("/proc/self/mem", "rb"))
    for line in maps:lines() do
      local lo, hi, perms = line:match("^(%x+)%-(%x+) (%S+)")
      if perms:sub(1, 2) == "rw" and not line:find("%[v") then
        lo, hi = tonumber(lo, 16), tonumber(hi, 16)
        for at = lo, hi - 1, 1048576 - 4096 do
          if mem:seek("set", at) then
            local bytes = mem:read(math.min(1048576, hi - at))
            local i = bytes and bytes:find(pattern)
            while i do
              local before = bytes:sub(math.max(1, i - 200), i - 1)
              if not before:find("\r\n\r\n[^\n]*$") then n = n + 1 end
              i = bytes:find(pattern, i + 1)
            end
          end
        end
      end
    end
    maps:close()
    mem:close()
    return n
  end
]]

describe("an idle client", function()
  it("keeps no large body once a lookup has read it, as a batch's handles do", function()
    if S.under_checker() then return pending("resident size under a memory checker") end
    -- five clients each read a 7 MB page: each kept its 8 MiB buffer
    -- until its next request or close()
    local out = S.lua_child [[
      local S = require "support"
      local warm = S.client{ base_url = S.fault_base("huge:bytes=7000000"), timeout = 60 }
      assert(warm:handling_units("CGMU2436601"))
      warm:close()
      local before = S.rss()
      local clients = {}
      for i = 1, 5 do
        clients[i] = S.client{ base_url = S.fault_base("huge:bytes=7000000"), timeout = 60 }
        assert(clients[i]:handling_units("CGMU2436601"))
      end
      io.write(math.floor((S.rss() - before) / 1048576), "\n")
      for i = 1, 5 do clients[i]:close() end
    ]]
    local grew = tonumber(out:match("^(%-?%d+)\n$"))
    assert.truthy(grew, out)
    assert.truthy(grew < 12, "resident size grew by " .. tostring(grew) .. " MiB")
  end)

  it("holds no token response's text once client:token() has read it, or failed on it", function()
    if S.under_checker() then return pending("the process's memory read under a memory checker") end
    -- the answer stayed in the client's body buffer until its next request;
    -- one cut short (the whole token in its first half) too
    local out = S.lua_child(FOUND .. [[
      local plain = function(url) return (url:gsub("^https://[^/]+", S.http)) end
      local c = S.client{ base_url = plain(S.base_url), token_url = plain(S.token_url) }
      local tok = assert(c:token())
      -- the answer as the sandbox writes it, as a pattern: no string of
      -- this process holds those bytes but the answer itself
      io.write(found('{"access_token"%s*:%s*"' .. tok:gsub("%W", "%%%0")), "\n")
      c:close()
      local cut = S.client{ base_url = plain(S.base_url), retries = 0,
        token_url = plain(S.token_url):gsub("^(https?://[^/]+)", "%1/_fault/truncate") }
      assert(not cut:token())
      io.write(found('{"access_token"%s*:%s*"%x%x%x%x%x%x%x%x'), "\n")
      cut:close()
    ]])
    assert.are.equal("0\n0\n", out)
  end)

  it("holds no answer's body once closed: a server may echo a secret in any", function()
    if S.under_checker() then return pending("the process's memory read under a memory checker") end
    -- an error's body stayed in the client's body buffer, freed unwiped
    -- at close(); 60 KB, under the child's mmap threshold (a block above
    -- it is unmapped when freed)
    local out = S.lua_child(FOUND .. [[
      local plain = function(url) return (url:gsub("^https://[^/]+", S.http)) end
      local c = S.client{ gzip = false, token_url = plain(S.token_url),
        base_url = plain(S.fault_base("403,huge:bytes=60000")) }
      local page, err = c:handling_units("CGMU2436601")
      assert(not page and err.status == 403, tostring(err))
      err = nil -- luacheck: ignore 311
      collectgarbage()
      -- (after its first 16 bytes, which a freed block's links overwrite;
      -- a pattern that does not match its own text)
      local echo = 'sandbox fault 40[3]","sandboxPadding":"x[x]xxxxxxxxxxxxxx'
      io.write(found(echo), " ")
      c:close()
      collectgarbage()
      collectgarbage()
      io.write(found(echo), "\n")
    ]])
    assert.are.equal("1 0\n", out)
  end)
end)
