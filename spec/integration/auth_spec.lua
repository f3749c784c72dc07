-- OAuth2 client credentials + API key, token caching and renewal, read
-- from the sandbox's own counters and request log.
local soget = require "soget"
local S = require "support"

local function sleep(s) os.execute("sleep " .. s) end

describe("authentication", function()
  before_each(function() S.reset() end)

  it("fetches one token and reuses it for many calls", function()
    local c = S.client()
    for _ = 1, 30 do assert(c:handling_units("CGMU2436601")) end
    local st = S.stats()
    assert.are.equal(1, st.token_requests)
    assert.are.equal(30, st.api_requests)
    assert.are.same({ api_requests = 30, token_requests = 1, retries = 0, connections = 1 },
      c:stats())
    c:close()
  end)

  it("posts the client credentials as a form", function()
    local c = S.client()
    assert(c:handling_units("CGMU2436601"))
    local reqs = S.requests(2)
    local tok = reqs[1]
    assert.are.equal("POST", tok.method)
    assert.truthy(tok.headers["content-type"]:find("application/x-www-form-urlencoded", 1, true))
    assert.truthy(tok.body:find("grant_type=client_credentials", 1, true))
    assert.truthy(tok.body:find("client_id=" .. S.client_id, 1, true))
    assert.is_nil(tok.headers["ocp-apim-subscription-key"], "the API key is not sent to the token URL")
    c:close()
  end)

  it("renews the token before it expires", function()
    local c = S.client{ token_url = S.fault_token("token-ttl:s=2") }
    assert(c:handling_units("CGMU2436601"))
    sleep(2)
    assert(c:handling_units("CGMU2436601"))
    local st = S.stats()
    assert.are.equal(2, st.token_requests)
    assert.are.equal(2, st.api_requests)     -- renewed first: no 401 round trip
    for _, r in ipairs(S.requests(10)) do assert.are_not.equal(401, r.status) end
    c:close()
  end)

  it("renews once and retries on a 401", function()
    local c = S.client{ base_url = S.fault_base("expire-token:after=1") }
    assert(c:handling_units("CGMU2436601"))
    local page, err = c:handling_units("CGMU2436601")   -- token now refused
    assert.is_nil(err)
    assert.are.equal(1, page.total)
    local st = S.stats()
    assert.are.equal(2, st.token_requests)
    assert.are.equal(3, st.api_requests)
    c:close()
  end)

  it("fails with kind 'auth' when the API keeps refusing, after one renewal", function()
    local c = S.client{ api_key = "not-the-key" }
    local page, err = c:handling_units("CGMU2436601")
    assert.is_nil(page)
    assert.are.equal("auth", err.kind)
    assert.are.equal(401, err.status)
    local st = S.stats()
    assert.are.equal(2, st.api_requests)
    assert.are.equal(2, st.token_requests)
    -- the calls that follow fail alike, without a token request each (the
    -- renewed token refused too, by 401s without WWW-Authenticate's
    -- invalid_token: not the token's fault), in every driver
    for _ = 1, 3 do
      local p, e = c:handling_units("CGMU2436601")
      assert.is_nil(p)
      assert.are.equal("auth", e.kind)
    end
    local results = c:handling_units_many({ "CGMU2436601", "MSCU" })
    assert.are.equal("auth", results[1].kind)
    assert.are.equal("auth", results[2].kind)
    st = S.stats()
    assert.are.equal(2 + 3 + 2, st.api_requests)
    assert.are.equal(2, st.token_requests)
    c:close()
  end)

  it("renews at every call a token whose 401 says it is invalid (revoked), in every driver",
    function()
    -- revoke-token: each token refused at its first use, with
    -- WWW-Authenticate: Bearer error="invalid_token"
    local c = S.client{ base_url = S.fault_base("revoke-token") }
    for _ = 1, 3 do
      local p, e = c:handling_units("CGMU2436601")
      assert.is_nil(p)
      assert.are.equal("auth", e.kind)
    end
    local st = S.stats()
    assert.are.equal(6, st.api_requests)
    assert.are.equal(1 + 3, st.token_requests)   -- the first, then a renewal a call
    local results = c:handling_units_many({ "CGMU2436601", "MSCU" })
    assert.are.equal("auth", results[1].kind)
    assert.are.equal("auth", results[2].kind)
    st = S.stats()
    assert.are.equal(6 + 4, st.api_requests)
    assert.are.equal(4 + 1, st.token_requests)   -- one renewal for the batch's calls
    c:close()
  end)

  it("never renews on a 403", function()
    local c = S.client{ base_url = S.fault_base("403") }
    local page, err = c:handling_units("CGMU2436601")
    assert.is_nil(page)
    assert.are.equal("auth", err.kind)
    assert.are.equal(403, err.status)
    assert.are.equal(1, S.stats().token_requests)
    assert.are.equal(1, S.stats().api_requests)
    c:close()
  end)

  it("reports rejected client credentials as kind 'auth'", function()
    local c = S.client{ client_secret = "wrong-secret-123" }
    local page, err = c:handling_units("CGMU2436601")
    assert.is_nil(page)
    assert.are.equal("auth", err.kind)
    assert.are.equal(401, err.status)
    assert.truthy(err.message:find("invalid_client", 1, true), err.message)
    assert.are.equal(0, S.stats().api_requests)
    c:close()
  end)

  it("reports a malformed token response as kind 'decode'", function()
    local c = S.client{ token_url = S.fault_token("bad-token-json") }
    local page, err = c:handling_units("CGMU2436601")
    assert.is_nil(page)
    assert.are.equal("decode", err.kind)
    assert.truthy(err.message:find("token response", 1, true), err.message)
    c:close()
  end)

  it("refuses a token whose token_type is not Bearer, as kind 'auth', before any API request", function()
    for _, t in ipairs{ "mac", "Bearerx", "PoP" } do
      local c = S.client{ token_url = S.fault_token("token-type:type=" .. t) }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("auth", err.kind)
      assert.are.equal("token response: its token_type is not Bearer, the only kind of token soget sends",
        err.message)
      assert.is_false(err.retryable)
      assert.is_nil((c:token{ fetch = false }))
      c:close()
    end
    assert.are.equal(3, S.stats().token_requests)
    assert.are.equal(0, S.stats().api_requests)
    -- any case of Bearer is Bearer
    local c = S.client{ token_url = S.fault_token("token-type:type=bEARER") }
    assert(c:handling_units("CGMU2436601"))
    c:close()
  end)

  it("uses a static access_token and never fetches one", function()
    local donor = S.client()
    local token, left = assert(donor:token())
    assert.is_string(token)
    assert.truthy(left > 0)
    donor:close()
    S.reset()
    local c = soget.client{ access_token = token, api_key = S.api_key, base_url = S.base_url,
      ca_file = S.ca_file }
    -- the environment has client credentials: this client renews with them
    -- only when the static token is refused; here it is accepted.
    assert(c:handling_units("CGMU2436601"))
    assert.are.equal(0, S.stats().token_requests)
    c:close()
  end)

  it("asks for its token beside a base_url of the tracing API when no token_url is given, and "
    .. "raises, before any request, for another base_url", function()
    -- a process without the runner's SOGET_TOKEN_URL (which comes before
    -- what is taken from base_url, as for every option)
    local chunk = [[
      local soget = require "soget"
      local base, id, secret, key, ca = BASE, ID, SECRET, KEY, CA
      local function client(o)
        o.client_id, o.client_secret, o.api_key, o.ca_file = id, secret, key, ca
        return pcall(soget.client, o)
      end
      local ok, c = client { base_url = base }
      local page, err = c:handling_units "CGMU2436601"
      print(page and page.total, err, c:stats().token_requests, (select(2, soget._credentials(c))))
      c:close()
      -- another base_url: the integration platform's token URL would get
      -- this environment's secret
      local other = base:gsub("/api%-tracing%-code/v1$", "/tracing/v1")
      print(client { base_url = other })
      -- unless a token URL is given, or no token is ever asked for
      ok, c = client { base_url = other, token_url = base:gsub("/api%-tracing%-code/v1$", "")
        .. "/soget-connect/v1/openid-connect/token" }
      print(ok, (select(2, soget._credentials(c))))
      c:close()
      ok, c = pcall(soget.client, { base_url = other, access_token = "t", api_key = key })
      print(ok, c:token { fetch = false })
      c:close()
    ]]
    local given = ("BASE, ID, SECRET, KEY, CA = %q, %q, %q, %q, %q; "):format(S.base_url,
      S.client_id, S.client_secret, S.api_key, S.ca_file)
    local out = S.popen_read("env -u SOGET_TOKEN_URL -u SOGET_BASE_URL -u SOGET_CLIENT_ID "
      .. "-u SOGET_CLIENT_SECRET " .. S.lua .. " -e " .. S.shell_quote("package.cpath = "
      .. ("%q"):format(package.cpath) .. "; " .. given .. chunk) .. " 2>&1")
    local origin = S.base_url:match("^(https://[^/]+)/api%-tracing%-code/v1$")
    assert.truthy(origin, S.base_url)
    local token_url = origin .. "/soget-connect/v1/openid-connect/token"
    assert.are.equal(table.concat({
      "1\tnil\t1\t" .. token_url,
      "false\tsoget.client: no token_url for this base_url (it is taken beside a base_url "
        .. "whose path ends in /api-tracing-code/v1, when it fits in 2048 bytes), and client "
        .. "credentials need one: give token_url, or set SOGET_TOKEN_URL",
      "true\t" .. token_url,
      "true\tt\t-1\t-1",
    }, "\n") .. "\n", out)
    -- client credentials in the environment: beside a token given, with
    -- nowhere to go, they are left out (the token is static); alone, the
    -- client raises and says where they came from
    local other = S.base_url:gsub("/api%-tracing%-code/v1$", "/tracing/v1")
    local env_chunk = ([[
      local soget = require "soget"
      local ok, c = pcall(soget.client, { base_url = %q, access_token = "t", api_key = "k" })
      local tok, left = c:token { fetch = false }
      print(ok, tok, left, soget._credentials(c))
      c:close()
      print(pcall(soget.client, { base_url = %q, api_key = "k" }))
    ]]):format(other, other)
    out = S.popen_read("env -u SOGET_TOKEN_URL -u SOGET_BASE_URL -u SOGET_ACCESS_TOKEN "
      .. S.lua .. " -e " .. S.shell_quote("package.cpath = " .. ("%q"):format(package.cpath)
      .. "; " .. env_chunk) .. " 2>&1")
    assert.are.equal("true\tt\t-1\tnil\n"
      .. "false\tsoget.client: no token_url for this base_url (it is taken beside a base_url "
      .. "whose path ends in /api-tracing-code/v1, when it fits in 2048 bytes), and client "
      .. "credentials (from the environment) need one: give token_url, or set "
      .. "SOGET_TOKEN_URL\n", out)
    -- the one token request went to the sandbox's token endpoint
    local st = S.stats()
    assert.are.equal(1, st.token_requests)
    assert.are.equal(1, st.api_requests)
    local paths = {}
    for _, r in ipairs(S.requests(10)) do paths[#paths + 1] = r.method .. " " .. r.path end
    table.sort(paths)
    assert.are.same({ "GET /api-tracing-code/v1/handling-units",
      "POST /soget-connect/v1/openid-connect/token" }, paths)
  end)

  it("uses a SOGET_TOKEN_URL or SOGET_SEARCH_BASE_URL beside a base_url given only on that "
    .. "base_url's host", function()
    -- one left in the shell from another environment would get the
    -- client secret (the token and the API key): the sandbox's plain-HTTP
    -- origin is another port, so another host
    local chunk = [[
      local soget = require "soget"
      local function first(s) return (tostring(s):gsub(" %(beside.*", "")) end
      local http_base = HTTP .. "/api-tracing-code/v1"
      -- credentials of the environment: refused before any request
      local ok, c = pcall(soget.client, { base_url = http_base })
      print(ok, first(c))
      -- a token given alone is used as it is, the credentials left out
      ok, c = pcall(soget.client, { base_url = http_base, access_token = "t" })
      print(ok, (c:token { fetch = false }), soget._credentials(c))
      c:close()
      -- on the base_url's host, or given as an option, it is used
      c = soget.client { base_url = BASE }
      print(c:handling_units "CGMU2436601" ~= nil, (select(2, soget._credentials(c))) == TOKEN)
      c:close()
      c = soget.client { base_url = http_base, token_url = HTTP .. "/soget-connect/v1/openid-connect/token" }
      local page, err = c:handling_units "CGMU2436601"
      print(page ~= nil, err)
      -- the search's: its first search says so, lookups go on
      print(pcall(c.handling_units_search, c, { documentReference = "BL1" }))
      print(c:handling_units "CGMU2436601" ~= nil)
      c:close()
    ]]
    local given = ("HTTP, BASE, TOKEN = %q, %q, %q; "):format(S.http, S.base_url, S.token_url)
    local before = S.stats()
    local out = S.popen_read("env -u SOGET_BASE_URL SOGET_TOKEN_URL=" .. S.shell_quote(S.token_url)
      .. " SOGET_SEARCH_BASE_URL=" .. S.shell_quote(S.search_base_url) .. " " .. S.lua .. " -e "
      .. S.shell_quote("package.cpath = " .. ("%q"):format(package.cpath) .. "; " .. given .. chunk)
      .. " 2>&1")
    assert.are.equal(table.concat({
      "false\tsoget.client: SOGET_TOKEN_URL (from the environment) is not on base_url's host, "
        .. "and the client secret would go there: give token_url, or unset SOGET_TOKEN_URL",
      "true\tt\tnil",
      "true\ttrue",
      "true\tnil",
      "false\thandling_units_search: SOGET_SEARCH_BASE_URL (from the environment) is not on "
        .. "base_url's host, and the token and API key would go there: give search_base_url, or "
        .. "unset SOGET_SEARCH_BASE_URL (beside a base_url whose path ends in /api-tracing-code/v1 "
        .. "it is taken from base_url)",
      "true",
    }, "\n") .. "\n", out)
    -- two token requests: the sandbox's, then the plain origin's
    local st = S.stats()
    assert.are.equal(before.token_requests + 2, st.token_requests)
    assert.are.equal(before.api_requests + 3, st.api_requests)
    -- both from the environment: the caller's choice
    out = S.popen_read("env SOGET_BASE_URL=" .. S.shell_quote(S.http .. "/api-tracing-code/v1")
      .. " SOGET_TOKEN_URL=" .. S.shell_quote(S.token_url) .. " " .. S.lua .. " -e "
      .. S.shell_quote("package.cpath = " .. ("%q"):format(package.cpath) .. [[;
        local c = require("soget").client {}
        print(c:handling_units "CGMU2436601" ~= nil)
        c:close()]]) .. " 2>&1")
    assert.are.equal("true\n", out)
  end)

  it("fails with kind 'auth' on a refused static token when no credentials exist", function()
    local cmd = "env -u SOGET_CLIENT_ID -u SOGET_CLIENT_SECRET " .. S.lua .. " -e " .. S.shell_quote(
      "package.cpath=" .. string.format("%q", package.cpath) .. ";" ..
      "local c=require'soget'.client{access_token='bogus-token'};" ..
      "print(select(2,c:token{fetch=false}),(select(2,c:token())),select(3,c:token()));" ..
      "local p,e=c:handling_units'CGMU2436601';print(e.kind,e.status)")
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    -- a static token's seconds left and to its expiry: -1, as the README
    -- writes it (not -1.0)
    assert.are.equal("-1\t-1\t-1\nauth\t401\n", out)
    assert.are.equal(0, S.stats().token_requests)
    assert.are.equal(1, S.stats().api_requests)
  end)

  it("reads the token it holds without any request: token{fetch = false}", function()
    S.reset()
    local c = S.client()
    assert.is_nil(c:token{ fetch = false })          -- none held yet, none fetched
    assert.are.equal(0, S.stats().token_requests)
    local token, left = assert(c:token())            -- fetched
    assert.are.equal(1, S.stats().token_requests)
    local held, held_left = c:token{ fetch = false }
    assert.are.equal(token, held)
    assert.truthy(held_left > 0 and held_left <= left, held_left)
    assert(c:handling_units("CGMU2436601"))
    assert.are.equal(token, (c:token{ fetch = true }))
    assert.are.equal(1, S.stats().token_requests)
    -- one set elsewhere; then one given as an option
    c:set_token("a-token-from-elsewhere", 0.5)
    held, held_left = c:token{ fetch = false }
    assert.are.equal("a-token-from-elsewhere", held)
    assert.truthy(held_left >= 0 and held_left <= 0.5, held_left)
    c:close()
    local st = soget.client{ access_token = "a-static-token", api_key = S.api_key }
    held, held_left = st:token{ fetch = false }
    assert.are.equal("a-static-token", held)
    assert.is_number(held_left)   -- (renewed: the environment gives credentials)
    st:close()
    assert.are.equal(1, S.stats().token_requests)
    -- wrong arguments raise before anything is read
    local w = S.client()
    assert.has_error(function() w:token(false) end, "token: options must be a table, got boolean")
    assert.has_error(function() w:token{ fetch = "no" } end,
      "token: 'fetch' must be a boolean, got string")
    assert.has_error(function() w:token{ fetched = false } end, "token: unknown option 'fetched'")
    w:close()
    assert.has_error(function() w:token{ fetch = false } end)
    assert.are.equal(1, S.stats().token_requests)
  end)

  it("takes a token from elsewhere with set_token", function()
    local donor = S.client()
    local token = assert(donor:token())
    donor:close()
    S.reset()
    local c = S.client()
    c:set_token(token, 300)
    assert(c:handling_units("CGMU2436601"))
    assert.are.equal(0, S.stats().token_requests)
    assert.has_error(function() c:set_token("a\nb", 10) end,
      "bad argument #1 to 'set_token' (the token contains a line break)")
    assert.has_error(function() c:set_token("abc", -1e10) end)
    -- seconds gone by (a cached token's times read back late): due now,
    -- and expired at 0 or less
    c:set_token("abc", -5, -2)
    assert.are.same({ "abc", 0, 0 }, { c:token { fetch = false } })
    assert.has_error(function() c:set_token("abc", -2, -5) end)   -- (expiry before renewal)
    -- a string and numbers as given, as the options take them: no number
    -- read as a token, no numeric string as seconds
    for _, args in ipairs {
      { 12345, 60, "#1 to 'set_token' (string expected, got number)" },
      { "abcd-token", "60", "#2 to 'set_token' (number expected, got string)" },
      { "abcd-token", " 20 ", "#2 to 'set_token' (number expected, got string)" },
      { "abcd-token", 20, "#3 to 'set_token' (number expected, got string)", "30" },
      { "abcd-token", nil, "#2 to 'set_token' (number expected, got nil)" },
    } do
      local ok, e = pcall(function() c:set_token(args[1], args[2], args[4]) end)
      assert.is_false(ok, args[3])
      assert.truthy(tostring(e):find("bad argument " .. args[3], 1, true), tostring(e))
    end
    -- a token that never comes due would never be renewed ahead of time
    for _, ttl in ipairs { math.huge, 2 ^ 63, 0 / 0, "inf" } do
      local ok, e = pcall(c.set_token, c, "abcd-token", ttl)
      assert.is_false(ok, tostring(ttl))
      assert.truthy(tostring(e):find("bad argument #", 1, true), tostring(e))
    end
    c:set_token("abcd-token", 1e9)
    assert.truthy(select(2, c:token { fetch = false }) <= 1e9)
    -- 0: due for renewal at once, the next call renews it
    S.reset()
    c:set_token("abcd-token", 0, 600)
    local tok, left, expires = c:token { fetch = false }
    assert.are.equal("abcd-token", tok)
    assert.are.equal(0, left)
    assert.truthy(expires > 590 and expires <= 600, tostring(expires))
    assert(c:handling_units("CGMU2436601"))
    assert.are.equal(1, S.stats().token_requests)
    assert.are_not.equal("abcd-token", (c:token { fetch = false }))
    c:close()
  end)

  it("takes a token's expiry with set_token, and gives it with token()", function()
    local c = S.client()
    local token, left, expires = assert(c:token())
    -- the sandbox's tokens last an hour, renewed 30 s before
    assert.truthy(expires - left > 29 and expires - left < 31, left .. " " .. expires)
    local d = S.client()
    d:set_token(token, left, expires)
    local _, dl, de = d:token { fetch = false }
    assert.truthy(math.abs(dl - left) < 1 and math.abs(de - expires) < 1, dl .. " " .. de)
    d:set_token(token, 10)   -- no expiry given: its renewal time
    _, dl, de = d:token { fetch = false }
    assert.truthy(de >= dl and de - dl < 0.01, dl .. " " .. de)
    -- token()'s values go back to set_token as they are
    for _ = 1, 100 do d:set_token(d:token { fetch = false }) end
    for _, bad in ipairs { 5, math.huge, 0 / 0, "inf", 2e9 } do
      local ok, e = pcall(d.set_token, d, token, 10, bad)
      assert.is_false(ok, tostring(bad))
      assert.truthy(tostring(e):find("bad argument #4", 1, true), tostring(e))
    end
    c:close()
    d:close()
  end)
end)
