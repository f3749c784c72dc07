-- soget.events_in_order(unit): a unit's events oldest first, dates
-- compared as instants (ISO 8601 offsets applied), unreadable ones last,
-- ties as given; the same event tables, in a new list.
local soget = require "soget"

local function ev(date, kind) return { eventDate = date, eventType = kind } end

local function kinds(list)
  local t = {}
  for i, e in ipairs(list) do t[i] = e.eventType end
  return table.concat(t, " ")
end

describe("soget.events_in_order", function()
  it("orders instants, not text: offsets are applied", function()
    local u = { events = {
      ev("2020-05-20T03:27:41+02:00", "C"),    -- 01:27:41Z
      ev("2020-05-20T01:00:00Z", "B"),
      ev("2020-05-19T22:30:00-05:00", "D"),    -- 03:30Z on the 20th
      ev("2020-05-20T00:59:59.5+00:00", "A"),
    } }
    assert.equal("A B C D", kinds(soget.events_in_order(u)))
  end)

  it("orders instants a nanosecond apart, in any zone (a double tells no less than ~240 ns)", function()
    local hu = { events = {
      ev("2020-05-20T03:27:41.0000002Z", "C"),
      ev("2020-05-20T05:27:41.000000002+02:00", "B"),
      ev("2020-05-20T03:27:41.000000001Z", "A"),
      ev("2020-05-20T03:27:41.00000000299Z", "B2"),   -- digits past the ninth: the same ns
    } }
    assert.are.equal("A B B2 C", kinds(soget.events_in_order(hu)))
  end)

  it("keeps the API's order for the same instant, and puts unreadable dates last", function()
    local u = { events = {
      ev("not a date", "X1"),
      ev("2020-05-14T09:12:00+02:00", "A1"),
      ev(nil, "X2"),
      ev("2020-05-14T07:12:00Z", "A2"),
      ev("2020-02-30T00:00:00Z", "X3"),       -- no such day
      ev("2020-05-14", "E"),                  -- a date alone: midnight UTC
    } }
    assert.equal("E A1 A2 X1 X2 X3", kinds(soget.events_in_order(u)))
  end)

  it("gives a new list of the same tables, and leaves unit.events alone", function()
    local a, b = ev("2021-01-02T00:00:00Z", "B"), ev("2021-01-01T00:00:00Z", "A")
    local u = { events = { a, b } }
    local list = soget.events_in_order(u)
    assert.equal(b, list[1])
    assert.equal(a, list[2])
    assert.equal(a, u.events[1])
    assert.are_not.equal(u.events, list)
    assert.equal(soget.array_mt, getmetatable(list))
  end)

  it("gives an empty list for a unit without events, and skips what is no event", function()
    assert.are.same({}, soget.events_in_order({}))
    assert.are.same({}, soget.events_in_order({ events = "none" }))
    assert.equal("A", kinds(soget.events_in_order({ events = { 42, ev("2020-01-01", "A") } })))
    assert.has_error(function() soget.events_in_order(nil) end)
    assert.has_error(function() soget.events_in_order("CGMU2436601") end)
  end)

  it("takes every whole index of a list with holes, the same on every runtime", function()
    -- (the length of a list with holes is any of its borders, which
    -- differs by runtime: 6 of these 10 were dropped on all but LuaJIT)
    local events = {}
    for _, i in ipairs { 12, 24, 5, 2, 13, 22, 1, 3, 8, 6 } do
      events[i] = ev(("2020-01-%02dT00:00:00Z"):format(25 - i), "E" .. i)
    end
    events.note = ev("2019-01-01T00:00:00Z", "note")     -- no index: no event of the list
    events[2.5] = ev("2019-01-01T00:00:00Z", "half")
    assert.equal("E24 E22 E13 E12 E8 E6 E5 E3 E2 E1", kinds(soget.events_in_order({ events = events })))
    -- ties in index order, however the table stores them
    local same = {}
    for _, i in ipairs { 9, 3, 7, 1 } do same[i] = ev("2020-01-01T00:00:00Z", "E" .. i) end
    assert.equal("E1 E3 E7 E9", kinds(soget.events_in_order({ events = same })))
    -- indexes past 2^31 (read back through an int on Lua 5.1 and 5.2 and
    -- LuaJIT: 2^32 + 1 was index 1 there, 2^31 nothing)
    for _, k in ipairs { 2 ^ 31, 2 ^ 32 + 1, 2 ^ 40, 2 ^ 53 } do
      local far = { ev("2020-01-02T00:00:00Z", "near"), [k] = ev("2020-01-01T00:00:00Z", "far") }
      assert.equal("far near", kinds(soget.events_in_order({ events = far })), ("%.0f"):format(k))
    end
  end)

  it("orders a decoded unit's events as the sandbox sends them, oldest first", function()
    local body = [[{"total":1,"items":[{"reference":"X","events":[
      {"eventDate":"2020-05-21T08:30:12+02:00","eventType":"CUS"},
      {"eventDate":"2020-05-14T09:12:00+02:00","eventType":"MAN"},
      {"eventDate":"2020-05-20T03:27:41+02:00","eventType":"DIS"}]}]}]]
    local page = assert(soget.decode(body))
    assert.equal("MAN DIS CUS", kinds(soget.events_in_order(page.items[1])))
  end)

  it("gives the instant a date stands for, as it orders them", function()
    local function same(a, b)
      local s1, n1 = soget.instant(a)
      local s2, n2 = soget.instant(b)
      return s1 ~= nil and s1 == s2 and n1 == n2
    end
    assert.are.same({ 1589938061, 0 }, { soget.instant("2020-05-20T03:27:41+02:00") })
    assert.is_true(same("2020-05-20T03:27:41+02:00", "2020-05-20T01:27:41Z"))
    assert.is_true(same("2020-05-20T03:27:41.5+0200", "2020-05-20T01:27:41.500000000Z"))
    assert.are.same({ 1589932800, 0 }, { soget.instant("2020-05-20") })   -- midnight UTC
    -- a leap second: after 23:59:59, before the next day
    local s, ns = soget.instant("2016-12-31T23:59:60Z")
    assert.are.same({ 1483228799, 1000000000 }, { s, ns })
    for _, bad in ipairs { "soon", "", "2020-02-30T00:00:00Z", "2020-05-20T25:00:00Z", 20200520, {}, false } do
      assert.is_nil(soget.instant(bad), tostring(bad))
    end
    assert.has_error(function() soget.instant() end)
    assert.has_error(function() soget.instant("2020-05-20", "x") end)
  end)

  it("tells a page's total the server gave from the decoder's guess", function()
    assert.is_true(soget.total_given(assert(soget.decode('{"total":12,"items":[{}]}'))))
    assert.is_true(soget.total_given(assert(soget.decode('{"total":0,"items":[]}'))))
    local guessed = assert(soget.decode('{"first":10,"items":[{},{}]}'))
    assert.are.equal(12, guessed.total)   -- first + returned
    assert.is_false(soget.total_given(guessed))
    assert.is_false(soget.total_given(assert(soget.decode('{"total":null,"items":[{}]}'))))
    assert.is_true(soget.total_given({ total = 3 }))   -- a table of the script's: no guess of soget's
    assert.has_error(function() soget.total_given("page") end)
  end)
end)
