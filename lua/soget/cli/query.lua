-- The query a command sends, from its arguments, checked by the module's
-- own rule (soget.check_query) before anything is sent.
local soget = require "soget"
local exit = require "soget.cli.exit"
local sys = require "soget.cli.sys"

local M = {}

-- q when the module takes it, else nil and why (its message without the
-- "handling_units: " it starts with).
function M.check(q)
  local ok, why = soget.check_query(q)
  if ok then return q end
  return nil, (why:gsub("^handling_units: ", ""))
end

-- The query for a reference (or --spi ID) argument: what names the
-- argument in messages ("a reference", "a prefix"); the fields of extra
-- (limit, desc) are added. A usage error when it is missing, given twice,
-- empty, or refused by the module.
function M.from_args(args, what, extra)
  local ref, spi = args.reference, args.spi
  if ref and spi then exit.fail(exit.USAGE, "give " .. what .. " or --spi, not both") end
  if not ref and not spi then exit.fail(exit.USAGE, "give " .. what .. " or --spi ID") end
  local q = {}
  if spi then q.spi = sys.trim(spi) else q.reference = sys.trim(ref) end
  if (q.spi or q.reference) == "" then
    exit.fail(exit.USAGE, "empty " .. (spi and "S)ONE id" or what))
  end
  for k, v in pairs(extra or {}) do q[k] = v end
  local ok, why = M.check(q)
  if not ok then exit.fail(exit.USAGE, why) end
  return q
end

-- The query as words: the reference, or "S)ONE id ...".
function M.text(q)
  if q.spi then return "S)ONE id " .. q.spi end
  return q.reference
end

return M
