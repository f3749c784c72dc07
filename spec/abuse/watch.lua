-- Collects every text the abuse specs see soget produce (error messages,
-- tostring of errors, clients, pagers and calls, raised messages, the
-- output of subprocesses) so that each spec file can end by checking that
-- no secret appears in any of them. Secrets: the sandbox's client secret
-- and API key, and every token the sandbox issued while the file ran.
local S = require "support"

local W = { texts = {} }

local function add(v)
  local t = W.texts
  t[#t + 1] = tostring(v)
  if type(v) == "table" then
    for k, x in pairs(v) do t[#t + 1] = tostring(k) .. "=" .. tostring(x) end
  end
end

-- W.see(...) records every value and passes them through.
function W.see(...)
  for i = 1, select("#", ...) do add((select(i, ...))) end
  return ...
end

-- W.pcall(f, ...) records what f returned or raised.
function W.pcall(f, ...)
  return W.see(pcall(f, ...))
end

-- Tokens issued so far, as the sandbox's request log shows them.
local tokens = {}
function W.note_tokens(c)
  local tok = c and c:token()
  if tok then tokens[tok] = true end
end

function W.secrets()
  local list = { S.client_secret, S.api_key }
  for tok in pairs(tokens) do list[#list + 1] = tok end
  return list
end

-- The final check of a spec file.
function W.check()
  assert(#W.texts > 0, "nothing was collected")
  for _, text in ipairs(W.texts) do
    for _, secret in ipairs(W.secrets()) do
      if text:find(secret, 1, true) then
        error("a secret leaked into: " .. text, 2)
      end
    end
  end
  return #W.texts
end

return W
