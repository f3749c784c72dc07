-- Exact lookups against the sandbox: exact = true answers only the units
-- whose reference (and S)ONE id) equals the query, in any case, as the
-- sandbox matches; the listing is read in ascending order, and the walk
-- stops as soon as a page proves no later unit can match (the sandbox's
-- request log shows what was sent). Every driver: the blocking client,
-- handling_units_many, soget.Call (driven here by the curl command line).
local soget = require "soget"
local S = require "support"
local cjson = require "cjson"

-- The sandbox's fixtures: a container seen on 12 passages, and lots whose
-- references begin one another's.
local info = cjson.decode(S.popen_read("curl -sS --max-time 10 " .. S.shell_quote(S.http
  .. "/_control/info")))
local PASSAGES = info.fixtures.passages   -- {reference = "SOGU1000004", units = 12}
local LOTS = info.fixtures.lots           -- {reference = "SOGET LOT 7", units = 11}

-- The API requests in the log since the last reset, oldest first: their
-- raw query strings.
local function sent()
  local out = {}
  local list = S.requests(50)
  table.sort(list, function(a, b) return a.seq < b.seq end)
  for _, r in ipairs(list) do
    if r.kind == "api" then out[#out + 1] = r.raw_query end
  end
  return out
end

local function ids(page)
  local t = {}
  for i, hu in ipairs(page.items) do t[i] = hu.pswId end
  return t
end

-- What the sandbox holds for a prefix, in its order (its control endpoint).
local function listing(prefix)
  return cjson.decode(S.popen_read("curl -sS --max-time 10 " .. S.shell_quote(S.http
    .. "/_control/units?reference=" .. prefix:gsub(" ", "%%20"))))
end

describe("exact lookups", function()
  local c
  before_each(function()
    c = S.client()
    assert(c:token())   -- the token first: the log then holds API requests only
    S.reset()
  end)
  after_each(function() c:close() end)

  it("answer the one unit of a reference, not the others it begins", function()
    local prefix = assert(c:handling_units { reference = LOTS.reference, limit = 5 })
    assert.equal(LOTS.units, prefix.total)            -- the API's prefix filter
    S.reset()
    local page = assert(c:handling_units { reference = LOTS.reference, exact = true, limit = 5 })
    assert.equal(1, page.total)
    assert.equal(1, page.returned)
    assert.equal(0, page.first)
    assert.equal(LOTS.reference, page.items[1].reference)
    -- one request: its page ends with a reference past the one asked for
    assert.are.same({ "reference=SOGET%20LOT%207&limit=5" }, sent())
  end)

  it("read every passage of a container across pages, and stop at the listing's end", function()
    local page = assert(c:handling_units { reference = PASSAGES.reference, exact = true })
    assert.equal(PASSAGES.units, page.total)
    assert.equal(PASSAGES.units, page.returned)
    assert.equal(PASSAGES.units, #page.items)
    local want = {}
    for i, hu in ipairs(listing(PASSAGES.reference).items) do want[i] = hu.pswId end
    assert.are.same(want, ids(page))
    -- full pages by default, in the server's (ascending) order
    assert.are.same({ "reference=SOGU1000004&limit=10",
                      "reference=SOGU1000004&limit=10&offset=10" }, sent())
  end)

  it("read on to the listing's first empty page when its pages give no total", function()
    -- the decoder's guess for a missing total (first + returned) ended the
    -- walk after its first page, which it called complete: 5 of 12
    local want = {}
    for i, hu in ipairs(listing(PASSAGES.reference).items) do want[i] = hu.pswId end
    local nt = S.client{ base_url = S.fault_base("no-total") }
    local page = assert(nt:handling_units { reference = PASSAGES.reference, exact = true, limit = 5 })
    assert.are.same(want, ids(page))
    assert.equal(PASSAGES.units, page.total)
    local r = nt:handling_units_many({ { reference = PASSAGES.reference, exact = true, limit = 5 } })
    assert.are.same(want, ids(assert(r[1].items and r[1], tostring(r[1]))))
    nt:close()
  end)

  it("find every match of a listing in another order than the references' (the S)ONE ids')", function()
    -- the document names no sort key. Listed by id, the lots whose
    -- references "SOGET LOT 7" begins come first (70 to 79), in the order
    -- of references too, and "SOGET LOT 7" itself last: a walk that took
    -- the first page's order for proof answered nothing, complete
    local want = listing(LOTS.reference).items[1]
    assert.equal(LOTS.reference, want.reference)
    local by_id = S.client { base_url = S.fault_base("order") }
    finally(function() by_id:close() end)
    local raw = assert(by_id:handling_units { reference = LOTS.reference, limit = 5 })
    assert.equal(LOTS.reference .. "0", raw.items[1].reference)
    S.reset()
    local page = assert(by_id:handling_units { reference = LOTS.reference, exact = true, limit = 5 })
    assert.are.same({ want.pswId }, ids(page))
    assert.equal(1, page.total)
    assert.are.same({ "reference=SOGET%20LOT%207&limit=5", "reference=SOGET%20LOT%207&limit=5&offset=5",
                      "reference=SOGET%20LOT%207&limit=5&offset=10" }, sent())
    -- a batch and soget.Call walk alike
    local r = by_id:handling_units_many({ { reference = LOTS.reference, exact = true, limit = 5 } })
    assert.are.same({ want.pswId }, ids(assert(r[1].items and r[1], tostring(r[1]))))
    local call = by_id:begin { reference = LOTS.reference, exact = true, limit = 5 }
    local done, err
    for _ = 1, 10 do
      local status, _, body = S.curl_send(assert(call:request()))
      done, err = call:response(status, body)
      if done or err then break end
    end
    assert.is_nil(err)
    assert.are.same({ want.pswId }, ids(done))
  end)

  it("match in any case, as the API does", function()
    local page = assert(c:handling_units { reference = PASSAGES.reference:lower(), exact = true })
    assert.equal(PASSAGES.units, page.total)
    for _, hu in ipairs(page.items) do assert.equal(PASSAGES.reference, hu.reference) end
    local lot = assert(c:handling_units { reference = "soget lot 7", exact = true })
    assert.equal(1, lot.total)
  end)

  it("answer desc in descending order, though the walk reads ascending", function()
    local up = assert(c:handling_units { reference = PASSAGES.reference, exact = true })
    local down = assert(c:handling_units { reference = PASSAGES.reference, exact = true,
                                           desc = true })
    local rev = {}
    for i, id in ipairs(ids(up)) do rev[#up.items - i + 1] = id end
    assert.are.same(rev, ids(down))
    for _, q in ipairs(sent()) do assert.is_nil(q:find("desc")) end
  end)

  it("answer nothing for a prefix that is no reference, in one request once the order shows", function()
    local page = assert(c:handling_units { reference = "SOGET LOT", exact = true, limit = 3 })
    assert.equal(0, page.total)
    assert.are.same({}, page.items)
    assert.equal(1, #sent())
    -- the passages of one container, listed in the order of their ids as
    -- in that of their reference: a server listing by id would list them
    -- so too, and hold more further on; the walk reads to the listing's end
    local prefix = assert(c:handling_units { reference = "SOGU100000" })
    assert.equal(PASSAGES.units, prefix.total)
    S.reset()
    page = assert(c:handling_units { reference = "SOGU100000", exact = true, limit = 3 })
    assert.equal(0, page.total)
    assert.are.same({}, page.items)
    assert.equal(math.ceil(PASSAGES.units / 3), #sent())
    -- and for nothing at all (R001)
    local none = assert(c:handling_units { reference = "QQQQ", exact = true })
    assert.equal(0, none.total)
  end)

  it("stop at an S)ONE id, unique, with or without the reference", function()
    local page = assert(c:handling_units { spi = "CNI0000900003", exact = true })
    assert.are.same({ "CNI0000900003" }, ids(page))
    local both = assert(c:handling_units { reference = PASSAGES.reference,
                                           spi = "CNI0000900011", exact = true, limit = 2 })
    assert.are.same({ "CNI0000900011" }, ids(both))
    -- a prefix of an id is no id
    local part = assert(c:handling_units { spi = "CNI000090000", exact = true })
    assert.equal(0, part.total)
  end)

  it("give a complete page: page:iter() yields it and fetches nothing", function()
    local page = assert(c:handling_units { reference = PASSAGES.reference, exact = true,
                                           limit = 5 })
    S.reset()
    local n = 0
    local it = page:iter()
    for hu in it do
      n = n + 1
      assert.equal(PASSAGES.reference, hu.reference)
    end
    assert.equal(PASSAGES.units, n)
    assert.equal("total reached", it:stats().why)
    assert.equal(0, #sent())
  end)

  it("keep the whole walk under one timeout", function()
    -- every page 0.4 s late: three pages of five would need 1.2 s
    local slow = S.client { base_url = S.fault_base("delay:ms=400"), timeout = 1 }
    local page, err = slow:handling_units { reference = PASSAGES.reference, exact = true,
                                            limit = 5 }
    assert.is_nil(page)
    assert.equal("timeout", err.kind)
    slow:close()
  end)

  it("are checked before anything is sent", function()
    assert.has_error(function()
      c:handling_units { reference = "X", exact = true, offset = 10 }
    end, "handling_units: 'offset' does not apply to an exact lookup (it answers every match at once)")
    assert.has_error(function() c:handling_units { reference = "X", exact = "yes" } end)
    assert.has_error(function()
      c:handling_units_search { documentReference = "3714238101", exact = true }
    end, "handling_units_search: unknown query key 'exact'")
    assert.has_error(function() c:begin({ reference = "X", exact = true }, 5) end,
      "begin: an exact lookup takes no offset (it reads the listing from its start)")
    local ok, why = soget.check_query { reference = "X", exact = true, offset = 1 }
    assert.is_nil(ok)
    assert.truthy(why:find("offset", 1, true))
    assert.is_true(soget.check_query { reference = "X", exact = false, offset = 1 })
    assert.equal(0, #sent())
  end)

  -- A listing that moved while it was read may be read whole by a later
  -- lookup (retryable); a page that contradicts itself is answered again.
  it("fail as api when the pages do not add up, retryable only when the listing moved", function()
    for _, case in ipairs {
      { "shift:n=1", true, "the listing's total changed while it was read" },
      -- a total that grows while no unit comes: its last page, empty below
      -- its own total, contradicts itself
      { "inconsistent:mode=total-grows:id=" .. S.uid("exact"), false,
        "an empty page below the total announced" },
      { "inconsistent:mode=stuck", true, "brings no unit not met before: it moved or repeats itself" },
      { "inconsistent:mode=first", false, "first is not the offset asked for" },
      { "inconsistent:mode=returned", false, "returned is not the number of items" },
      { "inconsistent:mode=short", false, "an empty page below the total announced" },
      -- each page the listing's first unit in place of one of its own, the
      -- totals consistent (pages of 4 for the 12 passages): passages missed
      { "repeat-unit", true, "fewer different units than the total: pages sent units again "
        .. "in place of others", 4 },
    } do
      local f = S.client { base_url = S.fault_base(case[1]) }
      local q = { reference = PASSAGES.reference, exact = true, limit = case[4] or 5 }
      local page, err = f:handling_units(q)
      assert.is_nil(page, case[1])
      assert.equal("api", err.kind, case[1])
      assert.equal(case[2], err.retryable, case[1] .. ": " .. err.message)
      assert.truthy(err.message:find(case[3], 1, true), case[1] .. ": " .. err.message)
      -- the same in a batch
      local r = f:handling_units_many({ q })
      assert.equal("api", r[1].kind, case[1])
      assert.equal(case[2], r[1].retryable, case[1] .. ": " .. r[1].message)
      f:close()
    end
  end)

  describe("in handling_units_many", function()
    it("per query, or for every lookup that does not say (options.exact)", function()
      local r = c:handling_units_many({
        PASSAGES.reference,
        { reference = LOTS.reference, limit = 5 },
        { reference = LOTS.reference, exact = false, limit = 5 },
        { search = { documentReference = "3714238101" } },
        "SOGU100000",
      }, { exact = true, concurrency = 3 })
      assert.equal(PASSAGES.units, r[1].total)
      assert.equal(PASSAGES.units, #r[1].items)
      assert.equal(1, r[2].total)
      assert.equal(LOTS.units, r[3].total)     -- exact = false: the prefix listing
      assert.equal(5, #r[3].items)
      assert.equal(25, r[4].total)             -- a search is not a lookup
      assert.equal(0, r[5].total)
      local r2 = c:handling_units_many({ { reference = LOTS.reference, exact = true } })
      assert.equal(1, r2[1].total)
    end)

    it("refuses an offset with options.exact", function()
      assert.has_error(function()
        c:handling_units_many({ "A", { reference = "B", offset = 5 } }, { exact = true })
      end, "handling_units_many: query 2: 'offset' does not apply to an exact lookup (it "
        .. "answers every match at once)")
      assert.has_error(function() c:handling_units_many({ "A" }, { exact = 1 }) end)
    end)
  end)

  describe("through soget.Call", function()
    -- The curl command line as the driver: status and body.
    local function send(req)
      local status, _, body = S.curl_send(req)
      return status, body
    end

    it("asks for each page in turn and answers the matches", function()
      local call = c:begin { reference = PASSAGES.reference, exact = true, limit = 5 }
      local urls, answers = {}, {}
      local page, err
      for _ = 1, 10 do
        local req = assert(call:request())
        urls[#urls + 1] = req.url:match("%?(.*)$")
        local p, e, wait = call:response(send(req))
        answers[#answers + 1] = p and "page" or e and "error" or (wait == 0 and "again" or "wait")
        if p or e then page, err = p, e; break end
      end
      assert.is_nil(err)
      assert.are.same({ "reference=SOGU1000004&limit=5", "reference=SOGU1000004&limit=5&offset=5",
                        "reference=SOGU1000004&limit=5&offset=10" }, urls)
      assert.are.same({ "again", "again", "page" }, answers)
      assert.equal(PASSAGES.units, page.total)
      assert.has_error(function() call:request() end)   -- over
    end)
  end)
end)
