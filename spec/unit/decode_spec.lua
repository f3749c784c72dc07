-- soget.decode: one response body to native tables, with no I/O.
local soget = require "soget"

local function fixture(name)
  local f = assert(io.open("spec/fixtures/" .. name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local has_integers = math.type ~= nil

describe("soget.decode", function()
  local page = assert(soget.decode(fixture("page.json")))
  local hu, bb = page.items[1], page.items[2]

  it("raises a stack overflow, never blames the body, when the caller's Lua stack is full", function()
    -- a script deep in its own recursion: the page (4 levels) cannot be
    -- built there; before, on 5.2 to 5.4, it was "nested too deep"
    local body = '{"total":1,"items":[{"reference":"CGMU2436601","events":[{"eventDate":"2020-05-14"}]}]}'
    local function at(n, target, ...)
      if n < target then return (at(n + 1, target, ...)) end
      local ok, p, err = pcall(soget.decode, body)
      if not ok then return "raised: " .. tostring(p) end
      return p and "ok" or ("nil, err: " .. tostring(err))
    end
    local function try(target) return pcall(at, 1, target, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) end
    local lo, hi = 1, 400000   -- the deepest recursion that returns, by halves
    while lo + 1 < hi do
      local mid = math.floor((lo + hi) / 2)
      if try(mid) then lo = mid else hi = mid end
    end
    local outcomes = {}
    for target = math.max(1, lo - 60), lo do   -- where the decode meets the stack's end
      local ok, r = try(target)
      if ok then outcomes[r:gsub("^raised: .-stack overflow.*", "stack overflow")] = true end
    end
    outcomes.ok = nil
    outcomes["stack overflow"] = nil
    assert.are.same({}, outcomes)
  end)

  it("keeps the API's field names and values", function()
    assert.are.equal(3, page.total)
    assert.are.equal(2, page.returned)
    assert.are.equal(0, page.first)
    assert.are.equal("CGMU2436601", hu.reference)
    assert.are.equal("FRLEH", hu.huLocation.place)
    assert.are.equal("2020-05-19T22:00:00+00:00", hu.transport.voyageDates.eta)
    assert.are.equal("In", hu.events[1].eventWay)
    assert.are.equal("9360142", hu.transport.meansId[1].name)
    assert.is_true(hu.indicators.hazardous)
    assert.is_false(hu.indicators.empty)
  end)

  it("turns JSON null into nil, never a sentinel", function()
    assert.is_nil(hu.packagingCode)
    assert.is_nil(hu.measures.quantity)
    assert.is_nil(hu.measures.weight.netWeight)
    assert.is_nil(hu.transport.voyageDates.etd)
    assert.is_nil(hu.events[2].eventLocation)
    assert.is_nil(hu.hazardousItems[1].limitedQuantity)
    for k, v in pairs(hu.actors) do
      assert.are_not.equal("userdata", type(v), k)
    end
  end)

  it("makes array fields tables, empty when null or absent", function()
    assert.are.same({}, hu.references)          -- null
    assert.are.same({}, bb.events)              -- absent
    assert.are.same({}, bb.shipments)
    assert.are.same({}, bb.hazardousItems)
    assert.are.same({}, bb.references)
    assert.is_nil(bb.transport)                 -- objects stay absent
    local p = assert(soget.decode('{"total":0,"returned":0,"first":0,"items":null}'))
    assert.are.same({}, p.items)
    local q = assert(soget.decode('{"items":[{"transport":{"meansId":null}}]}'))
    assert.are.same({}, q.items[1].transport.meansId)
  end)

  it("gives integers for integer fields and floats for numbers", function()
    if not has_integers then
      assert.are.equal(705, hu.shipments[1].documentType)
      return
    end
    assert.are.equal("integer", math.type(page.total))
    assert.are.equal("integer", math.type(hu.shipments[1].documentType))
    assert.are.equal("integer", math.type(hu.events[2].eventTransportMode))
    assert.are.equal("integer", math.type(bb.measures.remainingQuantity))
    assert.are.equal("float", math.type(hu.temperatures.setPoint))
    assert.are.equal("float", math.type(hu.measures.weight.tare.value))
    assert.are.equal(13030.5, hu.measures.weight.grossWeight.value)
  end)

  it("decodes string escapes, surrogate pairs included", function()
    local p = assert(soget.decode('{"items":[{"reference":"a\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00"}]}'))
    assert.are.equal('a"\\/\n\195\169\240\159\152\128', p.items[1].reference)
  end)

  it("decodes escaped strings longer than the parser's own buffers", function()
    -- the parser's string buffer then outgrows its first allocation
    for _, n in ipairs { 1000, 5000, 40000 } do
      local raw = string.rep('ab\\n\\"\\u00e9', n)
      local p = assert(soget.decode('{"items":[{"reference":"' .. raw .. '","pswId":"' ..
        raw .. '"}]}'))
      local want = string.rep('ab\n"\195\169', n)
      assert.are.equal(want, p.items[1].reference)
      assert.are.equal(want, p.items[1].pswId)
    end
  end)

  it("keeps unknown fields, without their nulls", function()
    local p = assert(soget.decode(
      '{"total":1,"returned":1,"first":0,"newTop":"x","items":[{"reference":"A",' ..
      '"futureField":{"a":null,"b":[1,2],"c":"d"},"gone":null}]}'))
    assert.are.equal("x", p.newTop)
    local f = p.items[1].futureField
    assert.are.equal("d", f.c)
    assert.are.same({1, 2}, f.b)
    assert.is_nil(f.a)
    assert.is_nil(p.items[1].gone)
  end)

  it("fills total, returned and first when the server leaves them out", function()
    local p = assert(soget.decode('{"items":[{"reference":"A"},{"reference":"B"}]}'))
    assert.are.equal(2, p.returned)
    assert.are.equal(0, p.first)
    assert.are.equal(2, p.total)
  end)

  it("is a plain table: pairs shows only the API's fields", function()
    local keys = {}
    for k in pairs(page) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.are.same({"first", "items", "returned", "total"}, keys)
    assert.are.equal("function", type(page.iter))
  end)

  -- name, body, expected message (plain substring)
  local bad = {
    {"a string where an integer is due", '{"total":"3","items":[]}', "total: expected integer, got string"},
    {"a fraction where an integer is due", '{"total":3.5,"items":[]}', "total: expected integer, got number"},
    {"an integer out of int32 range", '{"total":3000000000,"items":[]}',
      "total: 3000000000 is past the int32 range the document gives it"},
    {"a number where a string is due, deep", '{"items":[{},{"events":[{"eventDate":"x"},{"eventDate":5}]}]}',
      "items[2].events[2].eventDate: expected string, got number"},
    {"an object where an array is due", '{"items":{"a":1}}', "items: expected array, got object"},
    {"an array where an object is due", '{"items":[{"transport":[1]}]}', "items[1].transport: expected object, got array"},
    {"a string where a boolean is due", '{"items":[{"indicators":{"reefer":"yes"}}]}',
      "items[1].indicators.reefer: expected boolean, got string"},
    {"a boolean where a number is due", '{"items":[{"temperatures":{"setPoint":true}}]}',
      "items[1].temperatures.setPoint: expected number, got boolean"},
    {"a null array element", '{"items":[null]}', "items[1]: expected object, got null"},
    {"a top-level array", '[1,2]', "response: expected object, got array"},
    {"an empty top-level array", '[]', "response: expected object, got array"},
    {"an empty object", '{}', "response body is not a page: none of total, returned, first, items"},
    {"a top-level string", '"hello"', "response: expected object, got string"},
    {"malformed JSON", '{"total":', "not valid JSON"},
    {"an empty body", '', "not valid JSON"},
    {"NaN", '{"total":NaN}', "not valid JSON"},
    {"an unterminated string after the body", '{"items":[]} "', "not valid JSON"},
    {"a lone UTF-16 surrogate escape", '{"items":[{"reference":"\\ud800"}]}', "not valid JSON"},
    {"a vertical tab between tokens", '{"items":[]\v}', "not valid JSON"},
    {"a NUL byte after the body", '{"items":[]}\0{"x":', "not valid JSON: a NUL byte at character 13"},
    {"a NUL byte after a body with an unknown field", '{"items":[],"x":1} \0 junk', "not valid JSON"},
    {"a NUL byte inside a string", '{"items":[{"reference":"a\0b"}]}', "not valid JSON"},
  }
  for _, case in ipairs(bad) do
    it("fails with kind 'decode' on " .. case[1], function()
      local p, err = soget.decode(case[2])
      assert.is_nil(p)
      assert.are.equal("decode", err.kind)
      assert.is_false(err.retryable)
      assert.truthy(err.message:find(case[3], 1, true), err.message)
      assert.truthy(tostring(err):find("^soget: decode: "), tostring(err))
    end)
  end

  it("refuses JSON nested too deep with a clear error, not a crash", function()
    local deep = string.rep("[", 1000) .. string.rep("]", 1000)
    local p, err = soget.decode('{"items":[],"x":' .. deep .. '}')
    assert.is_nil(p)
    assert.are.equal("decode", err.kind)
    assert.truthy(err.message:find("nested", 1, true), err.message)
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() soget.decode(nil) end)
    assert.has_error(function() soget.decode({}) end)
  end)

  it("iterates the items of a decoded page without I/O", function()
    local refs = {}
    for u in page:iter() do refs[#refs + 1] = u.reference end
    assert.are.same({"CGMU2436601", "BB-0001"}, refs)
  end)
end)

-- -0.0 and 0 compare equal: tell them apart by sign.
local function negative_zero(x) return x == 0 and 1 / x < 0 end

describe("soget.decode, pages and what is not one", function()
  local decode = soget.decode

  it("takes an object with any of total, returned, first, items for a page", function()
    for _, body in ipairs{ '{"items":[]}', '{"items":null}', '{"total":0}', '{"returned":0}',
      '{"first":0}', '{"total":null}', '{"total":2,"unknown":1}' } do
      local p, err = decode(body)
      assert.is_table(p, body .. ": " .. tostring(err))
      assert.are.same({}, p.items)
    end
  end)

  it("refuses a JSON object that is not a page", function()
    for _, body in ipairs{ '{}', '{ }', '{"statusCode":500,"message":"Internal server error"}',
      '{"statusCode":500,"message":"m","unknown":{"total":1,"items":[]}}',
      '{"Total":3,"Items":[]}', '{"total\\u0000":3,"items\\u0000x":[]}' } do
      -- each parser says so: simdjson read it whole, it is not its fault
      for _, parser in ipairs { "auto", "simdjson", "yajl" } do
        local p, err = decode(body, { parser = parser })
        assert.is_nil(p, body)
        assert.are.equal("decode", err.kind, body)
        assert.is_false(err.retryable)
        assert.are.equal("response body is not a page: none of total, returned, first, items",
          err.message, parser .. ": " .. body)
      end
    end
  end)

  it("refuses a token answer for a page, without its token in the message", function()
    local tok = "eyJhbGciOiJSUzI1NiJ9.c29nZXQtc3BlYw.c2lnbmF0dXJl"
    local p, err = decode('{"access_token":"' .. tok .. '","token_type":"Bearer","expires_in":300}')
    assert.is_nil(p)
    assert.are.equal("decode", err.kind)
    assert.truthy(err.message:find("not a page", 1, true), err.message)
    assert.is_nil(tostring(err):find(tok, 1, true))
    assert.is_nil(tostring(err):find("eyJ", 1, true))
  end)

  it("compares keys by length and bytes: a key with a NUL byte is not a schema field", function()
    local p = assert(decode('{"items":[{"reference":"A","events\\u0000junk":[{"eventType":"x"}],' ..
      '"pswId\\u0000":"B","transport\\u0000":5,"shipments\\u0000":"no"}],"total\\u0000":"t"}'))
    local hu = p.items[1]
    assert.are.equal("A", hu.reference)
    assert.are.same({}, hu.events)                       -- the array field, absent
    assert.are.same({}, hu.shipments)
    assert.are.equal("x", hu["events\0junk"][1].eventType)  -- an unknown field, kept
    assert.is_nil(hu.pswId)
    assert.are.equal("B", hu["pswId\0"])
    assert.are.equal(5, hu["transport\0"])
    assert.are.equal("no", hu["shipments\0"])
    assert.are.equal("t", p["total\0"])
    assert.are.equal(1, p.total)                         -- filled: the field is absent
    -- and the field itself is still checked
    local q, err = decode('{"items":[{"events\\u0000":[],"events":5}]}')
    assert.is_nil(q)
    assert.are.equal("items[1].events: expected array, got number", err.message)
  end)

  it("keeps -0 outside the schema a float -0.0", function()
    local p = assert(decode('{"items":[],"a":-0,"b":-0.0,"c":-0e3,"d":[-0],"e":{"f":-0},"z":0}'))
    for _, v in ipairs{ p.a, p.b, p.c, p.d[1], p.e.f } do
      assert.is_true(negative_zero(v), tostring(v))
      if has_integers then assert.are.equal("float", math.type(v)) end
    end
    assert.is_false(negative_zero(p.z))
    if has_integers then assert.are.equal("integer", math.type(p.z)) end
  end)

  it("makes whole numbers outside the schema integers only below 2^53", function()
    local p = assert(decode('{"items":[],"a":9007199254740993,"b":9007199254740992,' ..
      '"c":9007199254740991,"d":-9007199254740991,"e":-9007199254740993,' ..
      '"f":12345678901234567890,"g":[9007199254740993],"h":1e2,"i":100.0,"j":2.5,"k":1e400}'))
    assert.are.equal(2 ^ 53, p.a)           -- what a double can hold of it
    assert.are.equal(2 ^ 53, p.b)
    assert.are.equal(2 ^ 53, p.g[1])
    assert.are.equal(-2 ^ 53, p.e)
    assert.are.equal(12345678901234567890, p.f)
    assert.are.equal(2.5, p.j)
    assert.are.equal(math.huge, p.k)
    assert.are.equal(100, p.h)
    assert.are.equal(100, p.i)
    assert.are.equal(2 ^ 53 - 1, p.c)
    assert.are.equal(-(2 ^ 53 - 1), p.d)
    if not has_integers then return end
    for _, k in ipairs{ "a", "b", "e", "f", "j", "k" } do
      assert.are.equal("float", math.type(p[k]), k)
    end
    assert.are.equal("float", math.type(p.g[1]))
    for _, k in ipairs{ "c", "d", "h", "i" } do
      assert.are.equal("integer", math.type(p[k]), k)
    end
    assert.are.equal(math.tointeger("9007199254740991"), p.c)
  end)

  it("takes whole numbers in integer fields, in int32 range, as integers", function()
    local p = assert(decode('{"total":1e2,"returned":100.0,"first":-0,"items":[' ..
      '{"measures":{"quantity":2147483647,"reportedQuantity":-2147483648,' ..
      '"remainingQuantity":5E0,"availableQuantity":0.5e1}}]}'))
    local m = p.items[1].measures
    assert.are.equal(100, p.total)
    assert.are.equal(100, p.returned)
    assert.are.equal(0, p.first)
    assert.is_false(negative_zero(p.first))   -- an integer field has no -0
    assert.are.equal(2147483647, m.quantity)
    assert.are.equal(-2147483648, m.reportedQuantity)
    assert.are.equal(5, m.remainingQuantity)
    assert.are.equal(5, m.availableQuantity)
    if has_integers then
      for _, v in ipairs{ p.total, p.returned, p.first, m.quantity, m.reportedQuantity,
        m.remainingQuantity, m.availableQuantity } do
        assert.are.equal("integer", math.type(v))
      end
    end
    -- a fraction is no integer; a whole number past int32 is said to be
    -- (shown when a double holds it exactly, below 10^15)
    local past = " is past the int32 range the document gives it"
    for _, case in ipairs{
      { '{"total":2147483647.5,"items":[]}', "total: expected integer, got number" },
      { '{"total":2147483648,"items":[]}', "total: 2147483648" .. past },
      { '{"total":-2147483649,"items":[]}', "total: -2147483649" .. past },
      { '{"total":1e10,"items":[]}', "total: 10000000000" .. past },
      { '{"items":[{"measures":{"quantity":3e9}}]}', "items[1].measures.quantity: 3000000000" .. past },
      { '{"total":9007199254740993,"items":[]}', "total: a number" .. past },
      { '{"total":1e400,"items":[]}', "total: a number" .. past },
      { '{"total":-1e400,"items":[]}', "total: a number" .. past } } do
      local q, err = decode(case[1])
      assert.is_nil(q, case[1])
      assert.are.equal(case[2], err.message, case[1])
    end
  end)

  it("keeps numbers in number fields floats", function()
    local p = assert(decode('{"items":[{"temperatures":{"setPoint":-0,"rangeMin":5,' ..
      '"rangeMax":9007199254740993}}]}'))
    local t = p.items[1].temperatures
    assert.is_true(negative_zero(t.setPoint))
    assert.are.equal(5, t.rangeMin)
    assert.are.equal(2 ^ 53, t.rangeMax)
    if has_integers then
      assert.are.equal("float", math.type(t.setPoint))
      assert.are.equal("float", math.type(t.rangeMin))
      assert.are.equal("float", math.type(t.rangeMax))
    end
  end)
end)
