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

-- This Lua process's id (the shell's parent).
local function my_pid()
  local p = assert(io.popen("echo $PPID"))
  local out = p:read("*a")
  p:close()
  return (assert(tonumber(out), "no process id"))
end

-- Stops the server of process id `pid` (SIGTERM) when this Lua process
-- ends without stopping it (a spec run killed or crashed): a watcher,
-- detached, that looks once a second and goes away with either process.
function M.reap_with_caller(pid)
  pid = assert(tonumber(pid), "a process id")
  local watch = ("while kill -0 %d 2>/dev/null; do kill -0 %d 2>/dev/null || exit 0; sleep 1; done; "
    .. "kill -TERM %d 2>/dev/null"):format(my_pid(), pid, pid)
  local ok = os.execute("env -u LD_PRELOAD setsid sh -c " .. q(watch) .. " </dev/null >/dev/null 2>&1 &")
  assert(ok == true or ok == 0, "could not start the watcher")
end

return M
