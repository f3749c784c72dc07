-- Collects every text the abuse specs see soget produce (error messages,
-- tostring of errors, clients, pagers and calls, raised messages, the
-- output of subprocesses) so that each spec file can end by checking that
-- no secret appears in any of them. Secrets: the sandbox's client secret
-- and keys, and every token the sandbox issued since it started, in every
-- form soget sends them (support.secret_check).
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

-- Tokens a client held (c:token()): the sandbox's token log has every
-- token it issued; this adds tokens it did not (given to set_token).
local tokens, held, n = {}, {}, 0
function W.note_tokens(c)
  local tok = c and c:token()
  if tok and not held[tok] then
    held[tok], n = true, n + 1
    tokens["token " .. n .. " a client held"] = tok
  end
end

-- The final check of a spec file: every text against every secret in
-- every form soget sends it (S.secret_check), every token the sandbox
-- issued since it started included, not only those still held.
function W.check()
  assert(#W.texts > 0, "nothing was collected")
  local check = S.secret_check(tokens)
  for _, text in ipairs(W.texts) do
    local what = check(text)
    if what then
      error(what .. " leaked into a text (" .. #text .. " bytes, starting "
        .. ("%q"):format(text:sub(1, 40)) .. ")", 2)
    end
  end
  return #W.texts
end

return W
