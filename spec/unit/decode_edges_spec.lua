-- soget.decode at the edges of JSON: one parse per body, by libyajl, with
-- every error worded by the decoder itself (the decisions are listed at the
-- top of src/lua/decode.c). Each case is a body and the exact message it
-- fails with, or the page it decodes to.
local soget = require "soget"
local S = require "support"

local has_integers = math.type ~= nil
local NESTED = "response body is nested too deep: more than 200 arrays and objects at character "

-- name, body, the whole message
local ERRORS = {
  -- white space is space, tab, LF and CR: yajl also skips \v and \f
  { "a vertical tab between tokens", '{"items":[]\v}',
    "response body is not valid JSON: a vertical tab at character 12" },
  { "a form feed between tokens", '{\f"items":[]}',
    "response body is not valid JSON: a form feed at character 2" },
  { "a vertical tab after the value", '{"items":[]}\v',
    "response body is not valid JSON: a vertical tab at character 13" },
  { "a form feed inside a string", '{"items":[{"reference":"a\fb"}]}',
    "response body is not valid JSON: a form feed inside a string at character 26" },
  { "a vertical tab inside a string, after an escaped quote", '{"items":[],"x":"a\\"\vb"}',
    "response body is not valid JSON: a vertical tab inside a string at character 21" },
  { "a vertical tab after a string that ends in an escaped backslash", '{"items":[],"x":"a\\\\"\v}',
    "response body is not valid JSON: a vertical tab at character 22" },
  { "a type error before a vertical tab", '{"total":"3"\v}',
    "total: expected integer, got string" },
  { "a syntax error before a form feed", '{"total":]\f}',
    "response body is not valid JSON: unallowed token at this point in JSON text at character 10" },
  -- control characters inside strings
  { "a raw tab inside a string", '{"items":[{"reference":"a\tb"}]}',
    "response body is not valid JSON: a tab inside a string at character 26" },
  { "a raw line feed inside a key", '{"ite\nms":[]}',
    "response body is not valid JSON: a line feed inside a string at character 6" },
  { "a raw control character inside a string", '{"items":[],"x":"\27[2J"}',
    "response body is not valid JSON: a control character (0x1b) inside a string at character 18" },
  { "DEL outside a string", '{"items":[]}\127',
    "response body is not valid JSON: a control character (0x7f) at character 13" },
  -- NUL bytes
  { "a NUL byte after the value", '{"items":[]}\0{"x":',
    "response body is not valid JSON: a NUL byte at character 13" },
  { "a NUL byte after white space", '{"items":[],"x":1} \0 junk',
    "response body is not valid JSON: a NUL byte at character 20" },
  { "a NUL byte between tokens", '{"items":\0[]}',
    "response body is not valid JSON: a NUL byte at character 10" },
  { "a NUL byte first", '\0{"items":[]}',
    "response body is not valid JSON: a NUL byte at character 1" },
  { "a NUL byte inside a string", '{"items":[{"reference":"a\0b"}]}',
    "response body is not valid JSON: a NUL byte inside a string at character 26" },
  { "a NUL byte inside a key", '{"items":[],"a\0":1}',
    "response body is not valid JSON: a NUL byte inside a string at character 15" },
  -- unpaired UTF-16 surrogates in \u escapes, with the string's path
  { "a lone high surrogate", '{"items":[{"reference":"\\ud800"}]}',
    "items[1].reference: not valid JSON: an unpaired UTF-16 surrogate \\ud800 at character 25" },
  { "a lone low surrogate", '{"items":[{"events":[{},{"eventDate":"2020\\uDC00"}]}]}',
    "items[1].events[2].eventDate: not valid JSON: an unpaired UTF-16 surrogate \\uDC00 at character 43" },
  { "a high surrogate before another escape", '{"total":1,"x":"\\ud83d\\u0041"}',
    "x: not valid JSON: an unpaired UTF-16 surrogate \\ud83d at character 17" },
  { "two high surrogates", '{"total":1,"x":"\\ud83d\\ud83d\\ude00"}',
    "x: not valid JSON: an unpaired UTF-16 surrogate \\ud83d at character 17" },
  { "a low surrogate before a high one", '{"total":1,"x":"\\ude00\\ud83d"}',
    "x: not valid JSON: an unpaired UTF-16 surrogate \\ude00 at character 17" },
  { "a high surrogate ending the string", '{"total":1,"x":"ab\\ud83d"}',
    "x: not valid JSON: an unpaired UTF-16 surrogate \\ud83d at character 19" },
  { "a surrogate after escaped quotes and backslashes", '{"total":1,"x":"\\"\\\\\\"\\ud800"}',
    "x: not valid JSON: an unpaired UTF-16 surrogate \\ud800 at character 23" },
  { "a surrogate deep outside the schema", '{"total":1,"x":{"y":[null,{"z":["\\udbff"]}]}}',
    "x.y[2].z[1]: not valid JSON: an unpaired UTF-16 surrogate \\udbff at character 34" },
  { "a surrogate under a key that is no name", '{"total":1,"a b\\u0007":["\\udc00"]}',
    '["a b\\x07"][1]: not valid JSON: an unpaired UTF-16 surrogate \\udc00 at character 26' },
  -- a key is never cut (it may be a secret the server echoed, which the
  -- scrubber finds only whole): up to 64 bytes whole, else its length;
  -- a path too long ends in "..." after its last whole segment
  { "a surrogate under a long key", '{"total":1,"' .. ("k-"):rep(32) .. '":["\\udc00"],'
    .. '"' .. ("k-"):rep(33) .. '":["\\udc00"]}',
    '["' .. ("k-"):rep(32) .. '"][1]: not valid JSON: an unpaired UTF-16 surrogate \\udc00 at '
    .. 'character 81' },
  { "a surrogate under a key longer than 64 bytes", '{"total":1,"' .. ("k-"):rep(33) .. '":["\\udc00"]}',
    '[a key of 66 bytes][1]: not valid JSON: an unpaired UTF-16 surrogate \\udc00 at character 83' },
  { "a surrogate under a key with a NUL", '{"total":1,"a\\u0000b":["\\udc00"]}',
    '[a key of 3 bytes][1]: not valid JSON: an unpaired UTF-16 surrogate \\udc00 at character 25' },
  -- a key that would close its quotes and write a path of its own
  { "a surrogate under a key with a quote", '{"total":1,"a\\"].total: expected":["\\udc00"]}',
    '[a key of 19 bytes][1]: not valid JSON: an unpaired UTF-16 surrogate \\udc00 at character 37' },
  { "a surrogate under a key with a backslash", '{"total":1,"a\\\\b":["\\udc00"]}',
    '[a key of 3 bytes][1]: not valid JSON: an unpaired UTF-16 surrogate \\udc00 at character 21' },
  { "a surrogate under a path longer than 256 bytes",
    '{"total":1,"' .. ("a"):rep(64) .. '":{"' .. ("b"):rep(64) .. '":{"' .. ("c"):rep(64)
    .. '":{"d":{"e-' .. ("x"):rep(60) .. '":"\\udc00"}}}}}',
    ("a"):rep(64) .. "." .. ("b"):rep(64) .. "." .. ("c"):rep(64) .. ".d...: not valid JSON: "
    .. "an unpaired UTF-16 surrogate \\udc00 at character 287" },
  { "a surrogate in a key", '{"items":[{"\\ud800x":1}]}',
    "items[1]: not valid JSON: an unpaired UTF-16 surrogate \\ud800 in a key at character 13" },
  { "a surrogate in a key of the body", '{"\\udfff":1}',
    "response body is not valid JSON: an unpaired UTF-16 surrogate \\udfff in a key at character 3" },
  { "a surrogate in a string body", '"\\ud800"',
    "response body is not valid JSON: an unpaired UTF-16 surrogate \\ud800 at character 2" },
  -- only white space after the value
  { "trailing garbage", '{"items":[]} x',
    "response body is not valid JSON: trailing garbage at character 14" },
  { "a second value", '{"items":[]}{"items":[]}',
    "response body is not valid JSON: trailing garbage at character 13" },
  { "a number after the value", '{"items":[]} 5',
    "response body is not valid JSON: trailing garbage at character 14" },
  { "an unterminated string after the value", '{"items":[]} "',
    "response body is not valid JSON: trailing garbage at character 14" },
  { "an unterminated string after the value and white space", '{"items":[]}\r\n\t "abc',
    "response body is not valid JSON: trailing garbage at character 17" },
  -- {} and [] are of their own types
  { "{} where an array is due", '{"items":{}}', "items: expected array, got object" },
  { "[] where an object is due", '{"items":[{"measures":{"weight":[]}}]}',
    "items[1].measures.weight: expected object, got array" },
  { "[] where the page is due", '[]', "response: expected object, got array" },
  { "[] where a unit is due", '{"items":[[]]}', "items[1]: expected object, got array" },
  { "{} where meansId is due", '{"items":[{"transport":{"meansId":{}}}]}',
    "items[1].transport.meansId: expected array, got object" },
  { "{} where events are due", '{"items":[{"events":{}}]}', "items[1].events: expected array, got object" },
  -- types, with their paths
  { "a string where an integer is due", '{"total":"3"}', "total: expected integer, got string" },
  { "a fraction where an integer is due", '{"items":[{"shipments":[{},{"documentType":7.5}]}]}',
    "items[1].shipments[2].documentType: expected integer, got number" },
  { "null where a unit is due", '{"items":[{},null]}', "items[2]: expected object, got null" },
  { "a boolean where a string is due", '{"items":[{"huLocation":{"place":true}}]}',
    "items[1].huLocation.place: expected string, got boolean" },
  { "a number body", '5', "response: expected object, got number" },
  { "null", 'null', "response: expected object, got null" },
  { "an empty object", '{}', "response body is not a page: none of total, returned, first, items" },
  -- nesting
  { "201 arrays and objects", '{"items":[],"x":' .. ("["):rep(200) .. ("]"):rep(200) .. '}',
    NESTED .. "216" },
  { "100,000 arrays", ("["):rep(100000), "response: expected object, got array" },
  { "100,000 arrays in an unknown field", '{"x":' .. ("["):rep(100000), NESTED .. "205" },
  -- what yajl refuses, at its position
  { "an empty body", '', "response body is not valid JSON: premature EOF at character 1" },
  { "white space only", ' \n', "response body is not valid JSON: premature EOF at character 3" },
  { "a cut body", '{"total":', "response body is not valid JSON: premature EOF at character 10" },
  { "a cut string", '{"items":[],"x":"abc', "response body is not valid JSON: premature EOF at character 21" },
  { "NaN", '{"total":NaN}', "response body is not valid JSON: invalid char in json text at character 10" },
  { "a byte order mark", '\239\187\191{"items":[]}',
    "response body is not valid JSON: invalid char in json text at character 1" },
  { "a comment", '{"items":[]/**/}',
    "response body is not valid JSON: probable comment found in input text, comments are not enabled at character 12" },
  { "a bad escape", '{"items":[],"x":"\\x41"}',
    "response body is not valid JSON: inside a string, '\\' occurs before a character which it may not at character 19" },
  { "a number without digits after the point", '{"total":1.}',
    "response body is not valid JSON: malformed number, a digit is required after the decimal point at character 12" },
  { "a number cut at the end", '{"items":[],"x":1.',
    "response body is not valid JSON: malformed number, a digit is required after the decimal point at character 19" },
  { "a missing colon", '{"items" []}',
    "response body is not valid JSON: object key and value must be separated by a colon (':') at character 10" },
  { "a key that is no string", '{"items":[],1:2}',
    "response body is not valid JSON: invalid object key (must be a string) at character 13" },
  { "a missing comma in an array", '{"items":[{} {}]}',
    "response body is not valid JSON: after array element, I expect ',' or ']' at character 14" },
}

