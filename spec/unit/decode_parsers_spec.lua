-- The decoder's two parsers agree. soget.decode parses a body with
-- simdjson and leaves to libyajl what simdjson refuses or may not be asked
-- (src/lua/decode.c): whichever parses it, a body gives the same page, or
-- fails with the same message. Each body here is decoded three ways:
-- the default, parser = "yajl" (libyajl alone) and parser = "simdjson"
-- (simdjson alone, which must decode every generated page: the fast path
-- is taken, not only the fallback).
local soget = require "soget"
local S = require "support"

local mtype = math.type or function(x)
  if type(x) ~= "number" then return nil end
  return "number"   -- 5.1, 5.2, LuaJIT: one number type
end

-- a and b are the same value: tables key by key (both ways), numbers of
-- the same subtype, equal, and zeros of the same sign.
local function same(a, b, path)
  path = path or "page"
  if type(a) ~= type(b) then
    return false, path .. ": " .. type(a) .. " against " .. type(b)
  end
  if type(a) == "number" then
    if mtype(a) ~= mtype(b) then return false, path .. ": " .. mtype(a) .. " against " .. mtype(b) end
    if a ~= b and not (a ~= a and b ~= b) then return false, path .. ": " .. a .. " against " .. b end
    if a == 0 and 1 / a ~= 1 / b then return false, path .. ": zeros of two signs" end
    return true
  end
  if type(a) ~= "table" then
    if a ~= b then return false, path .. ": " .. tostring(a) .. " against " .. tostring(b) end
    return true
  end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. ": missing on one side" end
  end
  return true
end

-- Decodes body the three ways; returns the default's page (or nil) and
-- whether simdjson alone decoded it.
local function agree(body)
  local p, err = soget.decode(body)
  local q, qerr = soget.decode(body, { parser = "yajl" })
  local r, rerr = soget.decode(body, { parser = "simdjson" })
  if p == nil then
    assert(q == nil, "only libyajl decodes " .. ("%q"):format(body:sub(1, 200)))
    assert.are.equal(qerr.message, err.message)
    assert(r == nil, "only simdjson decodes " .. ("%q"):format(body:sub(1, 200)))
    return nil, false
  end
  assert(q ~= nil, "libyajl alone fails on a page: " .. tostring(qerr))
  local ok, why = same(p, q)
  assert(ok, why)
  if r ~= nil then
    ok, why = same(p, r)
    assert(ok, why)
  else
    assert.are.equal("decode", rerr.kind)
  end
  return p, r ~= nil
end

-- ---- bodies written by hand ---------------------------------------------

