-- Exact lookups step by step through soget.Call, with no I/O: a listing
-- is scripted page by page (honest, out of order, lying), and each case
-- checks the URL of every page the walk asks for, then its answer: the
-- matches as one page, or an `api` error when the pages cannot be trusted
-- to be complete. The walk's decisions are the core's (spec/core/
-- cursor_spec.c tests them in C); this checks that every step reaches
-- them, and what a driver sees.
local soget = require "soget"
local unpack = table.unpack or unpack

local BASE = "https://api.example.test/v1"
local REF = "ABCU1234560"

local function client(extra)
  local o = { base_url = BASE, token_url = "https://auth.example.test/token",
              api_key = "key-0123456789abcdef", access_token = "tok-static-1234", retries = 0 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return soget.client(o)
end

-- A unit as JSON.
local function unit(ref, id)
  local r = ref and string.format('"reference":"%s",', ref) or ""
  return string.format('{%s"pswId":"%s","events":[]}', r, id)
end

-- A page body: {total, first, units}, returned the number of units unless given.
local function page(total, first, units, returned)
  return string.format('{"total":%d,"returned":%d,"first":%d,"items":[%s]}', total,
    returned or #units, first, table.concat(units, ","))
end

local NOT_FOUND = '{"status":"NotFound","code":"R001","message":"No handling unit was found"}'

-- The listing's pages as the script answers them: {status, body} each.
local function ok(body) return { 200, body } end

-- Drives the call: answers each request with the next scripted answer.
-- Returns the page or the error, and the query strings asked for.
local function walk(c, query, answers)
  local call = c:begin(query)
  local asked = {}
  for i = 1, #answers + 1 do
    local req, err = call:request()
    if not req then return nil, err, asked end
    asked[#asked + 1] = req.url:match("%?(.*)$")
    local a = answers[i]
    assert(a, "the walk asked for more pages than the script has: " .. req.url)
    local p, e, wait = call:response(a[1], a[2])
    if p then return p, nil, asked end
    if e then return nil, e, asked end
    assert.equal(0, wait)
  end
  error("the call did not end")
end

local function ids(p)
  local t = {}
  for i, hu in ipairs(p.items) do t[i] = hu.pswId end
  return table.concat(t, " ")
end

describe("exact lookups through soget.Call", function()
  it("read a page, see a reference past the one asked for: one request", function()
    local c = client()
    local p, err, asked = walk(c, { reference = REF, exact = true, limit = 3 }, {
      ok(page(40, 0, { unit(REF, "3"), unit(REF .. "1", "1"), unit(REF .. "2", "2") })) })
    assert.is_nil(err)
    assert.equal("3", ids(p))
    assert.equal(1, p.total)
    assert.are.same({ "reference=ABCU1234560&limit=3" }, asked)
  end)

  it("read on while the units come in the order of their S)ONE ids too", function()
    -- a server listing by id looks sorted by reference where references
    -- were numbered as they came; the match comes last
    local c = client()
    local p, err, asked = walk(c, { reference = REF, exact = true, limit = 2 }, {
      ok(page(5, 0, { unit(REF .. "1", "1"), unit(REF .. "2", "2") })),
      ok(page(5, 2, { unit(REF .. "3", "3"), unit(REF .. "4", "4") })),
      ok(page(5, 4, { unit(REF, "5") })) })
    assert.is_nil(err)
    assert.equal("5", ids(p))
    assert.are.same({ "reference=ABCU1234560&limit=2", "reference=ABCU1234560&limit=2&offset=2",
                      "reference=ABCU1234560&limit=2&offset=4" }, asked)
  end)

  it("read on while the units come newest first (their S)ONE ids descending)", function()
    -- the reverse: a server listing its newest passages first looks
    -- sorted by reference where references were numbered backwards; a
    -- match on the second page
    local c = client()
    local p, err, asked = walk(c, { reference = REF, exact = true, limit = 2 }, {
      ok(page(3, 0, { unit(REF, "3"), unit(REF .. "1", "2") })),
      ok(page(3, 2, { unit(REF, "1") })) })
    assert.is_nil(err)
    assert.equal("3 1", ids(p))
    assert.equal(2, p.total)
    assert.are.same({ "reference=ABCU1234560&limit=2", "reference=ABCU1234560&limit=2&offset=2" },
                    asked)
  end)

  it("ask for the next pages at first + returned, ascending, full pages by default", function()
    local c = client()
    local units = {}
    for i = 1, 12 do units[i] = unit(REF, tostring(i)) end
    local p, err, asked = walk(c, { reference = REF, exact = true, desc = true }, {
      ok(page(13, 0, { unpack(units, 1, 10) })),
      ok(page(13, 10, { units[11], units[12], unit(REF .. "X", "13") })) })
    assert.is_nil(err)
    assert.equal("12 11 10 9 8 7 6 5 4 3 2 1", ids(p))   -- desc: the matches reversed
    assert.are.same({ "reference=ABCU1234560&limit=10",
                      "reference=ABCU1234560&limit=10&offset=10" }, asked)
  end)

  it("read on to the end when the listing is not in order", function()
    local c = client()
    local p, err, asked = walk(c, { reference = REF, exact = true, limit = 2 }, {
      ok(page(6, 0, { unit(REF, "1"), unit("AAAA", "2") })),        -- out of order
      ok(page(6, 2, { unit(REF .. "9", "3"), unit(REF, "4") })),
      ok(page(6, 4, { unit(REF .. "7", "5"), unit(REF, "6") })) })
    assert.is_nil(err)
    assert.equal("1 4 6", ids(p))
    assert.equal(3, #asked)
  end)

  it("end at a first page of nothing found (R001): no unit", function()
    local c = client()
    local p, err = walk(c, { reference = REF, exact = true, limit = 2 }, { { 404, NOT_FOUND } })
    assert.is_nil(err)
    assert.equal("", ids(p))
    assert.equal(0, p.total)
  end)

  -- A listing that contradicts its own totals may have hidden units: no
  -- complete answer can be read from its end (a proof needs no total).
  -- Retryable when two pages disagree (the listing moved while it was
  -- read: a later lookup may find it still), not when one page contradicts
  -- itself (the server would answer it again).
  local contradictions = {
    { "nothing found (R001) after pages that announced more", {
      ok(page(10, 0, { unit(REF, "1"), unit(REF, "2") })), { 404, NOT_FOUND } },
      "an empty page below the total announced, page at offset 2", true },
    { "an empty page whose own total says the listing shrank", {
      ok(page(12, 0, { unit(REF, "1"), unit(REF, "2") })), ok(page(2, 2, {}, 0)) },
      "an empty page below the total announced, page at offset 2", true },
    { "an empty page below its own total, the first", {
      ok(page(12, 0, {}, 0)) }, "an empty page below the total announced, page at offset 0", false },
    { "an empty page below its own total, after others", {
      ok(page(12, 0, { unit(REF, "1"), unit(REF, "2") })), ok(page(12, 2, {}, 0)) },
      "an empty page below the total announced, page at offset 2", false },
    { "a page holding more units than its total", {
      ok(page(1, 0, { unit(REF, "1"), unit(REF, "2") })) },
      "a page holds more units than its total, page at offset 0", false },
    -- units 1 2 3 4, unit 1 gone before the second page: 3 moved to the
    -- first page, already read, and would be missed
    { "a total that fell while the listing was read", {
      ok(page(4, 0, { unit(REF, "1"), unit(REF, "2") })), ok(page(3, 2, { unit(REF, "4") })) },
      "the listing's total changed while it was read, page at offset 2", true },
    -- units 0 1 2 3 and one past the query, unit 0 gone before the second
    -- page: the unit past the query proves no later unit matches, but 2
    -- moved to the first page, already read, and would be missed
    { "a total that fell while the listing was read, a unit past the query met", {
      ok(page(5, 0, { unit(REF, "0"), unit(REF, "1") })),
      ok(page(4, 2, { unit(REF, "3"), unit(REF .. "0", "9") })) },
      "the listing's total changed while it was read, page at offset 2", true },
    { "a total that grew while the listing was read", {
      ok(page(4, 0, { unit(REF, "1"), unit(REF, "2") })),
      ok(page(5, 2, { unit(REF, "2"), unit(REF, "3") })) },
      "the listing's total changed while it was read, page at offset 2", true },
    -- the total changed, then a page contradicts itself: the page says why
    { "a total that changed, then a page holding more units than its total", {
      ok(page(6, 0, { unit(REF, "1"), unit(REF, "2") })),
      ok(page(3, 2, { unit(REF, "3"), unit(REF, "4") })) },
      "a page holds more units than its total, page at offset 2", false },
  }
  for _, case in ipairs(contradictions) do
    it("fail as api on " .. case[1] .. (case[4] and ", retryable" or ", not retryable"), function()
      local c = client()
      local p, err = walk(c, { reference = REF, exact = true, limit = 2 }, case[2])
      assert.is_nil(p)
      assert.equal("api", err.kind)
      assert.equal("exact lookup: the listing's pages do not add up (" .. case[3] .. ")", err.message)
      assert.equal(case[4], err.retryable)
    end)
  end

  it("answer a proof whatever the totals say: the S)ONE id met", function()
    local c = client()
    local p, err = walk(c, { spi = "CNI1", exact = true, limit = 2 }, {
      ok(page(1, 0, { unit(REF, "CNI0"), unit(REF, "CNI1") })) })
    assert.is_nil(err)
    assert.equal("CNI1", ids(p))
  end)

  it("count each unit with an empty S)ONE id, which names no unit", function()
    local c = client()
    local p, err = walk(c, { reference = REF, exact = true, limit = 3 }, {
      ok(page(3, 0, { unit(REF, ""), unit(REF, ""), unit(REF .. "0", "") })) })
    assert.is_nil(err)
    assert.equal(2, p.total)
  end)

  it("fail as api, retryable, when a unit met again leaves fewer units than the total", function()
    -- the listing moved by one (a unit before the walk's place: not read),
    -- or a unit sent again in place of another: either way one may be missed
    local c = client()
    local p, err = walk(c, { reference = REF, exact = true, limit = 2 }, {
      ok(page(5, 0, { unit(REF, "1"), unit(REF, "2") })),
      ok(page(5, 2, { unit(REF, "2"), unit(REF, "3") })),
      ok(page(5, 4, { unit(REF .. "0", "4") })) })
    assert.is_nil(p)
    assert.equal("api", err.kind)
    assert.is_true(err.retryable)
    assert.equal("exact lookup: the listing's pages do not add up (fewer different units than "
      .. "the total: pages sent units again in place of others, page at offset 4)", err.message)
  end)

  it("fail so even when the page that reaches the total proves the end by the order", function()
    local c = client()
    local p, err = walk(c, { reference = REF, exact = true, limit = 2 }, {
      ok(page(4, 0, { unit(REF, "1"), unit(REF, "2") })),
      ok(page(4, 2, { unit(REF, "2"), unit(REF .. "0", "0") })) })
    assert.is_nil(p)
    assert.equal("api", err.kind)
    assert.is_true(err.retryable)
    assert.truthy(err.message:find("fewer different units than the total", 1, true), err.message)
    -- one page that repeats a unit of its own contradicts itself: not retryable
    c = client()
    p, err = walk(c, { reference = REF, exact = true, limit = 3 }, {
      ok(page(3, 0, { unit(REF, "1"), unit(REF, "2"), unit(REF, "1") })) })
    assert.is_nil(p)
    assert.equal("api", err.kind)
    assert.is_false(err.retryable)
  end)

  it("count a unit met again once when the order proves the end before the total", function()
    local c = client()
    local p, err = walk(c, { reference = REF, exact = true, limit = 2 }, {
      ok(page(6, 0, { unit(REF, "1"), unit(REF, "3") })),
      ok(page(6, 2, { unit(REF, "3"), unit(REF .. "0", "2") })) })
    assert.is_nil(err)
    assert.equal("1 3", ids(p))
  end)

  it("fail as api, not retryable, when a page does not add up", function()
    local c = client()
    local p, err, asked = walk(c, { reference = REF, exact = true, limit = 2 }, {
      ok(page(10, 0, { unit(REF, "1"), unit(REF, "2") })),
      ok(page(10, 0, { unit(REF, "3"), unit(REF, "4") })) })      -- first: 0 again
    assert.is_nil(p)
    assert.equal("api", err.kind)
    assert.is_false(err.retryable)
    assert.equal("exact lookup: the listing's pages do not add up (inconsistent page: first is "
      .. "not the offset asked for, page at offset 2)", err.message)
    assert.equal(2, #asked)
  end)

  it("fail as api, retryable, when a page brings nothing new", function()
    local c = client()
    local p, err = walk(c, { reference = REF, exact = true, limit = 2 }, {
      ok(page(10, 0, { unit(REF, "1"), unit(REF, "2") })),
      ok(page(10, 2, { unit(REF, "1"), unit(REF, "2") })) })
    assert.is_nil(p)
    assert.equal("api", err.kind)
    assert.is_true(err.retryable)
    assert.truthy(err.message:find("brings no unit not met before", 1, true))
  end)

  it("read at most 50 pages", function()
    local c = client()
    local answers = {}
    for i = 0, 50 do answers[#answers + 1] = ok(page(1000, i, { unit(REF, "u" .. i) })) end
    local p, err, asked = walk(c, { reference = REF, exact = true, limit = 1 }, answers)
    assert.is_nil(p)
    assert.equal("api", err.kind)
    assert.equal("exact lookup: 50 pages of the listing read without its end or a proof "
      .. "that no more units match", err.message)
    assert.equal(50, #asked)
  end)

  it("answer a listing whose end, or a proof, comes on the 50th page", function()
    for _, case in ipairs({ { "its end", 50, false }, { "a proof", 1000, true } }) do
      local c = client()
      local answers = {}
      for i = 0, 49 do
        local ref = (case[3] and i == 49) and (REF .. "Z") or REF
        answers[#answers + 1] = ok(page(case[2], i, { unit(ref, "u" .. i) }))
      end
      local p, err, asked = walk(c, { reference = REF, exact = true, limit = 1 }, answers)
      assert.is_nil(err, case[1] .. ": " .. tostring(err))
      assert.equal(50, #asked)
      assert.equal(case[3] and 49 or 50, p.total, case[1])
      assert.equal(case[3] and "u48" or "u49", p.items[#p.items].pswId)
    end
  end)

  it("keep the first request's deadline for every page", function()
    local c = client { timeout = 0.3 }
    local call = c:begin { reference = REF, exact = true, limit = 1 }
    assert(call:request())
    local p, e, wait = call:response(200, page(5, 0, { unit(REF, "1") }))
    assert.is_nil(p); assert.is_nil(e); assert.equal(0, wait)
    os.execute("sleep 0.4")
    local req, err = call:request()
    assert.is_nil(req)
    assert.equal("timeout", err.kind)
  end)

  it("hand a decode error of any page over as it is", function()
    local c = client()
    local p, err = walk(c, { reference = REF, exact = true, limit = 1 }, {
      ok(page(5, 0, { unit(REF, "1") })), ok('{"total":"five"}') })
    assert.is_nil(p)
    assert.equal("decode", err.kind)
    assert.equal("total: expected integer, got string", err.message)
  end)
end)

describe("exact lookups in handling_units_many's checks", function()
  it("are made before anything is sent", function()
    local c = client()
    assert.has_error(function()
      c:handling_units_many({ { reference = REF, exact = true, offset = 2 } })
    end, "handling_units_many: query 1: 'offset' does not apply to an exact lookup (it "
      .. "answers every match at once)")
  end)
end)