describe("soget.decode at the edges of JSON", function()
  for _, case in ipairs(ERRORS) do
    it("fails on " .. case[1], function()
      local p, err = soget.decode(case[2])
      assert.is_nil(p)
      assert.are.equal("decode", err.kind)
      assert.is_false(err.retryable)
      assert.are.equal(case[3], err.message)
      assert.is_nil(err.message:find("%c"), "a control character in the message")
    end)
  end

  it("never echoes a long body in a message", function()
    local long = '{"items":[],"x":"' .. ("A"):rep(100000) .. '\1"}'
    local _, err = soget.decode(long)
    assert.are.equal("response body is not valid JSON: a control character (0x01) inside a string at character 100018",
      err.message)
  end)

  it("takes space, tab, LF and CR between tokens", function()
    local p = assert(soget.decode(' \t\r\n{ \t\r\n"items" \t\r\n: \t\r\n[ \t\r\n] \t\r\n} \t\r\n'))
    assert.are.same({}, p.items)
  end)

  it("decodes paired surrogates, in either case, and leaves escaped backslashes alone", function()
    local p = assert(soget.decode('{"items":[{"reference":"\\ud83d\\ude00\\uD83D\\uDE00",' ..
      '"pswId":"\\\\ud800"}],"\\ud83d\\ude00":"\\u00e9\\ud83d\\ude00x"}'))
    assert.are.equal(("\240\159\152\128"):rep(2), p.items[1].reference)
    assert.are.equal("\\ud800", p.items[1].pswId)
    assert.are.equal("\195\169\240\159\152\128x", p["\240\159\152\128"])
  end)

  it("keeps bytes that are not UTF-8 inside strings as sent", function()
    local p = assert(soget.decode('{"items":[{"reference":"\255\254A\192\128"}],"\237\160\128":"\128"}'))
    assert.are.equal("\255\254A\192\128", p.items[1].reference)
    assert.are.equal("\128", p["\237\160\128"])
  end)

  it("keeps a \\u0000 escape as a NUL byte of the string", function()
    local p = assert(soget.decode('{"items":[{"reference":"a\\u0000b"}]}'))
    assert.are.equal("a\0b", p.items[1].reference)
  end)

  it("takes a member sent twice as its last value, a null too, with either parser", function()
    for _, parser in ipairs { "simdjson", "yajl" } do
      local p = assert(soget.decode('{"items":[{"reference":"X","pswId":"P","reference":null,'
        .. '"spi":"a","spi":"b"}]}', { parser = parser }))
      assert.is_nil(p.items[1].reference, parser)   -- the null removes the earlier "X"
      assert.are.equal("P", p.items[1].pswId, parser)
      assert.are.equal("b", p.items[1].spi, parser)
    end
  end)

  it("takes {} and [] outside the schema as empty tables, and null for arrays", function()
    local p = assert(soget.decode('{"items":[{"events":null,"x":{},"y":[]}],"z":{"a":[]}}'))
    assert.are.same({}, p.items[1].events)
    assert.are.same({}, p.items[1].x)
    assert.are.same({}, p.items[1].y)
    assert.are.same({ a = {} }, p.z)
  end)

  it("says no position for a body nested too deep that simdjson alone read", function()
    local body = '{"items":[],"x":' .. ("["):rep(250) .. ("]"):rep(250) .. '}'
    local p, err = soget.decode(body, { parser = "simdjson" })
    assert.is_nil(p)
    assert.are.equal("response body is nested too deep: more than 200 arrays and objects",
      err.message)
    assert.are.equal(NESTED .. "216", select(2, soget.decode(body)).message)
  end)

  it("takes 200 nested arrays and objects, the page's own included", function()
    local p = assert(soget.decode('{"items":[],"x":' .. ("["):rep(199) .. ("]"):rep(199) .. '}'))
    local depth, v = 0, p.x
    while type(v) == "table" do depth, v = depth + 1, v[1] end
    assert.are.equal(199, depth)
  end)

  it("reads numbers of any length", function()
    local digits = ("1"):rep(100)
    local p = assert(soget.decode('{"items":[{"temperatures":{"setPoint":' .. ("0"):rep(1) .. "." ..
      ("0"):rep(80) .. '25e82}}],"total":' .. "1." .. ("0"):rep(70) .. ',"a":' .. digits ..
      ',"b":-' .. digits .. "e-99" .. ',"c":0.' .. ("0"):rep(400) .. '1,"d":' .. ("9"):rep(400) ..
      ',"e":1' .. ("0"):rep(70) .. "e-70}"))
    assert.are.equal(25, p.items[1].temperatures.setPoint)
    assert.are.equal(1, p.total)
    assert.are.equal(tonumber(digits), p.a)
    assert.are.equal(-tonumber(digits .. "e-99"), p.b)
    assert.are.equal(0, p.c)                   -- below the smallest double
    assert.are.equal(math.huge, p.d)           -- above the largest
    assert.are.equal(1, p.e)
    if has_integers then
      assert.are.equal("integer", math.type(p.total))
      assert.are.equal("float", math.type(p.a))
      assert.are.equal("integer", math.type(p.e))
    end
    local q, err = soget.decode('{"total":' .. ("1"):rep(70) .. '}')
    assert.is_nil(q)
    assert.are.equal("total: a number is past the int32 range the document gives it", err.message)
  end)

  it("fills no total past the largest int32 (first + returned)", function()
    local p, err = soget.decode('{"first":2147483647,"items":[{"reference":"CGMU2436601"}]}')
    assert.is_nil(p)
    assert.are.equal("decode", err.kind)
    assert.truthy(err.message:find("past the int32 range of a total", 1, true), err.message)
    p, err = soget.decode('{"first":-2147483648,"returned":-1,"items":[]}')
    assert.is_nil(p)
    assert.truthy(err.message:find("(-2147483649) is past the int32 range of a total", 1, true), err.message)
    p = assert(soget.decode('{"first":2147483646,"items":[{"reference":"CGMU2436601"}]}'))
    assert.are.equal(2147483647, p.total)
    -- so that what encode writes decodes again
    assert.are.same(p, soget.decode(soget.encode(p)))
  end)

  -- Property check against a reference: strings made of plain text,
  -- escaped quotes and backslashes, and \u escapes of letters, high and
  -- low surrogates, as values and as keys. A string has an unpaired
  -- surrogate when a high one is not followed at once by a low one, or a
  -- low one follows no high one.
  it("finds every unpaired surrogate, and only those", function()
    local PIECES = { "a", "\\\"", "\\\\", "\\\\u", "\\n", "\\u0041", "\\ud83d", "\\uDBFF", "\\ude00",
      "\\uDC00", "\\u00e9", "\\\\ud800" }
    local function unpaired(pieces)
      local prev_high = false
      for _, x in ipairs(pieces) do
        local high = x == "\\ud83d" or x == "\\uDBFF"
        local low = x == "\\ude00" or x == "\\uDC00"
        if prev_high and not low then return true end
        if low and not prev_high then return true end
        prev_high = high
      end
      return prev_high
    end
    local seed = 12345
    local function rand(n)   -- Park and Miller's: exact in a double, the same cases everywhere
      seed = seed * 16807 % 2147483647
      return seed % n + 1
    end
    for _ = 1, 2000 do
      local pieces = {}
      for j = 1, rand(6) do pieces[j] = PIECES[rand(#PIECES)] end
      local s = table.concat(pieces)
      local body = rand(2) == 1 and ('{"items":[],"x":["' .. s .. '"]}') or ('{"items":[],"' .. s .. '":1}')
      local p, err = soget.decode(body)
      if unpaired(pieces) then
        assert.is_nil(p, body)
        assert.truthy(err.message:find("an unpaired UTF-16 surrogate", 1, true), body .. ": " .. err.message)
      else
        assert.is_table(p, body .. ": " .. tostring(err))
      end
    end
  end)
end)

-- strtod reads the locale's decimal point. A body must decode the same
-- under a locale whose decimal point is ',': run in a child process under
-- the first such locale installed or, when there is none, one made with
-- localedef (the locales package's sources) in a temporary directory named
-- by LOCPATH.
describe("soget.decode under a locale whose decimal point is ','", function()
  local function comma_locale()
    local old = os.setlocale(nil, "numeric")
    for _, name in ipairs{ "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "nl_NL.UTF-8",
      "it_IT.UTF-8", "es_ES.UTF-8", "ru_RU.UTF-8", "de_DE", "fr_FR" } do
      if os.setlocale(name, "numeric") then
        -- LuaJIT formats numbers itself, whatever the locale: there the
        -- names above, all of locales with ',', are taken at their word
        local comma = jit ~= nil or ("%.1f"):format(0.5) == "0,5"
        os.setlocale(old, "numeric")
        if comma then return name, nil end
      end
    end
    os.setlocale(old, "numeric")
    local dir = os.tmpname()
    os.remove(dir)
    -- (S.execute: os.execute answers a wait status on 5.1 and LuaJIT, a
    -- number, which a failure's is too)
    if S.execute("mkdir -p " .. S.shell_quote(dir) .. " && localedef -i de_DE -f UTF-8 " ..
      S.shell_quote(dir .. "/de_DE.UTF-8") .. " >/dev/null 2>&1") ~= 0 then
      os.execute("rm -rf " .. S.shell_quote(dir))
      return nil
    end
    return "de_DE.UTF-8", dir
  end

  it("reads numbers as under the C locale", function()
    local name, dir = comma_locale()
    if not name then
      pending("no locale with a ',' decimal point installed, and localedef could not make one")
      return
    end
    -- the expected values are literals, read when the chunk is compiled,
    -- before the child switches its locale
    local child = [=[
      package.cpath = os.getenv("SOGET_MODULE_DIR") .. "/?.so;" .. package.cpath
      local soget = require "soget"
      local body = '{"items":[{"measures":{"weight":{"grossWeight":{"value":13030.5}}},' ..
        '"temperatures":{"setPoint":-18.25,"rangeMin":1e2,"rangeMax":-0.5E-3}}],' ..
        '"total":1.0e1,"returned":2.0,"a":0.1,"b":123456789012345678.5,"c":' ..
        ("1"):rep(40) .. '.' .. ("5"):rep(40) .. ',"d":[1.5,2.5e-300]}'
      local want = { 13030.5, -18.25, 100, -0.5E-3, 10, 2, 0.1, 123456789012345678.5,
        tonumber(("1"):rep(40) .. "." .. ("5"):rep(40)), 1.5, 2.5e-300 }
      assert(os.setlocale(arg[1], "numeric"), "setlocale")
      assert(jit or ("%.1f"):format(0.5) == "0,5", "the locale's decimal point is not ','")
      local p, err = soget.decode(body)
      if not p then print("error", err.message) return end
      local hu = p.items[1]
      local got = { hu.measures.weight.grossWeight.value, hu.temperatures.setPoint,
        hu.temperatures.rangeMin, hu.temperatures.rangeMax, p.total, p.returned, p.a, p.b, p.c,
        p.d[1], p.d[2] }
      for i = 1, #want do
        if got[i] ~= want[i] then print("differs", i) end
      end
      print("read", #got)
      -- and a fraction is still no integer
      print(soget.decode('{"total":2.5}') == nil, select(2, soget.decode('{"total":2.5}')).message)
    ]=]
    local file = os.tmpname()
    local h = assert(io.open(file, "wb"))
    h:write(child)
    h:close()
    local env = dir and ("LOCPATH=" .. S.shell_quote(dir) .. " ") or ""
    -- under make test-valgrind, the interpreter itself: with LOCPATH set,
    -- glibc's newlocale loses 32 bytes when libcurl's p11-kit starts, which
    -- memcheck reports; this case is about numbers, checked in memory by
    -- the cases above
    local lua = S.lua:find("valgrind", 1, true) and "lua5.4" or S.lua
    local out = S.popen_read(env .. S.shell_quote(lua) .. " " .. S.shell_quote(file) .. " " ..
      S.shell_quote(name) .. " 2>&1")
    os.remove(file)
    if dir then os.execute("rm -rf " .. S.shell_quote(dir)) end
    assert.are.equal("read\t11\ntrue\ttotal: expected integer, got number\n", out)
  end)
end)

-- Out of memory inside the builder is Lua's memory error, raised after the
-- parser is freed: a child caps its own address space (prlimit) and
-- decodes a body whose table does not fit, again and again, then a page.
describe("soget.decode out of memory", function()
  local UNDER_VALGRIND = (S.lua or ""):find("valgrind", 1, true) ~= nil
  local UNDER_ASAN = (S.lua or ""):find("asan", 1, true) ~= nil

  it("raises Lua's memory error and decodes again at once", function()
    if UNDER_VALGRIND then return end   -- valgrind manages the address space itself
    local child = [=[
      package.cpath = os.getenv("SOGET_MODULE_DIR") .. "/?.so;" .. package.cpath
      local soget = require "soget"
      local function status(field)
        local f = assert(io.open("/proc/self/status"))
        local v
        for line in f:lines() do v = v or tonumber(line:match("^" .. field .. ":%s+(%d+)")) end
        f:close()
        return v
      end
      -- 8 MB of JSON, an array of 4,200,001 numbers: its table's array part
      -- grows past 64 MB (one block, which the cap refuses under ASan's
      -- allocator too); before it, a string with 10,000 escapes, so that
      -- the parser's decode buffer outgrows its arena and is malloc'd
      local big = '{"items":[],"y":"' .. ('\\u00e9'):rep(10000) .. '","x":[' ..
        ('1,'):rep(4200000) .. '1]}'
      assert(soget.decode('{"items":[]}'))
      collectgarbage(); collectgarbage()
      local cap = (status("VmSize") + 32 * 1024) * 1024
      -- (the soft limit alone: lifted again below without privileges)
      assert(os.execute("prlimit --pid " .. status("Pid") .. " --as=" .. cap .. ": 2>&1"))
      for i = 1, 3 do
        local ok, err = pcall(soget.decode, big)
        -- what the failed decode built is garbage now: collected first, as
        -- Lua 5.1 and LuaJIT have no emergency collection to do it
        pcall(collectgarbage)
        print(i, ok, type(err), tostring(err))
      end
      print("page", soget.decode('{"items":[{"reference":"\\u00e9"}]}').items[1].reference)
      -- the cap lifted before the exit: LeakSanitizer's check there needs
      -- room of its own (the module, pinned, keeps its libraries mapped)
      assert(os.execute("prlimit --pid " .. status("Pid") .. " --as=unlimited: 2>&1"))
    ]=]
    local file = os.tmpname()
    local h = assert(io.open(file, "wb"))
    h:write(child)
    h:close()
    local env = ""
    if UNDER_ASAN then   -- a failed allocation returns NULL instead of aborting;
      -- and what the failed decodes held must all be freed at exit (LeakSanitizer)
      env = "ASAN_OPTIONS=" .. S.shell_quote((os.getenv("ASAN_OPTIONS")
        or "abort_on_error=1:halt_on_error=1") .. ":allocator_may_return_null=1:detect_leaks=1") .. " "
    end
    local out = S.popen_read(env .. S.shell_quote(S.lua) .. " " .. S.shell_quote(file)
      .. " 2>&1; echo \"exit=$?\"")
    os.remove(file)
    assert.are.equal(table.concat({
      "1\tfalse\tstring\tnot enough memory",
      "2\tfalse\tstring\tnot enough memory",
      "3\tfalse\tstring\tnot enough memory",
      "page\t\195\169",
      "exit=0", "" }, "\n"), out)
  end)
end)