local BODIES = {
  '{"total":0,"returned":0,"first":0,"items":[]}',
  '{"items":[]}', '{}', '[]', '"x"', '12', 'null', '', ' ', '{"total":1}  \n',
  '{"total":1} x', '{"total":1}{}', '{"total":1,}', '{"total":1,"items":[1,]}',
  '{"total":01}', '{"total":1.}', '{"total":-}', '{"total":+1}', '{"total":.5}',
  '{"total":1e}', '{"total":tru}', '{"total":nul}', '{"total":"a}', '{"total":1',
  -- numbers, in and out of the schema
  '{"total":1,"x":[0,-0,-0.0,0.0,1e2,1E+2,1.5,-1.5e-3,2147483647,2147483648,-2147483649]}',
  '{"total":1,"x":[9007199254740991,9007199254740992,9007199254740993,-9007199254740993]}',
  '{"total":1,"x":[9223372036854775807,9223372036854775808,18446744073709551615]}',
  '{"total":1,"x":[18446744073709551616,123456789012345678901234567890,1e400,-1e400,1e-400]}',
  '{"total":1,"x":[0.1,0.30000000000000004,1.7976931348623157e308,4.9e-324,2.2250738585072014e-308]}',
  '{"total":1,"x":1.00000000000000000000001,"y":100000000000000000000000e-23}',
  '{"total":2147483647,"returned":-0,"first":-0.0}',
  '{"total":2147483648}', '{"total":1.5}', '{"total":1e0}', '{"total":-2147483648}',
  '{"total":1,"items":[{"measures":{"quantity":3.0,"volume":{"value":-0,"unit":"MTQ"}}}]}',
  '{"total":1,"items":[{"temperatures":{"setPoint":-0,"rangeMin":-0.0,"rangeMax":1e2}}]}',
  '{"total":1,"x":"2024-06-09T14:00:00-01:00","y":[-0]}',
  -- strings and escapes
  '{"total":1,"x":"a\\n\\t\\r\\b\\f\\"\\\\\\/b","y":"\\u00e9\\u20AC\\uFFFF"}',
  '{"total":1,"x":"\\u0000","y":"a\\u0000b"}',
  '{"total":1,"x":"\\ud83d\\ude00","y":"\\uD83D\\uDE00"}',
  '{"total":1,"x":"\\ud800"}', '{"total":1,"x":"\\udc00"}', '{"total":1,"x":"\\ud800\\u0041"}',
  '{"total":1,"x":"\\\\ud800"}', '{"total":1,"x":"\\x"}', '{"total":1,"x":"\\u12"}',
  '{"total":1,"x":"\255\254"}', '{"total":1,"x":"\237\160\128"}', '{"total":1,"x":"\192\128"}',
  '{"total":1,"x":"a\tb"}', '{"total":1,"x":"a\0b"}', '{"total":1,"\0":1}',
  '{"total":1,"x":"\226\128\174"}',
  -- keys: unknown, repeated, escaped, empty
  '{"total":1,"total":2}', '{"items":null,"items":[]}', '{"items":[],"items":null}',
  '{"total":1,"":1,"\\u0074otal":5}', '{"tota\\u006c":3}',
  '{"total":1,"items":[{"events":[{"eventType":"A"}],"events":null}]}',
  '{"total":1,"items":[{"reference":"A","reference":null}]}',
  '{"total":1,"x":{"a":null,"b":[null,1,null],"c":{}}}',
  -- members read two tape words at a time (decode.c, fast_members): each
  -- way out of that loop, and a null for a field already given
  '{"total":1,"returned":1,"first":0,"items":null}',
  '{"total":1,"returned":1,"total":2,"returned":null}',
  '{"total":1,"returned":1,"total":2,"returned":3}',
  '{"total":null,"returned":null,"first":null,"items":[]}',
  '{"total":-2147483648,"returned":2147483647,"first":-2147483649}',
  '{"total":18446744073709551615}', '{"total":9223372036854775807}', '{"total":true}',
  '{"items":[{"reference":"A","pswId":null,"freightFamily":5}]}',
  '{"items":[{"indicators":{"hazardous":true,"empty":false,"reefer":null,"pollutant":"x"}}]}',
  '{"items":[{"indicators":{"hazardous":true,"empty":false,"hazardous":null}}]}',
  '{"items":[{"measures":{"quantity":2,"weight":null,"volume":{"value":1,"unit":"M"}}}]}',
  '{"items":[{"huLocation":{"place":"P","location":"L"},"actors":{"freightAgent":null}}]}',
  -- types against the schema
  '{"total":"1"}', '{"items":{}}', '{"items":[[]]}', '{"items":[null]}', '{"items":[{"events":{}}]}',
  '{"items":[{"indicators":{"hazardous":1}}]}', '{"items":[{"measures":[]}]}',
  '{"items":[{"transport":{"meansId":[{"type":1}]}}]}',
  -- white space
  ' \t\r\n{ \t\r\n"total" \t\r\n: \t\r\n1 \t\r\n} \t\r\n', '{"total":1}\v', '{\f"total":1}',
  -- nesting around the limit
  '{"items":[],"x":' .. ("["):rep(199) .. ("]"):rep(199) .. '}',
  '{"items":[],"x":' .. ("["):rep(200) .. ("]"):rep(200) .. '}',
  '{"items":[],"x":' .. ('{"a":'):rep(198) .. '1' .. ("}"):rep(198) .. '}',
  '{"items":[],"x":' .. ('{"a":'):rep(199) .. '1' .. ("}"):rep(199) .. '}',
  '{"items":[],"x":' .. ("["):rep(2000) .. ("]"):rep(2000) .. '}',
}

-- ---- bodies made from the schema, and mutated ---------------------------

