-- soget.encode(page_or_unit[, schema]): the same bytes for the same page
-- on every run and every runtime (a committed fixture, byte for byte);
-- schema fields in the document's order, other keys sorted; the schema's
-- array fields always arrays; escapes that decode to the same text and
-- cannot act on a terminal; numbers that read back. And the marker
-- decoded arrays carry (soget.array_mt, or lua-cjson's array_mt when it is
-- loaded), which dkjson honours.
local soget = require "soget"
local S = require "support"

local PAGE = S.read_file("spec/fixtures/page.json")
local ENCODED = S.read_file("spec/fixtures/page.encoded.json")

describe("soget.encode", function()
  it("writes the fixture page byte for byte, the same on every call", function()
    local page = assert(soget.decode(PAGE))
    assert.equal(ENCODED, soget.encode(page))
    assert.equal(ENCODED, soget.encode(page, "page"))
    for _ = 1, 20 do assert.equal(ENCODED, soget.encode(assert(soget.decode(PAGE)))) end
  end)

  it("reads back as the same page", function()
    local page = assert(soget.decode(PAGE))
    local again = assert(soget.decode(soget.encode(page)))
    assert.are.same(page, again)
    assert.equal(soget.encode(page), soget.encode(again))
  end)

  -- Whether s is UTF-8 (strict: no overlong form, no surrogate, nothing
  -- above U+10FFFF), on every runtime.
  local function is_utf8(s)
    local i, n = 1, #s
    while i <= n do
      local c = s:byte(i)
      local need, cp, min
      if c < 0x80 then need, cp, min = 0, c, 0
      elseif c >= 0xC2 and c <= 0xDF then need, cp, min = 1, c - 0xC0, 0x80
      elseif c >= 0xE0 and c <= 0xEF then need, cp, min = 2, c - 0xE0, 0x800
      elseif c >= 0xF0 and c <= 0xF4 then need, cp, min = 3, c - 0xF0, 0x10000
      else return false end
      for j = 1, need do
        local d = s:byte(i + j)
        if not d or d < 0x80 or d > 0xBF then return false end
        cp = cp * 64 + (d - 0x80)
      end
      if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return false end
      i = i + need + 1
    end
    return true
  end

  it("reads back as the same page for every page body of the decode fuzz target's seeds", function()
    local n = 0
    local list = S.popen_read("ls spec/fuzz/corpus/decode spec/fuzz/regressions/decode 2>/dev/null")
    local dir = "spec/fuzz/corpus/decode"
    for line in list:gmatch("[^\n]+") do
      if line:match(":$") then dir = line:sub(1, -2)
      elseif line ~= "" then
        local body = S.read_file(dir .. "/" .. line)
        local page = soget.decode(body)
        if page then
          local ok, text = pcall(soget.encode, page)
          assert.is_true(ok, line .. ": " .. tostring(text))
          local again = assert(soget.decode(text), line)
          if not is_utf8(body) then
            -- bytes that are not UTF-8 are written as \ufffd: the page
            -- reads back with U+FFFD in their place, then stays the same
            page, text = again, soget.encode(again)
            again = assert(soget.decode(text), line)
          end
          assert.are.same(page, again, line)
          assert.equal(text, soget.encode(again), line)
          n = n + 1
        end
      end
    end
    assert.truthy(n >= 5, "pages read: " .. n)
  end)

  it("writes a unit in the schema's order, and its empty arrays as []", function()
    local hu = assert(soget.decode(PAGE)).items[2]
    assert.equal('{"reference":"BB-0001","pswId":"GDS0000000001","freightFamily":"BreakBulk",'
      .. '"packagingCode":"PK","measures":{"quantity":10,"remainingQuantity":4,'
      .. '"availableQuantity":3,"reportedQuantity":6},"references":[],"shipments":[],'
      .. '"events":[],"hazardousItems":[]}', soget.encode(hu))
    -- empty arrays a script made as plain tables: [] too, by the schema
    assert.equal('{"reference":"X","shipments":[],"events":[],"other":{}}',
      soget.encode({ reference = "X", events = {}, shipments = {}, other = {} }, "unit"))
    assert.equal('{"total":0,"returned":0,"first":0,"items":[]}',
      soget.encode({ total = 0, returned = 0, first = 0, items = {} }))
  end)

  it("guesses the schema from the value when none is given", function()
    -- a unit whose server added an unknown "items" member is a unit: it has
    -- a unit's identifiers (before, a page, and its "items" an array)
    local hu = assert(soget.decode('{"items":[{"pswId":"a","items":{"k":1}}]}')).items[1]
    assert.equal('{"pswId":"a","references":[],"shipments":[],"events":[],"hazardousItems":[],'
      .. '"items":{"k":1}}', soget.encode(hu))
    -- a page's items and the list events_in_order gives are arrays (before,
    -- objects keyed "1", "2"...)
    local page = assert(soget.decode('{"items":[{"reference":"R","events":'
      .. '[{"eventDate":"2020-01-02"},{"eventDate":"2020-01-01"}]}]}'))
    assert.equal('[{"eventDate":"2020-01-01"},{"eventDate":"2020-01-02"}]',
      soget.encode(soget.events_in_order(page.items[1])))
    assert.equal("[", soget.encode(page.items):sub(1, 1))
    -- a page, by its metatable even when a script took its items away
    page.items = nil
    assert.equal('{"total":1,"returned":1,"first":0}', soget.encode(page))
    -- a plain table with an items table and no unit identifier: a page
    assert.equal('{"total":0,"items":[]}', soget.encode({ total = 0, items = {} }))
  end)

  it("puts unknown fields after the schema's, sorted byte by byte", function()
    local page = assert(soget.decode('{"zeta":1,"items":[{"x":{"b":[],"a":{}},"reference":"R",'
      .. '"Aa":true,"_":null,"events":[{"extra":"e","eventType":"MAN"}]}],"alpha":"a"}'))
    assert.equal('{"returned":1,"first":0,"total":1,"items":[{"reference":"R","references":[],'
      .. '"shipments":[],"events":[{"eventType":"MAN","extra":"e"}],"hazardousItems":[],"Aa":true,'
      .. '"x":{"a":{},"b":[]}}],"alpha":"a","zeta":1}',
      (soget.encode(page):gsub('^{"total":1,"returned":1,"first":0,', '{"returned":1,"first":0,"total":1,')))
  end)

  it("escapes what could act on a terminal, and writes \\ufffd for bytes that are not UTF-8", function()
    local s = "a\"b\\c\n\27[31m\127\194\155\226\128\174\226\128\168\255é€"
    assert.equal('"a\\"b\\\\c\\n\\u001b[31m\\u007f\\u009b\\u202e\\u2028\\ufffdé€"', soget.encode(s))
    local page = assert(soget.decode(soget.encode({ items = { { reference = s:sub(1, 20) } } })))
    assert.equal(s:sub(1, 20), page.items[1].reference)
  end)

  it("writes numbers that read back: integers, decimals, -0, infinities", function()
    assert.equal("13030", soget.encode(13030))
    assert.equal("13030", soget.encode(13030.0))
    assert.equal("33.2", soget.encode(33.2))
    assert.equal("0.30000000000000004", soget.encode(0.1 + 0.2))
    assert.equal("-0", soget.encode(-0.0))
    assert.equal("1e400", soget.encode(math.huge))
    assert.equal("-1e400", soget.encode(-math.huge))
    assert.equal(math.huge, assert(soget.decode('{"items":[],"x":' .. soget.encode(math.huge) .. '}')).x)
    assert.has_error(function() soget.encode(0 / 0) end, "soget.encode: NaN cannot be written as JSON")
  end)

  it("tells arrays from objects outside the schema", function()
    assert.equal('{"a":[1,2],"b":{},"c":[],"d":{"1":"x","3":"y"},"e":[],"f":{}}', soget.encode({
      a = { 1, 2 }, b = {}, c = setmetatable({}, soget.array_mt), d = { [1] = "x", [3] = "y" },
      e = setmetatable({}, { __jsontype = "array" }), f = setmetatable({}, { __jsontype = "object" }),
    }, "value"))
    assert.equal('{"1":"x","2":"y","k":"v"}', soget.encode({ "x", "y", k = "v" }, "value"))
  end)

  it("writes a table with a hole as an object, the same on every runtime", function()
    -- (its length is any border: 3 or 1 for {1, nil, 3})
    assert.are.equal('{"1":1,"3":3,"x":"y"}', soget.encode({ 1, nil, 3, x = "y" }, "value"))
    assert.are.equal('{"1":1,"3":3}', soget.encode({ 1, nil, 3 }, "value"))
    assert.are.equal('{"1":1,"3":3,"5":5}', soget.encode({ 1, nil, 3, [5] = 5 }, "value"))
    assert.are.equal('[1,2,3]', soget.encode({ 1, 2, 3 }, "value"))
    assert.are.equal('{"reference":"R","extra":{"1":1,"3":3,"note":"kept"}}',
      soget.encode({ reference = "R", extra = { 1, nil, 3, note = "kept" } }, "unit"))
  end)

  it("raises on a key of a table it writes as an array that is not one of its indexes", function()
    -- a schema array field (keys exactly 1..n: the decoder refuses a null
    -- item), or a table with an array marker (whole keys from 1): another
    -- key would be dropped
    local cases = {
      { { reference = "R", references = { "a", "b", x = 3 } }, "unit", 'has the key "x"' },
      { { reference = "R", events = { note = "n" } }, "unit", 'has the key "note"' },
      { { reference = "R", shipments = { [0] = {} } }, "unit", "has the key 0" },
      { { reference = "R", references = { { value = "a" }, nil, { value = "c" } } }, "unit",
        "has a hole" },
      { { reference = "R", references = (function() local t = {} t[1] = { value = "a" }
        t[3] = { value = "c" } return t end)() }, "unit", "has a hole" },   -- border 1 or 3
      { { reference = "R", events = { 1, nil, 3 } }, "unit", "has a hole" },
      { { total = 1, items = { { reference = "R" }, [2.5] = {} } }, "page", "has the key 2.5" },
      { setmetatable({ 1, 2, k = "v" }, soget.array_mt), "value", 'has the key "k"' },
      { setmetatable({ 1, [-1] = 2 }, { __jsontype = "array" }), "value", "has the key -1" },
      { setmetatable({ [true] = 1 }, soget.array_mt), "value", "has a boolean key" },
      { setmetatable({ ["\27[31m"] = 1 }, soget.array_mt), "value", 'has the key "\\u001b[31m"' },
      { setmetatable({ 1, [2 ^ 40] = 2 }, soget.array_mt), "value",
        "is too sparse: its largest key is 1099511627776 for 2 values" },
      { setmetatable({ 1, [2 ^ 20 + 1] = 2 }, soget.array_mt), "value",
        "is too sparse: its largest key is 1048577 for 2 values" },
    }
    for i, c in ipairs(cases) do
      local ok, err = pcall(soget.encode, c[1], c[2])
      assert.is_false(ok, "case " .. i)
      err = tostring(err)
      assert.truthy(err:find("soget.encode: a table written as an array " .. c[3], 1, true),
        "case " .. i .. ": " .. err)
      assert.falsy(err:find("\27", 1, true), err)
    end
    -- exactly 1..n, or empty: as before
    assert.equal('{"reference":"R","references":[{"value":"a"}],"events":[]}',
      soget.encode({ reference = "R", references = { { value = "a" } }, events = {} }, "unit"))
    assert.equal('[1,2]', soget.encode(setmetatable({ 1, 2 }, soget.array_mt), "value"))
  end)

  it("writes a marked array's holes as null, up to its largest key, on every runtime", function()
    -- the decoder makes a hole of each null in an array outside the
    -- schema; its length is then any border (3 or 1 for {1, nil, 3})
    local page = assert(soget.decode('{"items":[],"x":[1,null,3,null],"y":[null,"b"]}'))
    assert.equal('{"total":0,"returned":0,"first":0,"items":[],"x":[1,null,3],"y":[null,"b"]}',
      soget.encode(page))
    assert.equal('[1,null,3]', soget.encode(setmetatable({ 1, nil, 3 }, { __jsontype = "array" }), "value"))
    local t = setmetatable({}, soget.array_mt)
    t[18] = "x"
    assert.equal("[" .. ("null,"):rep(17) .. '"x"]', soget.encode(t, "value"))
    -- a decoded page with many nulls in an array is written out again
    page = assert(soget.decode('{"items":[{"reference":"R","extra":[' .. ("null,"):rep(300)
      .. '1]}]}'))
    assert.equal('{"total":1,"returned":1,"first":0,"items":[{"reference":"R","references":[],'
      .. '"shipments":[],"events":[],"hazardousItems":[],"extra":[' .. ("null,"):rep(300) .. '1]}]}',
      soget.encode(page))
    -- any largest key up to 2^20; past it, at most twice its values
    t = setmetatable({ [2 ^ 20] = 1 }, soget.array_mt)
    assert.equal((1048576 - 1) * 5 + 3, #soget.encode(t, "value"))   -- [null,...,1]
  end)

  it("writes a whole number below 2^53 in digits, as decoded on every runtime", function()
    local page = assert(soget.decode('{"total":1,"returned":1,"first":0,"items":[{"reference":"R",'
      .. '"extra":1000000000000000,"big":9007199254740991}]}'))
    local out = soget.encode(page)
    assert.truthy(out:find('"big":9007199254740991,"extra":1000000000000000}', 1, true), out)
    assert.are.equal("1e+16", soget.encode(1e16, "value"))
  end)

  it("raises on two keys that would read back as one", function()
    for _, t in ipairs({ { ["\255"] = 1, ["\254"] = 2 }, { ["\255"] = 1, ["\239\191\189"] = 2 } }) do
      local ok, err = pcall(soget.encode, t, "value")
      assert.is_false(ok)
      assert.truthy(tostring(err):find('two keys of a table are both written as "\\ufffd"', 1, true),
        tostring(err))
    end
    assert.are.equal('"\\ufffd\\ufffd"', soget.encode("\239\191\189\255", "value"))
  end)

  it("calls no metamethod", function()
    local t = setmetatable({ reference = "R" }, {
      __index = function() error("read through __index") end,
      __pairs = function() error("__pairs") end })
    assert.equal('{"reference":"R"}', soget.encode(t, "unit"))
  end)

  it("raises on what JSON cannot hold", function()
    assert.has_error(function() soget.encode({ f = print }) end,
      "soget.encode: a function cannot be written as JSON")
    assert.has_error(function() soget.encode({ [true] = 1 }, "value") end,
      "soget.encode: a boolean key cannot be written as JSON")
    assert.has_error(function() soget.encode({ [1.5] = 1, x = 1 }, "value") end,
      "soget.encode: a table key that is not a whole number cannot be written as JSON")
    assert.has_error(function() soget.encode({ [1 / 0] = 1, x = 1 }, "value") end,
      "soget.encode: a table key that is not a whole number cannot be written as JSON")
    -- a whole number past 2^63 is one all the same: its digits, on every runtime
    assert.equal('{"-9223372036854775808":"a","10000000000000000000":"c","9223372036854775808":"b"}',
      soget.encode({ [-2 ^ 63] = "a", [2 ^ 63] = "b", [1e19] = "c" }, "value"))
    -- the key -0 is the key 0 (Lua 5.1 keeps a float key's sign)
    local z = 0
    local neg = {}
    neg[-z * 1.0] = "a"
    neg.x = 1
    assert.equal('{"0":"a","x":1}', soget.encode(neg, "value"))
    assert.has_error(function() soget.encode({ [1] = "a", ["1"] = "b", x = 1 }, "value") end,
      'soget.encode: two keys of a table are both written as "1"')
    local t = {}
    t.t = t
    assert.has_error(function() soget.encode(t, "value") end, "soget.encode: a table that holds itself")
    -- found at once: through a sparse array, each turn wrote 5 MB of null
    -- before the depth limit ended it (a gigabyte)
    local a = setmetatable({}, soget.array_mt)
    local b = { list = a }
    a[2 ^ 20] = b
    assert.has_error(function() soget.encode(a, "value") end, "soget.encode: a table that holds itself")
    -- written with a schema, the page is the outermost table: a cycle
    -- through it is found, and an earlier call's tables count for nothing
    local page = { total = 1, returned = 1, first = 0, items = { { reference = "CGMU2436601" } } }
    local once = soget.encode(page)
    assert.truthy(soget.encode(page.items))
    assert.equal(once, soget.encode(page))
    assert.equal(once, soget.encode(page, "page"))
    page.items[1].events = { { eventType = "X", more = page } }
    assert.has_error(function() soget.encode(page, "page") end, "soget.encode: a table that holds itself")
    -- a table met twice side by side is no cycle
    local shared = { x = 1 }
    assert.equal('{"a":{"x":1},"b":{"x":1}}', soget.encode({ a = shared, b = shared }, "value"))
    -- and nesting past the limit, with no cycle
    local deep = {}
    for _ = 1, 250 do deep = { deep } end
    assert.has_error(function() soget.encode(deep, "value") end, "soget.encode: tables nested deeper than 200")
    assert.has_error(function() soget.encode({}, "units") end)
  end)

  it("writes the same under a locale whose decimal point is ','", function()
    local child = [=[
      package.cpath = os.getenv("SOGET_MODULE_DIR") .. "/?.so;" .. package.cpath
      local soget = require "soget"
      local page = assert(soget.decode(io.open("spec/fixtures/page.json", "rb"):read("*a")))
      local before = soget.encode(page) .. soget.encode(33.2) .. soget.encode(0.1 + 0.2)
      if not os.setlocale(arg[1], "numeric") then print("no locale") os.exit(0) end
      local after = soget.encode(page) .. soget.encode(33.2) .. soget.encode(0.1 + 0.2)
      print(before == after and "same" or ("differs: " .. after))
    ]=]
    local f = os.tmpname()
    local h = assert(io.open(f, "wb")); h:write(child); h:close()
    local dir = os.tmpname()
    os.remove(dir)
    local made = S.execute("mkdir -p " .. S.shell_quote(dir) .. " && localedef -i de_DE -f UTF-8 "
      .. S.shell_quote(dir .. "/de_DE.UTF-8") .. " >/dev/null 2>&1") == 0
    -- (under valgrind the child runs the plain interpreter, as
    -- decode_edges_spec.lua's does: the locale's own libraries are not
    -- what is checked here)
    local lua = S.lua:find("valgrind", 1, true) and "lua5.4" or S.lua
    local out = S.popen_read((made and ("LOCPATH=" .. S.shell_quote(dir) .. " ") or "")
      .. S.shell_quote(lua) .. " " .. S.shell_quote(f) .. " de_DE.UTF-8 2>&1")
    os.remove(f)
    os.execute("rm -rf " .. S.shell_quote(dir))
    if out:find("no locale") then
      pending("no locale with a ',' decimal point, and localedef could not make one")
      return
    end
    assert.equal("same\n", out)
  end)
end)

describe("decoded arrays", function()
  it("carry soget.array_mt, which dkjson honours", function()
    local page = assert(soget.decode(PAGE))
    assert.equal(soget.array_mt, getmetatable(page.items))
    assert.equal(soget.array_mt, getmetatable(page.items[2].events))          -- added: absent
    assert.equal(soget.array_mt, getmetatable(page.items[1].references))      -- null
    assert.equal(soget.array_mt, getmetatable(page.items[1].transport.meansId))
    assert.is_nil(getmetatable(page.items[1].huLocation))
    local ok, dkjson = pcall(require, "dkjson")
    if ok then
      local again = dkjson.decode(dkjson.encode(page.items[2]))
      assert.are.same({}, again.events)
      assert.truthy(dkjson.encode({ e = page.items[2].events }):find('"e":[]', 1, true))
      assert.truthy(dkjson.encode({ e = setmetatable({}, nil) }) ~= nil)
    end
    assert.equal(soget.array_mt, getmetatable(soget.events_in_order(page.items[1])))
  end)

  it("carry lua-cjson's array_mt when lua-cjson is loaded with one, never loading it", function()
    local saved = package.loaded.cjson
    local fake_mt = {}
    package.loaded.cjson = { array_mt = fake_mt }   -- as OpenResty's lua-cjson has it
    local ok, page = pcall(soget.decode, PAGE)
    package.loaded.cjson = saved
    assert.is_true(ok)
    assert.equal(fake_mt, getmetatable(page.items))
    assert.equal(fake_mt, getmetatable(page.items[2].events))
    -- soget.encode knows it too, while lua-cjson is loaded
    package.loaded.cjson = { array_mt = fake_mt }
    local ok2, s = pcall(soget.encode, { a = setmetatable({}, fake_mt) }, "value")
    package.loaded.cjson = saved
    assert.is_true(ok2)
    assert.equal('{"a":[]}', s)
    -- Debian's lua-cjson 2.1.0 has none: soget's own marker then
    local real = require "cjson"
    if real.array_mt == nil then
      assert.equal(soget.array_mt, getmetatable(assert(soget.decode(PAGE)).items))
    end
  end)
end)
