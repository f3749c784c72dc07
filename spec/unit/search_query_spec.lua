-- client:handling_units_search's arguments and requests, with no I/O: every
-- bad query raises before any request; a search's request goes to
-- search_base_url with search_api_key (by default api_key); a search is
-- {search = query} in begin, check_query and handling_units_many.
local soget = require "soget"
local S = require "support"

local BASE = "https://api.example.test/v1"
local SEARCH = "https://api.example.test/api-tracing-code-in-mass/v1"
local KEY, SKEY, TOKEN = "KEY-0123456789", "SEARCH-KEY-98765", "tok-abcdef-123"

local function client(o)
  local opts = { base_url = BASE, token_url = "https://auth.example.test/token",
    search_base_url = SEARCH, client_id = "cid", client_secret = "secret-ABCDEFGH",
    api_key = KEY }
  for k, v in pairs(o or {}) do opts[k] = v end
  local c = soget.client(opts)
  c:set_token(TOKEN, 600)
  return c
end

local function request_of(c, q, offset)
  local call = c:begin(q, offset)
  local req = assert(call:request())
  call:close()
  return req
end

describe("handling_units_search", function()
  local bad = {
    { "no identifier", {}, "give a documentReference, a voyageAgentReference or a voyageAgentId" },
    { "only empty identifiers", { documentReference = "", voyageAgentId = "" }, "give a documentReference" },
    { "only other filters", { customsFlag = "Import", freightAgent = "CMA" }, "give a documentReference" },
    { "an empty string", "", "give a documentReference" },
    { "the lookup's reference", { documentReference = "X", reference = "CGMU" }, "unknown query key 'reference'" },
    { "the lookup's spi", { voyageAgentId = "V", spi = "1" }, "unknown query key 'spi'" },
    { "an unknown key", { documentReference = "X", bl = "1" }, "unknown query key 'bl'" },
    { "a wrong type", { documentReference = 3714238101 }, "'documentReference'" },
    { "desc not a boolean", { documentReference = "X", desc = "yes" }, "'desc'" },
    { "a customsFlag outside the enum", { documentReference = "X", customsFlag = "import" },
      "customsFlag must be one of Unknown, Import, Export, Transhipment, Transit" },
    { "limit 0", { documentReference = "X", limit = 0 }, "'limit' must be between 1 and 10" },
    { "limit 11", { documentReference = "X", limit = 11 }, "'limit' must be between 1 and 10" },
    { "a negative offset", { documentReference = "X", offset = -1 }, "'offset'" },
    { "a control character", { voyageAgentReference = "V\n1" }, "contains a line break" },
    { "a NUL byte", { freightAgent = "A\0B", documentReference = "X" }, "NUL" },
    { "not a table", 42, "query must be a table or a document reference string" },
    -- no documented limit, but a URL a server takes: 512 bytes a value
    { "a document reference of 513 bytes", ("D"):rep(513),
      "'documentReference' is longer than 512 bytes" },
    { "a voyage reference of 1 MB", { voyageAgentReference = ("V"):rep(2 ^ 20) },
      "'voyageAgentReference' is longer than 512 bytes" },
    { "a freight agent of 513 bytes", { documentReference = "X", freightAgent = ("é"):rep(257) },
      "'freightAgent' is longer than 512 bytes" },
    -- bytes that are not UTF-8, as a lookup's reference: in every text key
    { "a document reference not UTF-8", "AB\255", "'documentReference' is not valid UTF-8" },
    { "a raw C1 byte (CSI, 0x9B)", { documentReference = "AB\155[2J" },
      "'documentReference' is not valid UTF-8" },
    { "a voyage reference not UTF-8", { voyageAgentReference = "V\195" },
      "'voyageAgentReference' is not valid UTF-8" },
    { "a voyage id not UTF-8", { voyageAgentId = "\237\160\128" },   -- a surrogate
      "'voyageAgentId' is not valid UTF-8" },
    { "a customs flag not UTF-8", { documentReference = "X", customsFlag = "Import\128" },
      "'customsFlag' is not valid UTF-8" },
    { "a freight agent not UTF-8", { documentReference = "X", freightAgent = "\192\175" },
      "'freightAgent' is not valid UTF-8" },
  }
  for _, b in ipairs(bad) do
    it("raises before any request on " .. b[1], function()
      local c = client()
      local ok, err = pcall(c.handling_units_search, c, b[2])
      assert.is_false(ok)
      assert.truthy(tostring(err):find("handling_units_search: ", 1, true), err)
      assert.truthy(tostring(err):find(b[3], 1, true), err)
      assert.are.equal(0, c:stats().api_requests)
      assert.are.equal(0, c:stats().token_requests)
      -- and the same through begin, handling_units_many and check_query
      assert.is_false((pcall(c.begin, c, { search = b[2] })))
      ok, err = pcall(c.handling_units_many, c, { { search = b[2] } })
      assert.is_false(ok)
      assert.truthy(tostring(err):find(b[3], 1, true), err)
      assert.are.equal(0, c:stats().api_requests)
      local okq, msg = soget.check_query{ search = b[2] }
      assert.is_nil(okq)
      assert.truthy(msg:find(b[3], 1, true), msg)
      c:close()
    end)
  end

  it("takes every customsFlag of the enum", function()
    local c = client()
    for _, f in ipairs{ "Unknown", "Import", "Export", "Transhipment", "Transit" } do
      local req = request_of(c, { search = { voyageAgentId = "V1", customsFlag = f } })
      assert.are.equal(SEARCH .. "/handling-units/search?voyageAgentId=V1&customsFlag=" .. f, req.url)
    end
    c:close()
  end)

  it("sends the API's parameter names, encoded, in its order", function()
    local c = client()
    local req = request_of(c, { search = { freightAgent = "CMA CGM", customsFlag = "Export",
      voyageAgentId = "S1/2", voyageAgentReference = "VAG+1", documentReference = "BL&1",
      desc = true, limit = 10, offset = 30 } })
    assert.are.equal(SEARCH .. "/handling-units/search?documentReference=BL%261"
      .. "&voyageAgentReference=VAG%2B1&voyageAgentId=S1%2F2&customsFlag=Export"
      .. "&freightAgent=CMA%20CGM&desc=true&limit=10&offset=30", req.url)
    assert.are.equal("GET", req.method)
    assert.are.equal("Bearer " .. TOKEN, req.headers.Authorization)
    assert.are.equal(KEY, req.headers["Ocp-Apim-Subscription-Key"])
    c:close()
  end)

  it("leaves an empty value out of the URL: no filter, not a filter on \"\"", function()
    local c = client()
    local req = request_of(c, { search = { documentReference = "", voyageAgentReference = "",
      voyageAgentId = "VAG0000020061", freightAgent = "" } })
    assert.are.equal(SEARCH .. "/handling-units/search?voyageAgentId=VAG0000020061", req.url)
    -- a lookup's too (the API's default for reference and spi is "")
    req = request_of(c, { reference = "", spi = "CNI0000063978", limit = 3 })
    assert.are.equal(BASE .. "/handling-units?spi=CNI0000063978&limit=3", req.url)
    req = request_of(c, { reference = "CGMU", spi = "" })
    assert.are.equal(BASE .. "/handling-units?reference=CGMU", req.url)
    c:close()
  end)

  it("takes values of 512 bytes, and a URL of every longest value under 8,000 bytes", function()
    local c = client()
    local long = ("/"):rep(512)   -- percent-encoded: three bytes each
    local req = request_of(c, { search = { documentReference = long, voyageAgentReference = long,
      voyageAgentId = long, freightAgent = long, customsFlag = "Transhipment", desc = true,
      limit = 10, offset = 2147483647 } })
    -- the same query on the default base URL
    local default = "https://soget-api-integration.azure-api.net/api-tracing-code-in-mass/v1"
    local n = #req.url - #SEARCH + #default
    assert.truthy(n < 8000, n)
    assert.truthy(req.url:find(("%2F"):rep(512), 1, true))
    c:close()
  end)

  it("takes a document reference string, and an offset from begin", function()
    local c = client()
    assert.are.equal(SEARCH .. "/handling-units/search?documentReference=3714238101&offset=20",
      request_of(c, { search = "3714238101" }, 20).url)
    c:close()
  end)

  it("sends search_api_key to the search, api_key to lookups, one token for both", function()
    local c = client{ search_api_key = SKEY }
    local s = request_of(c, { search = "BL" })
    local l = request_of(c, "CGMU2436601")
    assert.are.equal(SKEY, s.headers["Ocp-Apim-Subscription-Key"])
    assert.are.equal(KEY, l.headers["Ocp-Apim-Subscription-Key"])
    assert.are.equal(BASE .. "/handling-units?reference=CGMU2436601", l.url)
    assert.are.equal(s.headers.Authorization, l.headers.Authorization)
    assert.are.equal(0, c:stats().token_requests)
    c:close()
  end)

  it("never shows search_api_key: not in errors, not in tostring", function()
    local c = client{ search_api_key = SKEY }
    local call = c:begin{ search = "BL" }
    assert(call:request())
    local page, err = call:response(400, '{"code":"R002","message":"bad key ' .. SKEY .. '"}')
    assert.is_nil(page)
    assert.is_nil(tostring(err):find(SKEY, 1, true))
    assert.truthy(err.message:find("***", 1, true))
    assert.is_nil(tostring(c):find(SKEY, 1, true))
    c:close()
  end)

  it("answers R001 with an empty page that remembers its search", function()
    local c = client()
    local call = c:begin({ search = { documentReference = "NONE" } }, 10)
    assert(call:request())
    local page = assert(call:response(404, '{"code":"R001","message":"No results"}'))
    assert.are.same({ 0, 0, 10, 0 }, { page.total, page.returned, page.first, #page.items })
    call:close()
    c:close()
  end)

  it("refuses a search mixed into a lookup, and a wrapper with other keys", function()
    local c = client()
    local ok, err = pcall(c.handling_units, c, { documentReference = "X" })
    assert.is_false(ok)
    assert.truthy(err:find("unknown query key 'documentReference'", 1, true), err)
    ok, err = pcall(c.handling_units, c, { search = "X" })
    assert.is_false(ok)
    assert.truthy(err:find("unknown query key 'search'", 1, true), err)
    ok, err = pcall(c.begin, c, { search = "X", limit = 5 })
    assert.is_false(ok)
    assert.truthy(err:find("a search is {search = query}, with no other key", 1, true), err)
    c:close()
  end)

  it("takes the search base URL beside a base_url of the tracing API, and none from another", function()
    -- in a process without the runner's SOGET_*_URL variables (which come
    -- before what is taken from base_url, as for every option), nor its
    -- client credentials (which would need a token URL: auth_spec)
    local chunk = [[
      local soget = require "soget"
      local function url(opts, query)
        opts.api_key, opts.access_token = "k", "t"
        local c = soget.client(opts)
        local req = c:begin(query or { search = "BL" }):request()
        c:close()
        print(req.url)
      end
      url { base_url = "https://p.test/gw/api-tracing-code/v1" }
      url { base_url = "https://p.test/api-tracing-code/v1/" }
      url { base_url = "https://p.test/api-tracing-code/v1", search_base_url = "https://q.test/m" }
      url {}
      -- a host of that name is no path: another host's API, no search URL
      local ok, err = pcall(url, { base_url = "https://api-tracing-code/v1" })
      print(ok, (tostring(err):gsub("^[^:]*:%d+: ", "")))
      local c = soget.client { api_key = "k", access_token = "t", base_url = "https://p.test/v1" }
      url({ base_url = "https://p.test/v1" }, { reference = "MSCU" })
      for _, f in ipairs {
        function() return c:handling_units_search("BL") end,
        function() return c:begin { search = "BL" } end,
        function() return c:handling_units_many { { reference = "MSCU" }, { search = "BL" } } end,
      } do
        local ok, err = pcall(f)
        print(ok, (tostring(err):gsub("^[^:]*:%d+: ", "")))
      end
      print(c:stats().api_requests + c:stats().token_requests)
      c:close()
      -- beside a base_url near the limit: only while it fits soget.limits.url
      for _, n in ipairs { 2040, 2041 } do
        local tail = "/api-tracing-code/v1"
        local base = "https://p.test/" .. ("a"):rep(n - #"https://p.test/" - #tail) .. tail
        c = soget.client { api_key = "k", access_token = "t", base_url = base }
        local ok, call = pcall(c.begin, c, { search = "BL" })
        print(n, ok and #call:request().url:match("^(.*)/handling%-units/search") or "none")
        c:close()
      end
    ]]
    local out = S.popen_read("env -u SOGET_BASE_URL -u SOGET_SEARCH_BASE_URL -u SOGET_TOKEN_URL "
      .. "-u SOGET_CLIENT_ID -u SOGET_CLIENT_SECRET "
      .. S.lua .. " -e " .. S.shell_quote("package.cpath = " .. ("%q"):format(package.cpath)
      .. "; " .. chunk) .. " 2>&1")
    local want = "no search_base_url for this base_url (it is taken beside a base_url whose "
      .. "path ends in /api-tracing-code/v1, when it fits in 2048 bytes): give search_base_url, "
      .. "or set SOGET_SEARCH_BASE_URL"
    assert.are.equal(table.concat({
      -- beside it, on the same origin (as on SOGET's platforms and the sandbox)
      "https://p.test/gw/api-tracing-code-in-mass/v1/handling-units/search?documentReference=BL",
      "https://p.test/api-tracing-code-in-mass/v1/handling-units/search?documentReference=BL",
      -- given, it wins
      "https://q.test/m/handling-units/search?documentReference=BL",
      -- both left out: the integration platform's
      "https://soget-api-integration.azure-api.net/api-tracing-code-in-mass/v1/handling-units/"
        .. "search?documentReference=BL",
      -- another base_url, none given: lookups go, a search raises before any
      -- request (the integration platform would get this environment's token)
      "false\tbegin: " .. want,
      "https://p.test/v1/handling-units?reference=MSCU",
      "false\thandling_units_search: " .. want,
      "false\tbegin: " .. want,
      "false\thandling_units_many: query 2: " .. want,
      "0", "2040\t2048", "2041\tnone", "" }, "\n"), out)
  end)

  it("checks search_base_url like base_url", function()
    local ok, err = pcall(soget.client, { api_key = "k", access_token = "t",
      search_base_url = "ftp://x" })
    assert.is_false(ok)
    assert.truthy(err:find("search_base_url must start with http", 1, true), err)
  end)
end)
