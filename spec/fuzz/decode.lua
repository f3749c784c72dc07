-- Fuzz driver: the response decoder. Any bytes go to soget.decode, which
-- must answer a page or nil plus a "decode" error, never raise, and whose
-- pages keep the promises of the README's "Results" section. An object
-- body is decoded a second time down the lua-cjson path (see fallback):
-- both paths must give the same page, number subtypes and signs included,
-- or both an error.
local soget = require "soget"

local ARRAYS = { "references", "shipments", "events", "hazardousItems" }

-- No JSON null sentinel anywhere (a light userdata), and no deeper nesting
-- than a page can have under the decoder's depth limit.
local function no_null(v, depth)
  assert(depth <= 256, "nesting deeper than the decoder's limit")
  assert(type(v) ~= "userdata", "a JSON null reached the result")
  if type(v) == "table" then
    for k, x in next, v do
      assert(type(k) == "string" or math.type(k) == "integer", "odd key " .. tostring(k))
      no_null(x, depth + 1)
    end
  end
end

-- The same body with a member named by a raw tab and holding null: yajl
-- refuses a raw control character in a string, so the one-pass builder
-- hands the body to lua-cjson and the schema walk; the null leaves nothing
-- in the result. Only for bodies that start as an object.
local function fallback(body)
  local lead, rest = body:match("^([ \t\r\n]*){(.*)$")
  if not lead then return nil end
  return lead .. '{"\t":null' .. (rest:match("^[ \t\r\n]*}") and "" or ",") .. rest
end

local function same(a, b, where)
  assert(type(a) == type(b), where .. ": " .. type(a) .. " against " .. type(b))
  if type(a) == "number" then
    assert(math.type(a) == math.type(b), where .. ": " .. math.type(a) .. " against " .. math.type(b))
    assert(a == b or (a ~= a and b ~= b), where .. ": " .. tostring(a) .. " against " .. tostring(b))
    assert(a ~= 0 or 1 / a == 1 / b, where .. ": zeros of different signs")
  elseif type(a) == "table" then
    for k, v in next, a do same(v, b[k], where .. "." .. tostring(k)) end
    for k in next, b do assert(a[k] ~= nil, where .. "." .. tostring(k) .. ": only on one path") end
  else
    assert(a == b, where .. ": " .. tostring(a) .. " against " .. tostring(b))
  end
end

-- What an error says, to compare across the paths: invalid JSON (at a
-- position, which the added member moves), a type error (of a body with
-- several, the walk reports the first lua-cjson's table yields, and the
-- added member changes that table), or anything else word for word.
local function what_error(msg)
  if msg:find("is not valid JSON", 1, true) then return "invalid JSON" end
  if msg:find(": expected ", 1, true) then return "a type error" end
  return msg
end

local function both_paths(body, page, err)
  local variant = fallback(body)
  if not variant then return end
  local page2, err2 = soget.decode(variant)
  if page then
    assert(page2, "a page on one path, on the other: " .. tostring(err2))
    same(page, page2, "page")
  else
    assert(page2 == nil, "an error on one path, a page on the other: " .. err.message)
    assert(what_error(err.message) == what_error(err2.message), err.message .. " against " .. err2.message)
  end
end

return function(body)
  local page, err = soget.decode(body)
  both_paths(body, page, err)
  if page == nil then
    assert(type(err) == "table" and err.kind == "decode", "not a decode error: " .. tostring(err))
    assert(type(err.message) == "string" and #err.message > 0, "empty message")
    assert(tostring(err):find("^soget: decode: "), tostring(err))
    assert(err.retryable == false, "a decode error is not retryable")
    return
  end
  assert(err == nil, "a page and an error")
  for _, k in ipairs{ "total", "returned", "first" } do
    assert(math.type(page[k]) == "integer", k .. " is not an integer")
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
