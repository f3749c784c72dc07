-- Fuzz driver: the response decoder. Any bytes go to soget.decode, which
-- must answer a page or nil plus a "decode" error, never raise, and whose
-- pages keep the promises of the README's "Results" section. Its errors
-- have one of the shapes the decoder words, with positions inside the
-- body; a body it takes for a page is JSON to lua-cjson too. And its two
-- parsers agree: libyajl alone (parser = "yajl") gives the same page, or
-- the same message, as simdjson with libyajl behind it (the default).
local soget = require "soget"

local ARRAYS = { "references", "shipments", "events", "hazardousItems" }

-- The fuzzer runs Lua 5.4; spec/unit/decode_edges_spec.lua replays the
-- inputs on every runtime, and Lua 5.1, 5.2 and LuaJIT have no integer
-- subtype: there a whole number stands for an integer.
local mtype = math.type or function(x)
  if type(x) ~= "number" then return nil end
  return x == math.floor(x) and "integer" or "float"
end

-- No JSON null sentinel anywhere (a light userdata), and no deeper nesting
-- than a page can have under the decoder's depth limit.
local function no_null(v, depth)
  assert(depth <= 256, "nesting deeper than the decoder's limit")
  assert(type(v) ~= "userdata", "a JSON null reached the result")
  if type(v) == "table" then
    for k, x in next, v do
      assert(type(k) == "string" or mtype(k) == "integer", "odd key " .. tostring(k))
      no_null(x, depth + 1)
    end
  end
end

-- A second opinion on JSON: a lua-cjson instance of the fuzzer's own (soget
-- parses pages with libyajl alone). lua-cjson is laxer in places (it takes
-- a raw control character inside a string), never stricter on a body
-- soget takes: a page is always JSON lua-cjson reads too.
local cjson = require("cjson.safe").new()
cjson.decode_invalid_numbers(false)

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
  assert(msg:match("^[%w%.%[%]]+: expected %a+, got %a+$"), "an unknown error: " .. msg)
end

-- The same value: tables key by key, numbers of the same subtype and, for
-- zeros, sign.
local function same(a, b, path)
  assert(type(a) == type(b), path .. ": the parsers disagree on the type")
  if type(a) == "number" then
    assert(mtype(a) == mtype(b) and (a == b or (a ~= a and b ~= b)), path .. ": the parsers disagree")
    assert(a ~= 0 or 1 / a == 1 / b, path .. ": the parsers disagree on a zero's sign")
  elseif type(a) == "table" then
    for k, v in next, a do same(v, b[k], path .. "." .. tostring(k)) end
    for k in next, b do assert(a[k] ~= nil, path .. "." .. tostring(k) .. ": on one side only") end
  else
    assert(a == b, path .. ": the parsers disagree")
  end
end

return function(body)
  local page, err = soget.decode(body)
  local alone, aerr = soget.decode(body, { parser = "yajl" })
  if page == nil then
    assert(alone == nil, "libyajl alone decodes a body the default refuses")
    assert(aerr.message == err.message, "the parsers' messages differ")
  else
    assert(alone ~= nil, "libyajl alone refuses a page: " .. tostring(aerr))
    same(page, alone, "page")
  end
  if page == nil then
    assert(type(err) == "table" and err.kind == "decode", "not a decode error: " .. tostring(err))
    assert(type(err.message) == "string" and #err.message > 0, "empty message")
    assert(not err.message:find("%c"), "a control character in the message")
    assert(tostring(err):find("^soget: decode: "), tostring(err))
    assert(err.retryable == false, "a decode error is not retryable")
    error_shape(err.message, body)
    return
  end
  assert(err == nil, "a page and an error")
  assert(cjson.decode(body) ~= nil, "a page lua-cjson does not read as JSON")
  for _, k in ipairs{ "total", "returned", "first" } do
    assert(mtype(page[k]) == "integer", k .. " is not an integer")
  end
  assert(type(page.items) == "table", "items is not a table")
  for i = 1, #page.items do
    local hu = page.items[i]
    assert(type(hu) == "table", "an item is not a table")
    for _, a in ipairs(ARRAYS) do assert(type(hu[a]) == "table", a .. " is not a table") end
    if hu.transport ~= nil then assert(type(hu.transport.meansId) == "table", "meansId") end
  end
  no_null(page, 0)
  -- A decoded page has no client: iterating it yields its items, then ends.
  local n = 0
  for _ in page:iter() do
    n = n + 1
    assert(n <= #page.items, "the iterator yields more than the page holds")
  end
end
