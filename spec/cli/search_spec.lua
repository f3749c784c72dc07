-- soget search: every unit of a bill of lading or a voyage against the
-- sandbox's in-mass search, pages fetched lazily, a summary line.
local cli = require "cli.cli"
local cjson = require "cjson"
local support = cli.support

local SEARCH_BASE = os.getenv("SOGET_SEARCH_BASE_URL")
local SEARCH_KEY = os.getenv("SOGET_SANDBOX_SEARCH_KEY")

-- The sandbox's own answer (its control endpoint, no paging): the units
-- a search matches, in order.
local function oracle(q)
  local parts = {}
  for k, v in pairs(q) do parts[#parts + 1] = k .. "=" .. v end
  local body = support.popen_read("curl -sS --max-time 10 " .. cli.q(support.http
    .. "/_control/search?" .. table.concat(parts, "&")))
  return cjson.decode(body).items
end

-- What the sandbox says of its documents and its big voyage.
local function info()
  local body = support.popen_read("curl -sS --max-time 10 " .. cli.q(support.http .. "/_control/info"))
  return cjson.decode(body).search
end

local function document(units)
  for _, d in ipairs(info().documents) do
    if d.units == units and not d.example then return d end
  end
  error("the sandbox has no bill of lading of " .. units .. " units")
end

-- The summary line the units should have, counted here on their own.
local function summary(items, total)
  local containers, at, order = 0, {}, {}
  for _, hu in ipairs(items) do
    if hu.freightFamily == "Container" then containers = containers + 1 end
    local loc = type(hu.huLocation) == "table" and hu.huLocation or {}
    local place = loc.place ~= cjson.null and loc.place ~= "" and loc.place or nil
    local location = loc.location ~= cjson.null and loc.location ~= "" and loc.location or nil
    local where = place and location and (place .. " / " .. location) or place or location
      or "unknown"
    if not at[where] then order[#order + 1] = where end
    at[where] = (at[where] or 0) + 1
  end
  table.sort(order, function(a, b)
    if at[a] ~= at[b] then return at[a] > at[b] end
    if a == "unknown" or b == "unknown" then return b == "unknown" and a ~= "unknown" end
    return a < b
  end)
  local places, rest, rest_units = {}, 0, 0
  for i, w in ipairs(order) do
    if i <= 5 then places[#places + 1] = w .. " " .. at[w]
    else rest, rest_units = rest + 1, rest_units + at[w] end
  end
  if rest > 0 then
    places[#places + 1] = rest_units .. " more in " .. rest .. " other place" .. (rest == 1 and "" or "s")
  end
  local n = #items
  local head = (total and total > n) and (n .. " of " .. total .. " units")
    or (n .. " unit" .. (n == 1 and "" or "s"))
  return head .. ": " .. containers .. " container" .. (containers == 1 and "" or "s") .. ", "
    .. (n - containers) .. " other freight; now at " .. table.concat(places, ", ")
end

local function refs_of(lines)
  local t = {}
  for i, l in ipairs(lines) do t[i] = l:match("^(.-)%s%s+%u%u%u%d+%s") or l end
  return t
end

local function refs(items)
  local t = {}
  for i, hu in ipairs(items) do t[i] = hu.reference end
  return t
end

-- The search URL with a fault spec in front of its path.
local function search_fault(spec)
  local origin, path = SEARCH_BASE:match("^(https?://[^/]+)(/.*)$")
  return origin .. "/_fault/" .. spec .. path
end

describe("soget search", function()
  it("lists every unit of a bill of lading over its pages, then the summary", function()
    local d = document(25)
    local want = oracle { documentReference = d.documentReference }
    assert.are.equal(25, #want)
    support.reset()
    local r = cli.run { "search", "--document", d.documentReference }
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.same(refs(want), refs_of(lines))
    -- find's columns: the same line as find prints for the unit
    local f = cli.run { "find", want[1].reference, "--limit", "1" }
    assert.are.equal(lines[1], cli.lines(f.out)[1])
    assert.are.equal("soget: " .. summary(want) .. "\n", r.err)
    -- pages of 10, lazily: three searches, no lookup
    local st = support.stats()
    assert.are.equal(3, st.search_requests)
  end)

  it("lists the bills of 1 and 3 units; HLCUEUR2002APIK9 is CGMU2436601's", function()
    local r = cli.run { "search", "--document", "HLCUEUR2002APIK9" }
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(1, #lines)
    assert.truthy(lines[1]:find("^CGMU2436601%s+CNI0000063978%s+Container%s+22G1%s+FRLEH / MTDF"),
      lines[1])
    assert.are.equal("soget: 1 unit: 1 container, 0 other freight; now at FRLEH / MTDF 1\n", r.err)
    for _, n in ipairs { 1, 3 } do
      local d = document(n)
      local want = oracle { documentReference = d.documentReference }
      local s = cli.run { "search", "--document", d.documentReference }
      assert.are.equal(0, s.code, s.err)
      assert.are.same(refs(want), refs_of(cli.lines(s.out)))
      assert.are.equal("soget: " .. summary(want) .. "\n", s.err)
    end
  end)

  it("pages through a voyage of more than 100 units, each once; --limit stops early", function()
    local v = info().voyage
    local want = oracle { voyageAgentReference = v.voyageAgentReference }
    assert.is_true(#want > 100)
    support.reset()
    local r = cli.run { "search", "--voyage-ref", v.voyageAgentReference }
    assert.are.equal(0, r.code, r.err)
    local got = refs_of(cli.lines(r.out))
    assert.are.same(refs(want), got)
    assert.are.equal(math.ceil(#want / 10), support.stats().search_requests)
    assert.are.equal("soget: " .. summary(want) .. "\n", r.err)
    -- by the agent's id: the voyage and more
    local byid = cli.run { "search", "--voyage-id", v.voyageAgentId }
    assert.are.equal(0, byid.code, byid.err)
    assert.are.equal(#oracle { voyageAgentId = v.voyageAgentId }, #cli.lines(byid.out))
    -- --limit 12 with pages of 5: three searches
    support.reset()
    local l = cli.run { "search", "--voyage-ref", v.voyageAgentReference, "--limit", "12",
      "--page-size", "5" }
    assert.are.equal(0, l.code, l.err)
    local first = {}
    for i = 1, 12 do first[i] = want[i] end
    assert.are.same(refs(first), refs_of(cli.lines(l.out)))
    assert.are.equal("soget: " .. summary(first, #want) .. "\n", l.err)
    assert.are.equal(3, support.stats().search_requests)
  end)

  it("combines filters, a customs flag in any case, and --desc reverses the order", function()
    local v = info().voyage
    local want = oracle { voyageAgentReference = v.voyageAgentReference, customsFlag = "Export" }
    assert.is_true(#want > 0)
    local r = cli.run { "search", "--voyage-ref", v.voyageAgentReference, "--customs", "export" }
    assert.are.equal(0, r.code, r.err)
    assert.are.same(refs(want), refs_of(cli.lines(r.out)))
    local agent = want[1].actors.freightAgent
    local want2 = oracle { voyageAgentReference = v.voyageAgentReference, customsFlag = "Export",
      freightAgent = agent }
    local r2 = cli.run { "search", "--voyage-ref", v.voyageAgentReference, "--customs", "Export",
      "--agent", agent }
    assert.are.equal(0, r2.code, r2.err)
    assert.are.same(refs(want2), refs_of(cli.lines(r2.out)))
    -- a document and its voyage together
    local d = document(3)
    local r3 = cli.run { "search", "--document", d.documentReference, "--voyage-ref",
      v.voyageAgentReference, "--desc" }
    assert.are.equal(0, r3.code, r3.err)
    local asc = refs(oracle { documentReference = d.documentReference })
    local desc = refs_of(cli.lines(r3.out))
    assert.are.same({ asc[3], asc[2], asc[1] }, desc)
  end)

  it("--json prints each unit as a line of JSON, the summary on stderr", function()
    local d = document(25)
    local want = oracle { documentReference = d.documentReference }
    local r = cli.run { "search", "--document", d.documentReference, "--json" }
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(#want, #lines)
    for i, l in ipairs(lines) do
      local hu = cjson.decode(l)
      assert.are.equal(want[i].reference, hu.reference)
      assert.are.equal("table", type(hu.shipments))
    end
    assert.are.equal("soget: " .. summary(want) .. "\n", r.err)
  end)

  it("exits 1 when nothing matches (R001)", function()
    local r = cli.run { "search", "--document", "NOSUCHDOCUMENT1" }
    assert.are.equal(1, r.code)
    assert.are.equal("", r.out)
    assert.are.equal("soget: no handling unit matches document NOSUCHDOCUMENT1\n", r.err)
    r = cli.run { "search", "--document", "HLCUEUR2002APIK9", "--customs", "Export" }
    assert.are.equal(1, r.code)
    assert.are.equal("soget: no handling unit matches document HLCUEUR2002APIK9, customs Export\n",
      r.err)
  end)

  it("refuses bad arguments with exit 2, sending nothing", function()
    support.reset()
    for _, c in ipairs {
      { { "search" }, "soget: give --document, --voyage-ref or --voyage-id\n" },
      { { "search", "--customs", "Import" }, "soget: give --document, --voyage-ref or --voyage-id\n" },
      { { "search", "--document", "  " }, "soget: empty --document\n" },
      { { "search", "--document", "X", "--customs", "Smuggled" },
        "soget: --customs must be one of Unknown, Import, Export, Transhipment, Transit\n" },
      { { "search", "--document", "A\27]0;x\7B" }, nil },
      -- bytes that are not UTF-8 (a raw C1 CSI, 0x9B, among them), as for a lookup
      { { "search", "--document", "AB\255" }, "soget: --document is not valid UTF-8\n" },
      { { "search", "--voyage-ref", "V\155[2J" }, "soget: --voyage-ref is not valid UTF-8\n" },
      { { "search", "--document", "X", "--agent", "A\192\175" },
        "soget: --agent is not valid UTF-8\n" },
      { { "search", "--document", "X", "--page-size", "11" }, nil },
      -- the module's refusals name the option, not the API's parameter
      { { "search", "--voyage-id", ("I"):rep(513) }, "soget: --voyage-id is longer than 512 bytes\n" },
      { { "search", "--document", "X", "--agent", "A\1B" }, "soget: --agent contains a control character\n" },
    } do
      local r = cli.run(c[1])
      assert.are.equal(2, r.code, r.err)
      assert.are.equal("", r.out)
      if c[2] then assert.are.equal(c[2], r.err) end
      assert.is_nil(r.err:find("\27", 1, true))
    end
    -- the same with no credentials set: still a usage error, not the
    -- missing key's configuration error (exit 3)
    local none = { SOGET_API_KEY = false, SOGET_CLIENT_ID = false, SOGET_CLIENT_SECRET = false,
                   SOGET_SEARCH_API_KEY = false }
    for _, c in ipairs {
      { { "search", "--document", "X", "--customs", "Smuggled" },
        "soget: --customs must be one of Unknown, Import, Export, Transhipment, Transit\n" },
      { { "search", "--document", "X", "--agent", "A\192\175" },
        "soget: --agent is not valid UTF-8\n" },
    } do
      local r = cli.run(c[1], { env = none })
      assert.are.equal(2, r.code, r.err)
      assert.are.equal(c[2], r.err)
    end
    local st = support.stats()
    assert.are.equal(0, st.search_requests)
    assert.are.equal(0, st.token_requests)
  end)

  it("exits 3, a configuration error, when the client has no search URL, sending nothing", function()
    -- a base URL the search's is not taken beside, and none given: search
    -- and bulk --documents alike (bulk: before its header; it ended in an
    -- internal error, exit 70)
    support.reset()
    local env = { SOGET_BASE_URL = "https://127.0.0.1:9/elsewhere/v1", SOGET_SEARCH_BASE_URL = false }
    for _, c in ipairs {
      { { "search", "--document", "HLCUEUR2002APIK9" } },
      { { "bulk", "--documents", "-" }, "HLCUEUR2002APIK9\n" },
    } do
      local r = cli.run(c[1], { env = env, stdin = c[2] })
      assert.are.equal(3, r.code, r.err)
      assert.are.equal("", r.out)
      assert.are.equal("soget: no search_base_url for this base_url (it is taken beside a base_url "
        .. "whose path ends in /api-tracing-code/v1, when it fits in 2048 bytes): give "
        .. "search_base_url, or set SOGET_SEARCH_BASE_URL\n", r.err)
    end
    assert.are.equal(0, support.stats().token_requests)
  end)

  it("exits with the code of a failure: 6 for a server error, 4 for a refused key", function()
    local r = cli.run({ "--retries", "0", "search", "--document", "HLCUEUR2002APIK9" },
      { env = { SOGET_SEARCH_BASE_URL = search_fault("500") } })
    assert.are.equal(6, r.code)
    assert.are.equal("", r.out)
    assert.truthy(r.err:find("HTTP 500", 1, true), r.err)
    r = cli.run({ "search", "--document", "HLCUEUR2002APIK9" },
      { env = { SOGET_SEARCH_API_KEY = "not-the-key" } })
    assert.are.equal(4, r.code, r.err)
  end)

  it("searches with a search key alone; a lookup says the API key is missing (exit 3)", function()
    local env = { SOGET_API_KEY = false, SOGET_SEARCH_API_KEY = SEARCH_KEY }
    support.reset()
    local r = cli.run({ "search", "--document", "HLCUEUR2002APIK9" }, { env = env })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("^CGMU2436601"))
    for _, argv in ipairs { { "track", "CGMU2436601" }, { "find", "CGMU" } } do
      local t = cli.run(argv, { env = env })
      assert.are.equal(3, t.code, t.err)
      assert.truthy(t.err:find("soget: no API key: give api_key (or set SOGET_API_KEY)", 1, true), t.err)
    end
    assert.are.equal(1, support.stats().api_requests)   -- the search's only
  end)

  it("takes the search's own key and base URL, never showing the key", function()
    assert.truthy(SEARCH_KEY, "the sandbox gives a search-only key")
    -- the API key is wrong for lookups; the search key is the search's own
    local r = cli.run({ "-v", "search", "--document", "HLCUEUR2002APIK9" },
      { env = { SOGET_API_KEY = "wrong-lookup-key", SOGET_SEARCH_API_KEY = SEARCH_KEY } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("^CGMU2436601"))
    assert.is_nil(r.err:find(SEARCH_KEY, 1, true))
    assert.truthy(r.err:find("search_api_key: (set, from SOGET_SEARCH_API_KEY)", 1, true), r.err)
    -- from a profile too (its settings come from soget.options)
    local home = cli.tmpdir()
    os.execute("mkdir -p " .. cli.q(home .. "/config/soget"))
    cli.write(home .. "/config/soget/profiles.ini", "[s]\nsearch_base_url = " .. SEARCH_BASE
      .. "\nsearch_api_key = " .. SEARCH_KEY .. "\n", "600")
    local p = cli.run({ "--profile", "s", "search", "--document", "HLCUEUR2002APIK9" },
      { home = home, env = { SOGET_SEARCH_BASE_URL = "https://127.0.0.1:1/nowhere",
        SOGET_API_KEY = "wrong-lookup-key" } })
    cli.rm(home)
    assert.are.equal(0, p.code, p.err)
    assert.truthy(p.out:find("^CGMU2436601"))
  end)

  it("shares one token with the lookups through the token cache", function()
    local home = cli.tmpdir()
    support.reset()
    local a = cli.run({ "track", "CGMU2436601" }, { home = home })
    local b = cli.run({ "search", "--document", "HLCUEUR2002APIK9" }, { home = home })
    cli.rm(home)
    assert.are.equal(0, a.code, a.err)
    assert.are.equal(0, b.code, b.err)
    assert.are.equal(1, support.stats().token_requests)
  end)
end)
