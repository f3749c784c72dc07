-- Fuzz driver: the response decoder. Any bytes go to soget.decode, which
-- must answer a page or nil plus a "decode" error, never raise, and whose
-- pages keep the promises of the README's "Results" section.
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

return function(body)
  local page, err = soget.decode(body)
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
