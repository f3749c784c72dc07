-- Fuzz driver: the response decoder. Any bytes go to soget.decode, which
-- must answer a page or nil plus a "decode" error, never raise, and whose
-- pages keep the promises of the README's "Results" section. Its errors
-- have one of the shapes the decoder words, with positions inside the
-- body; a body it takes for a page is JSON to lua-cjson too. And its two
-- parsers agree: libyajl alone (parser = "yajl") gives the same page, or
-- the same message, as simdjson with libyajl behind it (the default).
--
-- The checks cost little beside the two decodes (the fuzzer's throughput
-- is the point): one walk compares the two pages and checks their keys,
-- nulls and depth at once, and a message is only built for a failure.
local soget = require "soget"

local type, next, tostring, error = type, next, tostring, error

local ARRAYS = { "references", "shipments", "events", "hazardousItems" }

-- The fuzzer runs Lua 5.4; spec/unit/fuzz_inputs_spec.lua replays the
-- inputs on every runtime, and Lua 5.1, 5.2 and LuaJIT have no integer
-- subtype: there a whole number stands for an integer.
local mtype = math.type or function(x)
  if type(x) ~= "number" then return nil end
  return x == math.floor(x) and "integer" or "float"
end

-- A second opinion on JSON: a lua-cjson instance of the fuzzer's own.
-- lua-cjson is laxer in places (it takes a raw control character inside a
-- string), never stricter on a body soget takes: a page is always JSON
-- lua-cjson reads too.
local cjson = require("cjson.safe").new()
cjson.decode_invalid_numbers(false)

-- The path of the walk below, joined only when something fails.
local path, depth = {}, 0

local function fail(what)
  local parts = { "page" }
  for i = 1, depth do parts[#parts + 1] = tostring(path[i]) end
  error(table.concat(parts, ".") .. ": " .. what, 2)
end

-- a (the default parser's) and b (libyajl's) are the same value: tables
-- key by key, numbers of the same subtype and, for zeros, sign. On the
-- way: no JSON null sentinel (a light userdata), keys strings or integers,
-- no deeper nesting than the decoder's limit allows.
local function same(a, b)
  local ta = type(a)
  if ta ~= type(b) then fail("the parsers disagree on the type") end
  if ta == "table" then
    if depth >= 256 then fail("nesting deeper than the decoder's limit") end
    depth = depth + 1
    for k, v in next, a do
      path[depth] = k
      local tk = type(k)
      if tk ~= "string" and mtype(k) ~= "integer" then fail("an odd key") end
      same(v, b[k])
    end
    for k in next, b do
      if a[k] == nil then path[depth] = k; fail("on one side only") end
    end
    depth = depth - 1
  elseif ta == "number" then
    if mtype(a) ~= mtype(b) then fail("the parsers disagree on the subtype") end
    if a ~= b and (a == a or b == b) then fail("the parsers disagree") end
    if a == 0 and 1 / a ~= 1 / b then fail("the parsers disagree on a zero's sign") end
  elseif ta == "userdata" then
    fail("a JSON null reached the result")
  elseif a ~= b then
    fail("the parsers disagree")
  end
end

-- What an error may say (src/lua/decode.c): each shape, and where a
-- position is given, a byte of the body or just past its end.
local function error_shape(msg, body)
  local at = msg:match("^response body is not valid JSON: .+ at character (%d+)$")
    or msg:match("^.+: not valid JSON: an unpaired UTF%-16 surrogate \\u%x%x%x%x.- at character (%d+)$")
    or msg:match("^response body is nested too deep: more than 200 arrays and objects at character (%d+)$")
  if at then
    at = tonumber(at)
    assert(at >= 1 and at <= #body + 1, "a position out of the body: " .. msg)
    if msg:find("surrogate", 1, true) then
      assert(body:sub(at, at + 1):lower() == "\\u", "the position is not the escape's: " .. msg)
    end
    return
  end
  if msg == "response body is not a page: none of total, returned, first, items" then return end
  -- a whole number past an integer field's int32 range: the number when
  -- exact (below 10^15), else "a number"
  local past = msg:match("^[%w%.%[%]]+: (.-) is past the int32 range the document gives it$")
  if past then
    local n = tonumber(past)
    assert(past == "a number" or (past:match("^%-?%d+$") and (n > 2147483647 or n < -2147483648)
      and math.abs(n) < 1e15), "an odd number past int32: " .. msg)
    return
  end
  assert(msg:match("^[%w%.%[%]]+: expected %a+, got %a+$"), "an unknown error: " .. msg)
end

return function(body)
  local page, err = soget.decode(body)
  local alone, aerr = soget.decode(body, { parser = "yajl" })
  if page == nil then
    assert(alone == nil, "libyajl alone decodes a body the default refuses")
    assert(type(err) == "table" and err.kind == "decode", "not a decode error")
    local msg = err.message
    if aerr.message ~= msg then error("the parsers' messages differ") end
    assert(type(msg) == "string" and #msg > 0, "empty message")
    assert(not msg:find("%c"), "a control character in the message")
    assert(tostring(err):find("^soget: decode: "), "tostring")
    assert(err.retryable == false, "a decode error is not retryable")
    error_shape(msg, body)
    return
  end
  if alone == nil then error("libyajl alone refuses a page: " .. tostring(aerr)) end
  assert(err == nil, "a page and an error")
  depth = 0
  same(page, alone)
  if cjson.decode(body) == nil then error("a page lua-cjson does not read as JSON") end
  if mtype(page.total) ~= "integer" then error("total is not an integer") end
  if mtype(page.returned) ~= "integer" then error("returned is not an integer") end
  if mtype(page.first) ~= "integer" then error("first is not an integer") end
  local items = page.items
  if type(items) ~= "table" then error("items is not a table") end
  for i = 1, #items do
    local hu = items[i]
    if type(hu) ~= "table" then error("an item is not a table") end
    for j = 1, #ARRAYS do
      if type(hu[ARRAYS[j]]) ~= "table" then error(ARRAYS[j] .. " is not a table") end
    end
    if hu.transport ~= nil and type(hu.transport.meansId) ~= "table" then error("meansId") end
  end
  -- A decoded page has no client: iterating it yields its items, then ends.
  local n = 0
  for _ in page:iter() do
    n = n + 1
    if n > #items then error("the iterator yields more than the page holds") end
  end
end
