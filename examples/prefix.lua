-- Lists every handling unit whose reference starts with a prefix, fetching
-- pages lazily (10 units a request).
--   lua5.4 examples/prefix.lua [PREFIX]
local soget = require "soget"

local prefix = arg[1] or "MSCU"
-- a server's text, with whatever could act on the terminal made visible
local function text(v) return v == nil and "?" or soget.printable(tostring(v)) end
local client = soget.client()
local page = assert(client:handling_units{ reference = prefix, limit = 10 })
if soget.total_given(page) then
  print(("%d units match %s"):format(page.total, text(prefix)))
else   -- (the server sent no total: page.total is only first + returned)
  print(("units matching %s (the server gives no total)"):format(text(prefix)))
end
local n = 0
for hu in page:iter() do      -- raises the soget.Error if a later page fails
  n = n + 1
  local loc = hu.huLocation or {}
  print(("%4d  %-17s %-13s %-10s %s"):format(n, text(hu.reference), text(hu.pswId),
    text(hu.freightFamily), text(loc.place)))
end
print(("%d requests, %d token request(s), %d connection(s)"):format(
  client:stats().api_requests, client:stats().token_requests, client:stats().connections))
client:close()
