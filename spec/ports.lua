-- A 127.0.0.1 port for a server a spec or bench starts, from the
-- sandbox's own picker (sandbox/run port). Needs no module, so that every
-- runtime and the nginx starter can use it.
local M = {}

-- s quoted for sh.
local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.q = q

local RUN = (debug.getinfo(1, "S").source:match("^@(.*)spec/ports%.lua$") or "") .. "sandbox/run"

-- A port nothing listens on right now, none of `taken` (a list, optional).
function M.free_port(taken)
  local args = {}
  for i, p in ipairs(taken or {}) do args[i] = q(p) end
  local p = assert(io.popen("bash " .. q(RUN) .. " port " .. table.concat(args, " ")))
  local out = p:read("*a")
  p:close()
  return (assert(tonumber(out), "no free port"))
end

return M
