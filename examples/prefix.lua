-- Lists every handling unit whose reference starts with a prefix, fetching
-- pages lazily (10 units a request).
--   lua5.4 examples/prefix.lua [PREFIX]
local soget = require "soget"

local prefix = arg[1] or "MSCU"
local client = soget.client()
local page = assert(client:handling_units{ reference = prefix, limit = 10 })
print(("%d units match %s"):format(page.total, prefix))
local n = 0
for hu in page:iter() do      -- raises the soget.Error if a later page fails
  n = n + 1
  local loc = hu.huLocation or {}
  print(("%4d  %-17s %-13s %-10s %s"):format(n, hu.reference or "?", hu.pswId or "?",
    hu.freightFamily or "?", loc.place or "?"))
end
print(("%d requests, %d token request(s), %d connection(s)"):format(
  client:stats().api_requests, client:stats().token_requests, client:stats().connections))
client:close()
