-- Handling errors: wrong arguments raise at once; runtime failures return
-- nil plus a soget.Error table you can branch on.
--   lua5.4 examples/errors.lua
local soget = require "soget"

local client = soget.client{ retries = 2, timeout = 5 }

-- 1. A programming mistake raises before any request is sent.
local ok, msg = pcall(client.handling_units, client, { reference = "CGMU2436601", limit = 50 })
print("raised:", ok, msg)

-- 2. A runtime failure returns nil, err.
local function lookup(query)
  local page, err = client:handling_units(query)
  if page then
    return page.total == 0 and "not found" or ("found %d"):format(page.total)
  end
  if err.kind == "api" then                     -- the API refused the query (R002, R003)
    return ("refused by the API: %s (%s)"):format(err.message, err.code or "-")
  elseif err.kind == "auth" then                -- credentials: fix configuration
    return "authentication failed: " .. err.message
  elseif err.retryable then                     -- network, timeout, 429/503...: try later
    return "temporary failure, try again later: " .. tostring(err)
  end
  return "failed: " .. tostring(err)           -- tls, decode, other http
end

print("CGMU2436601:", lookup{ reference = "CGMU2436601" })
print("ZZZZ0000000:", lookup{ reference = "ZZZZ0000000" })
print("spi CNI-1:  ", lookup{ spi = "CNI-1" })

-- 3. Iterators raise the same error object: catch it with pcall.
local page = assert(client:handling_units{ reference = "MSCU", limit = 10 })
local okk, err = pcall(function()
  for _ in page:iter{ max_pages = 2 } do end
end)
print("iteration:", okk and "complete" or tostring(err))
client:close()