-- A small generator with a fixed seed: the same bodies on every run and
-- runtime (no dependence on math.random's algorithm).
local function generator(seed)
  local state = seed
  return function(n)   -- 1..n
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
end

local STRINGS = { '"MSCU0028154"', '"KGM"', '"2024-06-09T14:00:00+01:00"', '""', '"a\\"b"',
  '"\\u00e9t\\u00e9"', '"\\ud83d\\ude00"', '"x\\/y\\\\z"', '"caf\195\169"', '"\\n"' }
local NUMBERS = { "0", "1", "-1", "42", "3744", "67.7", "-0.5", "1e3", "2.5E-2",
  "2147483647", "9007199254740993", "123456789012345678", "0.1" }

local function value(rnd, depth)
  local k = rnd(depth > 3 and 5 or 7)
  if k == 1 then return STRINGS[rnd(#STRINGS)]
  elseif k == 2 then return NUMBERS[rnd(#NUMBERS)]
  elseif k == 3 then return ({ "true", "false", "null" })[rnd(3)]
  elseif k == 4 then return STRINGS[rnd(#STRINGS)]
  elseif k == 5 then return NUMBERS[rnd(#NUMBERS)]
  elseif k == 6 then
    local t = {}
    for i = 1, rnd(4) - 1 do t[i] = value(rnd, depth + 1) end
    return "[" .. table.concat(t, ",") .. "]"
  end
  local t = {}
  for i = 1, rnd(4) - 1 do t[i] = '"k' .. rnd(5) .. '":' .. value(rnd, depth + 1) end
  return "{" .. table.concat(t, ",") .. "}"
end

local function measure(rnd)
  return ('{"value":%s,"unit":%s}'):format(NUMBERS[rnd(#NUMBERS)], STRINGS[rnd(3)])
end

local function unit(rnd)
  local f = {
    '"reference":' .. STRINGS[rnd(#STRINGS)],
    '"pswId":' .. (rnd(4) == 1 and "null" or '"CNI0001012610"'),
    '"measures":{"quantity":' .. ({ "1", "null", "2.0", "7" })[rnd(4)] ..
      ',"weight":{"tare":' .. measure(rnd) .. ',"grossWeight":' .. measure(rnd) ..
      '},"volume":' .. measure(rnd) .. '}',
    '"indicators":{"hazardous":' .. ({ "true", "false", "null" })[rnd(3)] .. ',"reefer":false}',
    '"references":' .. ({ "[]", "null", '[{"type":"BL","value":"X1"}]' })[rnd(3)],
    '"temperatures":{"setPoint":' .. ({ "null", "-18", "-0.5", "4" })[rnd(4)] .. '}',
    '"transport":{"meansName":"EVER ARM","mode":1,"voyageDates":{"eta":' .. STRINGS[3] ..
      '},"meansId":[{"type":"IMONumber","name":"9936927"}]}',
  }
  local events = {}
  for i = 1, rnd(5) - 1 do
    events[i] = ('{"eventType":"%s","eventDate":%s,"eventTransportMode":%s}'):format(
      ({ "DIS", "LOA", "GTO" })[rnd(3)], STRINGS[3], ({ "1", "2", "null" })[rnd(3)])
  end
  f[#f + 1] = '"events":[' .. table.concat(events, ",") .. "]"
  if rnd(3) == 1 then f[#f + 1] = '"extra":' .. value(rnd, 0) end
  -- the schema's order, mostly
  if rnd(4) == 1 then
    local i, j = rnd(#f), rnd(#f)
    f[i], f[j] = f[j], f[i]
  end
  return "{" .. table.concat(f, ",") .. "}"
end

local function page(rnd)
  local items = {}
  for i = 1, rnd(4) - 1 do items[i] = unit(rnd) end
  local ws = ({ "", " ", "\n  ", "\t" })[rnd(4)]
  return ('{"total":%d,%s"returned":%d,"first":0,"items":[%s]%s}%s'):format(
    rnd(500), ws, #items, table.concat(items, "," .. ws), rnd(5) == 1 and ',"x":' .. value(rnd, 0) or "",
    ws)
end

-- One byte changed, removed, doubled or inserted.
local function mutate(rnd, body)
  local at = rnd(#body)
  local k = rnd(4)
  local byte = string.char(({ 0, 9, 11, 34, 44, 45, 48, 58, 91, 92, 93, 123, 125, 128, 255 })[rnd(15)])
  if k == 1 then return body:sub(1, at - 1) .. byte .. body:sub(at + 1)
  elseif k == 2 then return body:sub(1, at - 1) .. body:sub(at + 1)
  elseif k == 3 then return body:sub(1, at) .. body:sub(at)
  end
  return body:sub(1, at - 1) .. byte .. body:sub(at)
end

describe("soget.decode's parsers", function()
  it("agree on bodies written at the edges of JSON and of the schema", function()
    for _, body in ipairs(BODIES) do agree(body) end
  end)

  it("agree on the fixture's page and on every fuzz input, and simdjson alone decodes the page",
    function()
      local _, fast = agree(S.read_file("spec/fixtures/page.json"))
      assert.is_true(fast)
      local n = 0
      for _, dir in ipairs { "spec/fuzz/corpus/decode", "spec/fuzz/regressions/decode" } do
        for name in io.popen("ls " .. dir):lines() do
          agree(S.read_file(dir .. "/" .. name))
          n = n + 1
        end
      end
      assert.is_true(n > 5)
    end)

  it("agree on 300 pages made from the schema, which simdjson alone decodes, and on 1,500 mutations",
    function()
      local rnd = generator(20261202)
      local pages, fast = 0, 0
      for _ = 1, 300 do
        local body = page(rnd)
        local p, f = agree(body)
        if p ~= nil then pages = pages + 1 end
        if f then fast = fast + 1 end
        -- simdjson leaves -0 and surrogate escapes to libyajl
        if p ~= nil and not body:find("\\ud83d", 1, true) then
          assert(f, "simdjson alone did not decode " .. body:sub(1, 200))
        end
        for _ = 1, 5 do agree(mutate(rnd, body)) end
      end
      assert.is_true(pages > 250)
      assert.is_true(fast > 100)
    end)

  it("build the same page whether the schema's keys come from the builder's upvalues or the stack",
    function()
      -- A small body's keys are pushed from the builder's upvalues, a large
      -- one's copied to the stack first (decode.c, KEYS_ON_STACK): the
      -- same body padded with white space to 64 KB takes the second way.
      local rnd = generator(20261203)
      local pad = string.rep(" ", 65536)
      local small, compared, failed = 0, 0, 0
      for _ = 1, 200 do
        local body = page(rnd)
        if #body < 4096 then small = small + 1 end
        for k = 0, 2 do
          local b = k == 0 and body or mutate(rnd, body)
          local p, err = soget.decode(b)
          local q, qerr = soget.decode(b .. pad)
          if p ~= nil then
            assert(q ~= nil, tostring(qerr))
            local ok, why = same(p, q)
            assert(ok, why)
            compared = compared + 1
          elseif err.message:find(": expected ", 1, true) then
            -- a schema error names its path, wherever the body ends
            assert(q == nil)
            assert.are.equal(err.message, qerr.message)
            failed = failed + 1
          end
        end
      end
      assert.is_true(small > 100, "small bodies: " .. small)
      assert.is_true(compared > 200, "pages compared: " .. compared)
      assert.is_true(failed > 5, "schema errors compared: " .. failed)
    end)

  it("keep working when the module is loaded again in the same state", function()
    -- the builder is made once per state: a second require keeps it, and
    -- pages of both sizes decode the same through either module table
    local script = [[
      local soget = require "soget"
      local small = '{"total":1,"items":[{"reference":"MSCU1234565","events":[]}]}'
      local large = small:sub(1, -2) .. string.rep(" ", 8192) .. "}"
      local a = assert(soget.decode(small))
      package.loaded.soget = nil
      local again = require "soget"
      assert(again ~= soget)
      for _, m in ipairs { soget, again } do
        for _, body in ipairs { small, large } do
          local p = assert(m.decode(body))
          assert(p.items[1].reference == a.items[1].reference)
          assert(#p.items[1].events == 0 and p.total == 1)
        end
      end
      print("ok")]]
    local out = S.popen_read(S.lua .. " -e " .. S.shell_quote("package.cpath=" ..
      string.format("%q", package.cpath) .. ";" .. script) .. " 2>&1")
    assert.are.equal("ok", out:match("^(%S+)%s*$"), out)
  end)

  it("decode with simdjson amid another decode too (a finalizer's), the outer one unharmed", function()
    -- the state's one simdjson parser is the outer decode's: a decode amid
    -- it gets one of its own, where it left the body to libyajl (and
    -- parser = "simdjson" said simdjson had refused it). In a fresh state,
    -- small enough for a collector that runs a whole cycle at nearly every
    -- allocation: objects let go of just before each decode have their
    -- finalizers run amid it.
    local script = [[
      local soget = require "soget"
      local f = assert(io.open("spec/fixtures/page.json", "rb"))
      local body = f:read("*a")
      f:close()
      local want = soget.encode(assert(soget.decode(body, { parser = "yajl" })))
      local opts = { parser = "simdjson" }
      local amid, failed, outer = 0, 0, false
      local function on_gc(fn)
        if _VERSION == "Lua 5.1" then
          local p = newproxy(true)
          getmetatable(p).__gc = fn
          return p
        end
        return setmetatable({}, { __gc = fn })
      end
      local function finalizer()
        if not outer then return end
        amid = amid + 1
        local got, err = soget.decode(body, opts)
        if not got or soget.encode(got) ~= want then
          failed = failed + 1
          print(err and err.message or "another page")
        end
      end
      if _VERSION == "Lua 5.4" then collectgarbage("incremental") end
      for _ = 1, 3 do
        local holder = { on_gc(finalizer), on_gc(finalizer) }
        local pause = collectgarbage("setpause", 0)
        local mul = collectgarbage("setstepmul", 1000000)
        collectgarbage()   -- (a cycle ended under these settings: the next is due at once)
        outer = true
        holder[1], holder[2] = nil, nil
        local got, err = soget.decode(body, opts)
        outer = false
        collectgarbage("setpause", pause)
        collectgarbage("setstepmul", mul)
        assert(got, err and err.message)
        assert(soget.encode(got) == want, "the outer page")
      end
      collectgarbage()
      print(amid > 0 and failed == 0 and "ok" or ("amid " .. amid .. ", failed " .. failed))]]
    local out = S.popen_read(S.lua .. " -e " .. S.shell_quote("package.cpath=" ..
      string.format("%q", package.cpath) .. ";" .. script) .. " 2>&1")
    assert.are.equal("ok", out:match("(%S+)%s*$"), out)
  end)

  it("keep no string of a page alive once the page is gone", function()
    -- in a fresh state: earlier decodes here would hide what one keeps
    -- (the parser's buffers are kept, the strings the page holds are not)
    local script = [[
      local soget = require "soget"
      local function body(tag)
        local events = {}
        for i = 1, 1500 do
          events[i] = ('{"eventType":"%s%05d","eventPlace":"P%s%05d"}'):format(tag, i, tag, i)
        end
        return '{"total":1,"items":[{"events":[' .. table.concat(events, ",") .. ']}]}'
      end
      -- the parser's buffers, made once and kept for the next body
      local a, b = body("A"), body("B")
      assert(soget.decode(a))
      collectgarbage()
      collectgarbage()
      local before = collectgarbage("count")
      local p = assert(soget.decode(b))
      assert(p.items[1].events[1500].eventType == "B01500")
      p = nil
      collectgarbage()
      collectgarbage()
      print(collectgarbage("count") - before)]]
    local out = S.popen_read(S.lua .. " -e " .. S.shell_quote("package.cpath=" ..
      string.format("%q", package.cpath) .. ";" .. script) .. " 2>&1")
    local kept = tonumber(out:match("^(%-?[%d.]+)%s*$"))
    assert(kept, out)
    -- 3,000 strings of 6 and 7 bytes are about 50 KB
    assert.is_true(kept < 8, "KB kept: " .. out)
  end)

  it("take -0 in an integer field on the fast path, as the integer 0", function()
    local p, fast = agree('{"total":-0,"returned":-0,"first":0,"items":[{"events":[{"eventTransportMode":-0}]}]}')
    assert.is_true(fast)
    assert.are.equal(0, p.total)
    assert.are.equal(0, p.items[1].events[1].eventTransportMode)
    -- where a float may be made, the sign decides, and libyajl keeps it
    p, fast = agree('{"total":0,"items":[{"temperatures":{"setPoint":-0}}]}')
    assert.is_false(fast)
    assert.are.equal(-math.huge, 1 / p.items[1].temperatures.setPoint)
  end)

  it("say alike that an integer is past int32, and that a fraction is no integer", function()
    local past = " is past the int32 range the document gives it"
    for _, case in ipairs {
      { '{"total":2147483648}', "total: 2147483648" .. past },
      { '{"total":-2147483649,"items":[]}', "total: -2147483649" .. past },
      { '{"total":1,"items":[{"events":[{"eventTransportMode":4294967296}]}]}',
        "items[1].events[1].eventTransportMode: 4294967296" .. past },
      { '{"total":18446744073709551615}', "total: a number" .. past },
      { '{"total":1e400}', "total: a number" .. past },
      { '{"total":1.5}', "total: expected integer, got number" },
    } do
      assert.is_nil((agree(case[1])))
      for _, parser in ipairs { "auto", "yajl" } do
        local p, err = soget.decode(case[1], { parser = parser })
        assert.is_nil(p)
        assert.are.equal(case[2], err.message, parser .. ": " .. case[1])
      end
    end
  end)

  it("find a -0 wherever it lies in a long body full of dates, and only a -0", function()
    -- The scan for -0 (core/json.h) goes 32 bytes at a time where the CPU
    -- allows, and a '-' at a time over the last few: a -0 at each of 70
    -- places, before and after dates whose "-0" go on with a digit, in a
    -- float field (kept -0.0, through libyajl) and in an integer field
    -- (the integer 0).
    local date = '{"eventDate":"2024-06-09T14:00:00-01:00","place":"FRFOS"},'
    for shift = 0, 69 do
      local events = '"events":[' .. string.rep(date, 3 + shift % 4):sub(1, -2) .. ']'
      local head = '{"total":0,"items":[{"reference":"' .. string.rep("x", shift) .. '",'
      for _, t in ipairs { { head, ',' .. events .. '}]}' }, { head .. events .. ',', '}]}' } } do
        local before, after = t[1], t[2]
        local p, fast = agree(before .. '"temperatures":{"setPoint":-0}' .. after)
        assert.is_false(fast)
        assert.are.equal(-math.huge, 1 / p.items[1].temperatures.setPoint)
        p, fast = agree(before .. '"temperatures":{"setPoint":-0.5,"rangeMax":-0e1,"rangeMin":0}' .. after)
        assert.is_true(fast)
        assert.are.equal(-0.5, p.items[1].temperatures.setPoint)
        assert.are.equal(math.huge, 1 / p.items[1].temperatures.rangeMin)
        -- the scan does not know fields: an integer field's -0 sends a
        -- body with a float's 0 to libyajl too, which gives the integer 0
        p, fast = agree(before .. '"temperatures":{"setPoint":0}' .. after:sub(1, -3) ..
          ',{"events":[{"eventTransportMode":-0}]}]}')
        assert.is_false(fast)
        assert.are.equal(0, p.items[2].events[1].eventTransportMode)
      end
    end
  end)

  it("make no room ahead for more members than a body can hold (a body of empty objects)", function()
    -- 1 MB of "{}," as an array of events: libyajl gives no sizes, and each
    -- event was made with room for the schema's fields, 90 bytes of Lua
    -- memory for each byte of body; now as little as a page of real events
    -- needs, then growing as filled: about as much as simdjson's sizes give
    local n = 350000
    local body = '{"total":1,"items":[{"events":[' .. ("{},"):rep(n - 1) .. '{}]}]}'
    local grown = {}
    for _, parser in ipairs { "yajl", "simdjson" } do
      collectgarbage()
      collectgarbage()
      local before = collectgarbage("count")
      local p = assert(soget.decode(body, { parser = parser }))
      assert.are.equal(n, #p.items[1].events)
      grown[parser] = (collectgarbage("count") - before) * 1024
      p = nil -- luacheck: ignore 311
    end
    assert.truthy(grown.yajl < 1.5 * grown.simdjson,
      ("yajl %.0f bytes, simdjson %.0f bytes"):format(grown.yajl, grown.simdjson))
    -- a real page's objects still get their room: the same page either way
    local real = '{"total":1,"items":[{"reference":"R","pswId":"P","events":[{"eventType":"DIS",'
      .. '"eventDate":"2020-05-20T03:27:41+02:00","eventPlace":"FRLEH","eventWay":"In"}]}]}'
    assert.are.same(soget.decode(real, { parser = "simdjson" }), soget.decode(real, { parser = "yajl" }))
  end)

  it("refuse a parser they do not know, before any work", function()
    assert.has_error(function() soget.decode("{}", { parser = "cjson" }) end,
      'soget.decode: \'parser\' must be "auto", "yajl" or "simdjson"')
    -- a parser's name followed by a NUL and more is no parser's name
    assert.has_error(function() soget.decode("{}", { parser = "yajl\0junk" }) end,
      "soget.decode: 'parser' contains a NUL byte")
    assert.has_error(function() soget.decode("{}", { parser = 1 }) end)
    assert.has_error(function() soget.decode("{}", "yajl") end)
    -- a misspelt option is no silent default
    assert.has_error(function() soget.decode("{}", { parsr = "yajl" }) end,
      "soget.decode: unknown option 'parsr'")
    assert.has_error(function() soget.decode("{}", { "yajl" }) end)
    assert.is_not_nil(soget.decode('{"total":1}', { parser = "auto" }))
    assert.is_not_nil(soget.decode('{"total":1}', {}))
  end)
end)
