-- A 127.0.0.1 port for a server a spec or bench starts. Needs no module,
-- so that every runtime and the nginx starter can use it.
local M = {}

-- s quoted for sh.
local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.q = q

-- A port nothing listens on right now, none of `taken` (a list, optional).
-- Drawn from 20000-31999: below Linux's ephemeral range (32768-60999), so
-- an outgoing connection cannot take it between this check and the bind.
function M.free_port(taken)
  local script = [[
for i in $(seq 1 200); do
  p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
  case " $0 " in *" $p "*) continue ;; esac
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; exit 0; fi
done
exit 1]]
  local p = assert(io.popen("bash -c " .. q(script) .. " " .. q(table.concat(taken or {}, " "))))
  local out = p:read("*a")
  p:close()
  return assert(tonumber(out), "no free port")
end

return M
