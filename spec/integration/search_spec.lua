-- client:handling_units_search against the sandbox's in-mass search, over
-- real loopback connections: each answer checked against the sandbox's own
-- list of matches (its control endpoint), paging, filters combined, R001,
-- one token for both APIs, the search's own key, bulk and soget.Call.
local S = require "spec.support"

local BL25, BL3, BL1 = "3714238101", "CMDULEH2501003", "HLCUSIN2501001"
local VOYAGE = "CMAG-LEH-2501"

local function refs(list)
  local out = {}
  for i, hu in ipairs(list) do out[i] = hu.reference .. "/" .. tostring(hu.pswId) end
  return out
end

-- Every unit of a search through page:iter, with the pages it took.
local function walk(c, q)
  local page = assert(c:handling_units_search(q))
  local got = {}
  for hu in page:iter() do got[#got + 1] = hu end
  return got, page
end

describe("handling_units_search", function()
  local c
  before_each(function()
    S.reset()
    c = S.client()
  end)
  after_each(function() c:close() end)

  it("finds a bill of lading's units, as the sandbox matches them", function()
    for _, bl in ipairs{ BL1, BL3, BL25 } do
      local want = S.search{ documentReference = bl }
      local got = walk(c, { documentReference = bl, limit = 10 })
      assert.are.same(refs(want.items), refs(got), bl)
    end
  end)

  it("is the string shortcut for a document reference", function()
    local page = assert(c:handling_units_search(BL3))
    assert.are.equal(3, page.total)
    assert.are.equal(3, #page.items)
  end)

  it("pages a voyage of more than 100 units lazily, with nothing lost or repeated", function()
    local want = S.search{ voyageAgentReference = VOYAGE }
    assert.is_true(want.total > 100)
    S.reset()
    local got = walk(c, { voyageAgentReference = VOYAGE, limit = 10 })
    assert.are.same(refs(want.items), refs(got))
    local st = S.stats()
    assert.are.equal(math.ceil(want.total / 10), st.search_requests)
    assert.are.equal(1, st.token_requests)
  end)

  it("sends the filters combined, by the API's names, and the sandbox applies them all", function()
    local q = { voyageAgentReference = VOYAGE, customsFlag = "Import", freightAgent = "ONEF",
                limit = 10, desc = true }
    local want = S.search{ voyageAgentReference = VOYAGE, customsFlag = "Import",
                           freightAgent = "ONEF" }
    assert.is_true(want.total > 10)
    S.reset()
    local page = assert(c:handling_units_search(q))
    assert.are.equal(want.total, page.total)
    local log = S.requests(1)[1]
    assert.are.equal("/api-tracing-code-in-mass/v1/handling-units/search", log.path)
    assert.are.equal("voyageAgentReference=" .. VOYAGE .. "&customsFlag=Import&freightAgent=ONEF"
      .. "&desc=true&limit=10", log.raw_query)
    for _, hu in ipairs(page.items) do
      assert.are.equal("Import", hu.customsFlag)
    end
  end)

  it("answers nothing found (R001) with an empty page", function()
    local page = assert(c:handling_units_search{ documentReference = "NO-SUCH-BL", offset = 5 })
    assert.are.same({ 0, 0, 5, 0 }, { page.total, page.returned, page.first, #page.items })
    local n = 0
    for _ in page:iter() do n = n + 1 end
    assert.are.equal(0, n)
  end)

  it("raises on a bad query with nothing sent", function()
    S.reset()
    assert.has_error(function() c:handling_units_search{ reference = "CGMU" } end)
    assert.has_error(function() c:handling_units_search{ documentReference = BL3, customsFlag = "X" } end)
    assert.has_error(function() c:handling_units_search{ freightAgent = "CMAG" } end)
    local st = S.stats()
    assert.are.equal(0, st.api_requests)
    assert.are.equal(0, st.token_requests)
  end)

  it("uses one token for lookups and searches", function()
    assert(c:handling_units("CGMU2436601"))
    assert(c:handling_units_search(BL1))
    assert(c:handling_units("CGMU2436601"))
    assert.are.equal(1, c:stats().token_requests)
    assert.are.equal(1, S.stats().token_requests)
  end)

  it("sends search_api_key to the search only", function()
    local sc = S.client{ search_api_key = S.search_key }
    assert(sc:handling_units_search(BL1))
    assert(sc:handling_units("CGMU2436601"))
    sc:close()
    -- the search-only key is refused by the tracing API: a client that sends
    -- it everywhere can search, and not look up
    local only = S.client{ api_key = S.search_key }
    assert(only:handling_units_search(BL1))
    local page, err = only:handling_units("CGMU2436601")
    assert.is_nil(page)
    assert.are.equal("auth", err.kind)
    assert.is_nil(tostring(err):find(S.search_key, 1, true))
    only:close()
  end)

  it("searches with a search key alone; its lookups raise, sending nothing", function()
    -- a partner-hub key scoped to the in-mass API: no api_key anywhere
    local o = S.options{ search_api_key = S.search_key }
    o.api_key = nil
    local chunk = "package.path = " .. ("%q"):format(package.path) .. "; package.cpath = "
      .. ("%q"):format(package.cpath) .. "\n" .. ([[
      local soget = require "soget"
      local o = %s
      local c = soget.client(o)
      local p, e = c:handling_units_search(%q)
      print("search", p and p.total or tostring(e))
      for _, f in ipairs { function() return c:handling_units("CGMU2436601") end,
          function() return c:handling_units_many({ { search = %q }, "CGMU2436601" }) end,
          function() return c:begin("CGMU2436601") end } do
        print("lookup", select(2, pcall(f)))
      end
      local r = c:handling_units_many({ { search = %q } })
      print("many", r[1].total)
      print("requests", c:stats().api_requests)
    ]]):format((function()
      local parts = {}
      for k, v in pairs(o) do parts[#parts + 1] = ("[%q] = %q"):format(k, v) end
      return "{" .. table.concat(parts, ", ") .. "}"
    end)(), BL1, BL1, BL3)
    local out = S.popen_read("env -u SOGET_API_KEY " .. S.shell_quote(S.lua) .. " -e "
      .. S.shell_quote(chunk) .. " 2>&1")
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("search\t1", lines[1], out)
    for i = 2, 4 do
      assert.truthy(lines[i]:find("no API key for lookups (the client has a search_api_key "
        .. "only): give api_key, or set SOGET_API_KEY", 1, true), out)
    end
    assert.truthy(lines[3]:find("handling_units_many: query 2: no API key", 1, true), out)
    assert.are.equal("many\t3", lines[5], out)
    assert.are.equal("requests\t2", lines[6], out)   -- the two searches, nothing else
    -- with neither key, still no client
    out = S.popen_read("env -u SOGET_API_KEY -u SOGET_SEARCH_API_KEY " .. S.shell_quote(S.lua)
      .. " -e " .. S.shell_quote("package.cpath = " .. ("%q"):format(package.cpath)
      .. "; print(select(2, pcall(require('soget').client, { client_id = 'a', client_secret = 'b' })))"))
    assert.truthy(out:find("no API key: give api_key (or set SOGET_API_KEY)", 1, true), out)
  end)

  it("runs searches beside lookups in handling_units_many", function()
    local results, counts = c:handling_units_many({
      { search = BL3 }, "CGMU2436601", { search = { documentReference = "NO-SUCH-BL" } },
      { search = { voyageAgentReference = VOYAGE, limit = 10 } },
    }, { concurrency = 3 })
    assert.are.same({ ok = 4, failed = 0 }, counts)
    assert.are.equal(3, results[1].total)
    assert.are.equal("CGMU2436601", results[2].items[1].reference)
    assert.are.equal(0, results[3].total)
    -- a batch's search page pages on with its own filters
    local want = S.search{ voyageAgentReference = VOYAGE }
    local got = {}
    for hu in results[4]:iter() do got[#got + 1] = hu end
    assert.are.same(refs(want.items), refs(got))
  end)

  it("is a soget.Call with begin{search = query}", function()
    local call = c:begin({ search = { documentReference = BL25, limit = 10 } }, 20)
    local page
    for _ = 1, 10 do
      local req = assert(call:request())
      assert.truthy(req.kind == "token" or req.url:find("/handling-units/search?", 1, true))
      -- the driver here is curl, the command line, with the request's headers
      local hdr = {}
      for k, v in pairs(req.headers) do hdr[#hdr + 1] = "-H " .. S.shell_quote(k .. ": " .. v) end
      local body = req.body and (" --data-binary " .. S.shell_quote(req.body)) or ""
      local out = S.popen_read("curl -sS --cacert " .. S.shell_quote(S.ca_file) .. " -X "
        .. req.method .. " " .. table.concat(hdr, " ") .. body .. " -w '\\n%{http_code}' "
        .. S.shell_quote(req.url))
      local text, status = out:match("^(.*)\n(%d+)$")
      local p, err, wait = call:response(tonumber(status), text)
      assert.is_nil(err)
      if p then page = p break end
      assert.are.equal(0, wait)
    end
    call:close()
    assert.are.equal(25, page.total)
    assert.are.equal(20, page.first)
    assert.are.equal(5, #page.items)
  end)

  -- The search's own path through the faults the lookups meet (their
  -- specs are transport_spec and paging_spec): the same core decides.
  describe("meets the server's faults as a lookup does", function()
    -- a client whose searches go through the sandbox's fault prefix
    local function faulty(spec, extra)
      local origin, path = S.search_base_url:match("^(https?://[^/]+)(/.*)$")
      local o = { search_base_url = origin .. "/_fault/" .. spec .. path }
      for k, v in pairs(extra or {}) do o[k] = v end
      c:close()
      c = S.client(o)
      return c
    end

    it("retries a 503 and answers the page", function()
      faulty("503-then-ok:n=1:id=" .. S.uid())
      local page = assert(c:handling_units_search { documentReference = BL3 })
      assert.are.equal(3, page.total)
      assert.are.equal(1, c:stats().retries)
      assert.are.equal(2, S.stats().search_requests)
    end)

    it("renews a token refused midway and goes on", function()
      faulty("expire-token:after=1:id=" .. S.uid())
      local got = walk(c, { documentReference = BL25, limit = 10 })
      assert.are.equal(25, #got)
      -- each token serves one request under this fault: the first, then
      -- one renewed after the 401 of each of the two next pages
      assert.are.equal(3, S.stats().token_requests)
      assert.are.equal(5, S.stats().search_requests)
    end)

    it("names a malformed body and a field of the wrong type with its path", function()
      faulty("malformed")
      local page, err = c:handling_units_search(BL3)
      assert.is_nil(page)
      assert.are.equal("decode", err.kind)
      faulty("wrong-types:field=items[2].reference")
      page, err = c:handling_units_search(BL3)
      assert.is_nil(page)
      assert.are.equal("decode", err.kind)
      assert.truthy(err.message:find("items[2].reference", 1, true), err.message)
    end)

    it("does not retry a 500, and says http 500", function()
      faulty("500", { retries = 1 })
      local page, err = c:handling_units_search(BL3)
      assert.is_nil(page)
      assert.are.equal("http", err.kind)
      assert.are.equal(500, err.status)
      assert.are.equal(1, S.stats().search_requests)
    end)

    it("stops a walk whose total grows on every page, with what it has", function()
      faulty("inconsistent:mode=total-grows:id=" .. S.uid())
      local page = assert(c:handling_units_search { documentReference = BL25, limit = 10 })
      local it = page:iter()
      local n = 0
      for _ in it do n = n + 1 end
      assert.are.equal(25, n)
      -- an empty page below the total it last announced: said so, not
      -- "empty page" (a script can tell the walk may have missed units)
      assert.are.equal("an empty page below the total announced", it:stats().why)
    end)

    it("keeps members it does not know, on the page and in its units", function()
      faulty("extra-fields")
      local page = assert(c:handling_units_search(BL3))
      assert.is_table(page.sandboxExtra)
      assert.is_table(page.items[1].sandboxExtra)
    end)
  end)

  it("sends a value of any script, percent-encoded, and the sandbox reads it back", function()
    -- (the last holds U+2067, a bidi isolate, as its UTF-8 bytes)
    for _, v in ipairs { "Bé/ç&=?#+ %", "日本", "BL\226\129\167x" } do
      local page, err = c:handling_units_search { documentReference = v }
      assert.are.equal(0, page and page.total, tostring(err))   -- R001: an empty page
      local seen = S.requests(1)[1]
      assert.are.equal(v, seen.args.documentReference)
    end
  end)
end)
