-- The in-mass search (GET /api-tracing-code-in-mass/v1/handling-units/search):
-- exact filters combined with AND, paging as handling-units, both keys, faults
-- and counters.
package.path = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/sandbox") .. "/?.lua;" .. package.path
local H = require("helper")
local E = H.env()

local BL25, BL3, BL1 = "3714238101", "CMDULEH2501003", "HLCUSIN2501001"
local VOYAGE_REF, VOYAGE_AGENT = "CMAG-LEH-2501", "VAG0000020061"

local function esc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- every unit of a search, from the control listing (no paging, no auth)
local function listing(query)
  local r = H.control("/_control/search?" .. query)
  assert.equal(200, r.status)
  return r.json.items
end

local function has_doc(u, ref)
  for _, s in ipairs(u.shipments) do
    if s.documentReference == ref then return s end
  end
end

local function sorted_asc(items)
  for i = 2, #items do
    local a, b = items[i - 1], items[i]
    if not (a.reference < b.reference or (a.reference == b.reference and a.pswId < b.pswId)) then
      return false
    end
  end
  return true
end

-- pages a search with limit n; checks the numbers of every page; returns the units
local function walk(query, n)
  local total = H.search(query .. "&limit=1").json.total
  local seen, out, offset = {}, {}, 0
  for _ = 1, 100 do
    if offset >= total then break end
    local r = H.search(query .. "&limit=" .. n .. "&offset=" .. offset)
    assert.equal(200, r.status)
    local j = r.json
    assert.equal(total, j.total)
    assert.equal(offset, j.first)
    assert.equal(math.min(n, total - offset), j.returned)
    assert.equal(j.returned, #j.items)
    for _, u in ipairs(j.items) do
      assert.is_nil(seen[u.pswId], "duplicate " .. u.pswId)
      seen[u.pswId] = true
      out[#out + 1] = u
    end
    offset = offset + j.returned
  end
  assert.equal(total, #out)
  return out, total
end

local function assert_error(r, status, st, code, word)
  assert.equal(status, r.status, r.body)
  assert.equal("application/json; charset=utf-8", r.headers["content-type"])
  assert.equal(st, r.json.status)
  assert.equal(code or H.null, r.json.code)
  assert.truthy(r.json.timestamp:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d+Z$"))
  if word then assert.truthy(r.json.message:find(word, 1, true), r.json.message) end
end

describe("sandbox in-mass search", function()
  local info

  setup(function()
    info = H.control("/_control/info").json
  end)

  it("lives on the same server as the tracing API, on both listeners", function()
    local https = E.SOGET_SANDBOX_HTTPS
    assert.equal(https .. "/api-tracing-code-in-mass/v1", E.SOGET_SEARCH_BASE_URL)
    local a = H.search("documentReference=" .. BL3)
    assert.equal(200, a.status)
    local b = H.search("documentReference=" .. BL3,
      { base = E.SOGET_SANDBOX_HTTP .. "/api-tracing-code-in-mass/v1" })
    assert.equal(a.body, b.body)
    local doc = H.curl(https .. "/openapi-in-mass.json")
    assert.equal(200, doc.status)
    assert.equal(H.slurp(H.root .. "/sandbox/openapi-in-mass.json"), doc.body)
  end)

  describe("data", function()
    it("has the documents and the voyage listed in /_control/info", function()
      local s = info.search
      local want = { [BL25] = 25, [BL3] = 3, [BL1] = 1, HLCUEUR2002APIK9 = 1 }
      local flags = { [BL25] = "Import", [BL3] = "Export", [BL1] = "Transhipment", HLCUEUR2002APIK9 = "Import" }
      assert.equal(4, #s.documents)
      for _, d in ipairs(s.documents) do
        assert.equal(want[d.documentReference], d.units, d.documentReference)
        assert.equal(flags[d.documentReference], d.customsFlag)
      end
      assert.equal(VOYAGE_REF, s.voyage.voyageAgentReference)
      assert.equal(VOYAGE_AGENT, s.voyage.voyageAgentId)
      assert.equal("FRLEH", s.voyage.schedulePlace)
      assert.truthy(s.voyage.units > 100)
      assert.truthy(s.voyage.agent_units > s.voyage.units)
      if info.units == 3000 and info.seed == 6346 then   -- the defaults: the README's numbers
        assert.equal(135, s.voyage.units)
        assert.equal(147, s.voyage.agent_units)
        assert.equal("VOS0000040427", s.voyage.voyageId)
      end
    end)

    it("the units of a bill of lading carry it, with their own customs flag, on the big voyage", function()
      for ref, n in pairs({ [BL25] = 25, [BL3] = 3, [BL1] = 1 }) do
        local items = listing("documentReference=" .. ref)
        assert.equal(n, #items)
        for _, u in ipairs(items) do
          local s = has_doc(u, ref)
          assert.truthy(s, u.reference)
          assert.equal(u.customsFlag, s.processingIndicator)
          assert.equal(VOYAGE_REF, u.transport.voyageAgentReference)
          assert.is_false(u.indicators.empty)
        end
      end
    end)

    it("CGMU2436601 keeps its shipment HLCUEUR2002APIK9, its only unit", function()
      local u = H.api("reference=CGMU2436601").json.items[1]
      assert.truthy(has_doc(u, "HLCUEUR2002APIK9"))
      assert.equal(1, #u.shipments)
      local r = H.search("documentReference=HLCUEUR2002APIK9")
      assert.equal(200, r.status)
      assert.equal(1, r.json.total)
      assert.same(u, r.json.items[1])
      assert.equal(1, H.search("voyageAgentReference=OWL-RDM-2305").json.total)
      assert.equal(1, H.search("voyageAgentId=VAG0000034525").json.total)
    end)

    it("the big voyage mixes customs flags, freight agents and freight families", function()
      local flags, agents, families = {}, {}, {}
      for _, u in ipairs(listing("voyageAgentReference=" .. VOYAGE_REF)) do
        flags[u.customsFlag] = true
        agents[tostring(u.actors.freightAgent)] = true
        families[u.freightFamily] = true
      end
      local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end
      assert.truthy(count(flags) >= 4)
      assert.truthy(count(agents) >= 5)
      assert.equal(2, count(families))
    end)
  end)

  describe("filters", function()
    it("documentReference: the units one of whose shipments carries it", function()
      local r = H.search("documentReference=" .. BL25 .. "&limit=10")
      assert.equal(200, r.status)
      assert.equal(25, r.json.total)
      for _, u in ipairs(r.json.items) do assert.truthy(has_doc(u, BL25)) end
    end)

    it("voyageAgentReference and voyageAgentId: the units whose transport carries them", function()
      local v = listing("voyageAgentReference=" .. VOYAGE_REF)
      local a = listing("voyageAgentId=" .. VOYAGE_AGENT)
      assert.equal(info.search.voyage.units, #v)
      assert.equal(info.search.voyage.agent_units, #a)
      for _, u in ipairs(v) do assert.equal(VOYAGE_REF, u.transport.voyageAgentReference) end
      for _, u in ipairs(a) do assert.equal(VOYAGE_AGENT, u.transport.voyageAgentId) end
      assert.equal(#v, H.search("voyageAgentReference=" .. VOYAGE_REF).json.total)
      assert.equal(#a, H.search("voyageAgentId=" .. VOYAGE_AGENT).json.total)
    end)

    it("customsFlag and freightAgent: the unit's own fields; filters combine with AND", function()
      local voyage = listing("voyageAgentReference=" .. VOYAGE_REF)
      for _, flag in ipairs({ "Import", "Export", "Transhipment", "Transit", "Unknown" }) do
        local n = 0
        for _, u in ipairs(voyage) do if u.customsFlag == flag then n = n + 1 end end
        local r = H.search("voyageAgentReference=" .. VOYAGE_REF .. "&customsFlag=" .. flag .. "&limit=10")
        if n == 0 then
          assert_error(r, 404, "NotFound", "R001")
        else
          assert.equal(n, r.json.total, flag)
          for _, u in ipairs(r.json.items) do assert.equal(flag, u.customsFlag) end
        end
      end
      local agent = voyage[1].actors.freightAgent
      local n, n2 = 0, 0
      for _, u in ipairs(voyage) do
        if u.actors.freightAgent == agent then
          n = n + 1
          if u.customsFlag == "Import" then n2 = n2 + 1 end
        end
      end
      local q = "voyageAgentReference=" .. VOYAGE_REF .. "&freightAgent=" .. agent
      assert.equal(n, H.search(q).json.total)
      local r = H.search(q .. "&customsFlag=Import&limit=10")
      if n2 == 0 then assert.equal(404, r.status) else
        assert.equal(n2, r.json.total)
        for _, u in ipairs(r.json.items) do
          assert.equal(agent, u.actors.freightAgent)
          assert.equal("Import", u.customsFlag)
        end
      end
      -- a bill of lading and its voyage, its flag, another flag
      assert.equal(25, H.search("documentReference=" .. BL25 .. "&voyageAgentReference=" .. VOYAGE_REF).json.total)
      assert.equal(25, H.search("documentReference=" .. BL25 .. "&voyageAgentId=" .. VOYAGE_AGENT).json.total)
      assert.equal(25, H.search("documentReference=" .. BL25 .. "&customsFlag=Import").json.total)
      assert_error(H.search("documentReference=" .. BL25 .. "&customsFlag=Export"), 404, "NotFound", "R001")
      assert_error(H.search("documentReference=" .. BL25 .. "&voyageAgentReference=OWL-RDM-2305"),
        404, "NotFound", "R001")
      -- freight agents within a bill of lading
      local bl = listing("documentReference=" .. BL25)
      local per = {}
      for _, u in ipairs(bl) do
        local a = u.actors.freightAgent
        if a ~= H.null then per[a] = (per[a] or 0) + 1 end
      end
      local kinds = 0
      for a, k in pairs(per) do
        kinds = kinds + 1
        assert.equal(k, H.search("documentReference=" .. BL25 .. "&freightAgent=" .. a).json.total, a)
      end
      assert.truthy(kinds >= 2)
    end)

    it("matches exactly: no prefix, no other case", function()
      assert_error(H.search("documentReference=" .. BL25:sub(1, 9)), 404, "NotFound", "R001")
      assert_error(H.search("documentReference=" .. BL3:lower()), 404, "NotFound", "R001")
      assert_error(H.search("voyageAgentReference=CMAG-LEH"), 404, "NotFound", "R001")
      assert_error(H.search("voyageAgentReference=" .. VOYAGE_REF:lower()), 404, "NotFound", "R001")
      assert_error(H.search("voyageAgentId=VAG00000200"), 404, "NotFound", "R001")
      assert_error(H.search("voyageAgentReference=" .. VOYAGE_REF .. "&freightAgent=cmag"), 404, "NotFound", "R001")
      assert_error(H.search("documentReference=" .. BL25 .. "+"), 404, "NotFound", "R001")
    end)

    it("takes customsFlag in any case, and the first of repeated parameters", function()
      assert.equal(25, H.search("documentReference=" .. BL25 .. "&customsFlag=iMPORT").json.total)
      -- the control listing (the specs' oracle) reads the flag as the search does
      assert.equal(25, #listing("documentReference=" .. BL25 .. "&customsFlag=iMPORT"))
      assert.equal(3, H.search("documentReference=" .. BL3 .. "&documentReference=" .. BL25).json.total)
    end)
  end)

  describe("paging", function()
    it("defaults to limit 5, offset 0, ascending", function()
      local r = H.search("documentReference=" .. BL25)
      assert.equal(200, r.status)
      assert.equal(25, r.json.total)
      assert.equal(5, r.json.returned)
      assert.equal(0, r.json.first)
      assert.equal(5, #r.json.items)
    end)

    it("pages through the 25 units of a bill of lading: no duplicates, no losses, sorted as handling-units", function()
      for _, n in ipairs({ 10, 7, 1 }) do
        local items = walk("documentReference=" .. BL25, n)
        assert.equal(25, #items)
        assert.truthy(sorted_asc(items))
        local all = listing("documentReference=" .. BL25)
        for i = 1, #all do assert.equal(all[i].pswId, items[i].pswId) end
      end
    end)

    it("pages through the voyage of more than 100 units", function()
      local items, total = walk("voyageAgentReference=" .. VOYAGE_REF, 10)
      assert.truthy(total > 100)
      assert.truthy(sorted_asc(items))
      local all = listing("voyageAgentReference=" .. VOYAGE_REF)
      assert.equal(#all, #items)
      for i = 1, #all do assert.equal(all[i].pswId, items[i].pswId) end
      local by_agent = walk("voyageAgentId=" .. VOYAGE_AGENT, 10)
      assert.equal(info.search.voyage.agent_units, #by_agent)
    end)

    it("desc=true reverses the order (any case); desc=false is the default", function()
      local asc = walk("documentReference=" .. BL25, 10)
      local desc = walk("documentReference=" .. BL25 .. "&desc=TRUE", 10)
      for i = 1, 25 do assert.equal(asc[26 - i].pswId, desc[i].pswId) end
      assert.equal(H.search("documentReference=" .. BL25 .. "&limit=4").body,
        H.search("documentReference=" .. BL25 .. "&limit=4&desc=false").body)
      local v = walk("voyageAgentReference=" .. VOYAGE_REF, 10)
      local vd = walk("voyageAgentReference=" .. VOYAGE_REF .. "&desc=true", 10)
      for i = 1, #v do assert.equal(v[#v + 1 - i].pswId, vd[i].pswId) end
    end)

    it("answers an empty page at or past the end", function()
      for _, off in ipairs({ 25, 40 }) do
        local r = H.search("documentReference=" .. BL25 .. "&offset=" .. off)
        assert.equal(200, r.status)
        assert.equal(25, r.json.total)
        assert.equal(off, r.json.first)
        assert.equal(0, r.json.returned)
        assert.same({}, r.json.items)
      end
    end)
  end)

  describe("bad parameters", function()
    it("R002 when none of documentReference, voyageAgentReference, voyageAgentId is given", function()
      assert_error(H.search(nil), 400, "BadRequest", "R002", "documentReference")
      assert_error(H.search("documentReference=&voyageAgentReference=&voyageAgentId="), 400, "BadRequest", "R002")
      assert_error(H.search("customsFlag=Import"), 400, "BadRequest", "R002")
      assert_error(H.search("freightAgent=CMAG&limit=10"), 400, "BadRequest", "R002")
      -- the tracing API's parameters are not identifiers here
      assert_error(H.search("reference=CGMU2436601"), 400, "BadRequest", "R002")
    end)

    it("R003 naming customsFlag for a value outside the enum", function()
      for _, v in ipairs({ "Imported", "0", "1", "Import,Export", "none" }) do
        assert_error(H.search("documentReference=" .. BL25 .. "&customsFlag=" .. esc(v)),
          400, "BadRequest", "R003", "customsFlag")
      end
    end)

    it("400 naming limit, offset or desc as handling-units does", function()
      local q = "documentReference=" .. BL25
      for _, v in ipairs({ "0", "11", "abc", "-1", "2.5" }) do
        assert_error(H.search(q .. "&limit=" .. v), 400, "BadRequest", nil, "limit")
      end
      for _, v in ipairs({ "-1", "x" }) do
        assert_error(H.search(q .. "&offset=" .. v), 400, "BadRequest", nil, "offset")
      end
      assert_error(H.search(q .. "&desc=yes"), 400, "BadRequest", nil, "desc")
      assert.equal(200, H.search(q .. "&limit=10").status)
    end)

    it("sets no length limit on the new parameters", function()
      local long = string.rep("A", 300)
      for _, k in ipairs({ "documentReference", "voyageAgentReference", "voyageAgentId" }) do
        assert_error(H.search(k .. "=" .. long), 404, "NotFound", "R001")
      end
      assert_error(H.search("documentReference=" .. BL25 .. "&freightAgent=" .. long), 404, "NotFound", "R001")
      assert_error(H.search("documentReference=" .. esc("3714 238101 é/?&")), 404, "NotFound", "R001")
    end)
  end)

  describe("authentication", function()
    local q = "documentReference=" .. BL3

    local function assert_401(r, bearer_problem)
      assert.equal(401, r.status)
      assert.equal("Unauthorized", r.json.status)
      assert.equal(H.null, r.json.code)
      if bearer_problem then
        assert.truthy((r.headers["www-authenticate"] or ""):match("^Bearer"))
      end
    end

    it("accepts the API key and the search-only key, with the same token", function()
      local tok = H.token()
      assert.are_not.equal(E.SOGET_API_KEY, E.SOGET_SANDBOX_SEARCH_KEY)
      assert.equal(200, H.search(q, { token = tok }).status)
      assert.equal(200, H.search(q, { token = tok, key = E.SOGET_SANDBOX_SEARCH_KEY }).status)
      assert.equal(200, H.api("reference=CGMU2436601", { token = tok }).status)
    end)

    it("the tracing API refuses the search-only key as a wrong key", function()
      local r = H.api("reference=CGMU2436601", { headers = {
        Authorization = "Bearer " .. H.cached_token(),
        ["Ocp-Apim-Subscription-Key"] = E.SOGET_SANDBOX_SEARCH_KEY } })
      assert_401(r)
      local wrong = H.api("reference=CGMU2436601", { headers = {
        Authorization = "Bearer " .. H.cached_token(), ["Ocp-Apim-Subscription-Key"] = "nope" } })
      assert.equal(r.json.message, wrong.json.message)
    end)

    it("refuses a missing or wrong key and a missing, bad or expired token", function()
      local tok = H.cached_token()
      assert_401(H.search(q, { headers = {} }))
      assert_401(H.search(q, { headers = { Authorization = "Bearer " .. tok } }))
      assert_401(H.search(q, { key = "nope" }))
      assert_401(H.search(q, { key = E.SOGET_SANDBOX_SEARCH_KEY .. "x" }))
      assert_401(H.search(q, { headers = { ["Ocp-Apim-Subscription-Key"] = E.SOGET_SANDBOX_SEARCH_KEY } }), true)
      local bad = H.search(q, { token = "bad-token", key = E.SOGET_SANDBOX_SEARCH_KEY })
      assert_401(bad, true)
      assert.truthy(bad.headers["www-authenticate"]:match('error="invalid_token"'))
      local short = H.token({ url = H.fault_token_url("token-ttl:s=1") })
      assert.equal(200, H.search(q, { token = short }).status)
      H.sleep(2.2)
      assert_401(H.search(q, { token = short, key = E.SOGET_SANDBOX_SEARCH_KEY }), true)
    end)

    it("checks credentials before the parameters", function()
      assert_401(H.search(nil, { key = "nope" }))
      assert_401(H.search("customsFlag=bogus", { token = "bad" }), true)
    end)
  end)

  describe("faults", function()
    local q = "documentReference=" .. BL25

    it("apply on the search path by prefix and by header", function()
      local id = H.uid()
      local base = H.fault_search_base("503-then-ok:n=2:id=" .. id)
      assert.equal(503, H.search(q, { base = base }).status)
      assert.equal(503, H.search(q, { base = base }).status)
      assert.equal(200, H.search(q, { base = base }).status)
      local r = H.search(q, { args = { "-H", "X-Sandbox-Fault: 429:retry-after=3" } })
      assert.equal(429, r.status)
      assert.equal("3", r.headers["retry-after"])
      assert.equal("TooManyRequests", r.json.status)
      local plain = H.search(q, { base = H.fault_search_base("500", E.SOGET_SANDBOX_HTTP) })
      assert.equal(500, plain.status)
      assert.equal(400, H.search(q, { base = H.fault_search_base("no-such-fault") }).status)
    end)

    it("still check credentials before a status fault", function()
      local r = H.search(q, { base = H.fault_search_base("500"), key = "nope" })
      assert.equal(401, r.status)
    end)

    it("page and body faults change the search's pages", function()
      local shift = H.search(q .. "&limit=10&offset=10", { base = H.fault_search_base("shift:n=3") })
      assert.equal(28, shift.json.total)
      local asc = listing(q)
      assert.equal(asc[8].pswId, shift.json.items[1].pswId)
      local rep = H.search(q .. "&limit=10&offset=10", { base = H.fault_search_base("repeat-unit") })
      assert.equal(asc[1].pswId, rep.json.items[1].pswId)
      assert.equal(10, rep.json.returned)
      local first = H.search(q, { base = H.fault_search_base("inconsistent:mode=first") })
      assert.equal(1, first.json.first)
      local wt = H.search(q, { base = H.fault_search_base("wrong-types:field=total") })
      assert.equal("25", wt.json.total)
      local m = H.search(q, { base = H.fault_search_base("malformed") })
      assert.equal(200, m.status)
      assert.is_nil(H.json(m.body))
      local n = H.search("documentReference=nothing", { base = H.fault_search_base("nulls") })
      assert.equal(404, n.status)
      assert.equal(H.null, n.json.code)
      local reset = H.search(q, { base = H.fault_search_base("reset") })
      assert.truthy(reset.exit == 52 or reset.exit == 92, tostring(reset.exit))
    end)

    it("expire-token counts requests on the search path too", function()
      local tok = H.token()
      local base = H.fault_search_base("expire-token:after=1:id=" .. H.uid())
      assert.equal(200, H.search(q, { base = base, token = tok }).status)
      assert.equal(401, H.search(q, { base = base, token = tok }).status)
      assert.equal(401, H.api("reference=CGMU2436601", { token = tok }).status)
    end)

    it("redirect keeps the search path", function()
      local to = E.SOGET_SANDBOX_HTTPS .. "/x"
      local r = H.search(q, { base = H.fault_search_base("redirect:to=" .. esc(to) .. ":keep=path") })
      assert.equal(307, r.status)
      assert.equal(to .. "/api-tracing-code-in-mass/v1/handling-units/search?" .. q, r.headers["location"])
    end)
  end)

  describe("counters and request log", function()
    before_each(function()
      H.cached_token()
      assert.equal(200, H.control("/_control/reset", "POST").status)
    end)

    it("count search requests in api_requests and search_requests", function()
      local s = H.control("/_control/stats").json
      assert.equal(0, s.search_requests)
      H.search("documentReference=" .. BL25)
      H.search("documentReference=" .. BL3, { key = E.SOGET_SANDBOX_SEARCH_KEY })
      H.search(nil)                                        -- 400
      H.search("documentReference=x", { key = "nope" })    -- 401
      H.search("documentReference=" .. BL25, { base = H.fault_search_base("500") })
      H.search("documentReference=" .. BL25, { base = H.fault_search_base("bogus") })
      H.api("reference=CGMU2436601")
      s = H.control("/_control/stats").json
      assert.equal(6, s.search_requests)
      assert.equal(7, s.api_requests)
      assert.equal(0, s.token_requests)
      assert.equal(2, s.faults)
      assert.equal(3, s.statuses["200"])
      assert.equal(2, s.statuses["400"])
      assert.equal(1, s.statuses["401"])
      assert.equal(1, s.statuses["500"])
      assert.equal(7, s.logged)
    end)

    it("log search requests with their path, decoded arguments, headers and fault", function()
      H.search("documentReference=" .. BL25 .. "&customsFlag=Import&limit=3", { key = E.SOGET_SANDBOX_SEARCH_KEY })
      H.search("voyageAgentReference=" .. VOYAGE_REF, { base = H.fault_search_base("delay:ms=1") })
      local log = H.control("/_control/requests?n=2").json
      assert.equal(2, #log)
      table.sort(log, function(a, b) return a.seq < b.seq end)
      local a, b = log[1], log[2]
      assert.equal("api", a.kind)
      assert.equal("GET", a.method)
      assert.equal("/api-tracing-code-in-mass/v1/handling-units/search", a.path)
      assert.equal(BL25, a.args.documentReference)
      assert.equal("Import", a.args.customsFlag)
      assert.equal(E.SOGET_SANDBOX_SEARCH_KEY, a.headers["ocp-apim-subscription-key"])
      assert.equal(200, a.status)
      assert.equal("/_fault/delay:ms=1/api-tracing-code-in-mass/v1/handling-units/search", b.path)
      assert.equal("delay:ms=1", b.fault)
      assert.equal(VOYAGE_REF, b.args.voyageAgentReference)
    end)
  end)
end)
