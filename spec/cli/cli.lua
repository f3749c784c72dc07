-- Runs bin/soget as a user would: a separate process with its own
-- environment, stdin, stdout, stderr and exit code, bounded in time. Also
-- drives it on a terminal under tmux. Not a spec itself (no _spec suffix).
local support = require "support"

local M = {}
local q = support.shell_quote
M.q = q
M.support = support
M.module_dir = os.getenv("SOGET_MODULE_DIR") or "build/lua5.4"
M.lua = os.getenv("SOGET_LUA") or os.getenv("LUA") or "lua5.4"

local sh = support.popen_read
M.sh = sh

function M.tmpdir()
  return (sh("mktemp -d"):gsub("%s+$", ""))
end

function M.rm(dir)
  if dir and dir:match("^/tmp/") then os.execute("rm -rf " .. q(dir)) end
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write(path, text, mode)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  if mode then os.execute("chmod " .. mode .. " " .. q(path)) end
end

function M.mode(path)
  return (sh("stat -c %a " .. q(path) .. " 2>/dev/null"):gsub("%s+$", ""))
end

-- The environment prefix: false unsets a variable.
local function env_prefix(env)
  local parts = { "env" }
  local keys = {}
  for k in pairs(env) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if env[k] == false then parts[#parts + 1] = "-u " .. k end
  end
  for _, k in ipairs(keys) do
    if env[k] ~= false then parts[#parts + 1] = k .. "=" .. q(env[k]) end
  end
  return table.concat(parts, " ")
end

-- The environment of a run: the sandbox's settings, the module from the
-- build tree, private config and cache folders under `home`.
function M.env(home, extra)
  local env = {
    LUA_CPATH = M.module_dir .. "/?.so;;",
    XDG_CACHE_HOME = home .. "/cache", XDG_CONFIG_HOME = home .. "/config",
    NO_COLOR = false, SOGET_PROFILE = false, SOGET_PROFILES = false,
    SOGET_ACCESS_TOKEN = false, SOGET_MODULE_DIR = false,
  }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

-- A second local user for the specs that need one (we run as root).
M.AS_NOBODY = "setpriv --reuid=nobody --regid=nogroup --clear-groups"

-- The command line before bin/soget's arguments for a run in `home`: the
-- environment, and the interpreter under test.
function M.run_prefix(home, env)
  return env_prefix(M.env(home, env)) .. " " .. M.lua
end

-- run({"track", "X"}, {env = {...}, stdin = "text", home = dir})
-- -> {code, out, err}. Each run gets a fresh home unless one is given;
-- as_nobody = true runs the program as the user nobody; out = a path
-- (/dev/full) takes the standard output instead; sh = shell commands run
-- before, in the same shell ("umask 477;", "ulimit -f 0;").
function M.run(argv, opts)
  opts = opts or {}
  local own_home = not opts.home
  local home = opts.home or M.tmpdir()
  local work = M.tmpdir()
  local args = {}
  for i, a in ipairs(argv) do args[i] = q(a) end
  local input = "/dev/null"
  if opts.stdin then
    input = work .. "/stdin"
    M.write(input, opts.stdin)
  end
  local cmd = (opts.sh or "") .. env_prefix(M.env(home, opts.env)) .. " timeout " .. (opts.timeout or 30)
    .. " " .. (opts.as_nobody and (M.AS_NOBODY .. " " .. support.for_other_user(M.lua)) or M.lua)
    .. " bin/soget " .. table.concat(args, " ")
    .. " <" .. q(input) .. " >" .. q(opts.out or (work .. "/out")) .. " 2>" .. q(work .. "/err")
  local code = support.execute(cmd)
  local r = { code = code, out = M.read(work .. "/out") or "", err = M.read(work .. "/err") or "",
              home = home }
  M.rm(work)
  if own_home then M.rm(home) end
  return r
end

function M.lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

-- Splits a CSV line (quotes doubled inside quoted fields).
function M.csv(line)
  local fields, i = {}, 1
  while i <= #line + 1 do
    if line:sub(i, i) == '"' then
      local j, buf = i + 1, {}
      while true do
        local c = line:sub(j, j)
        if c == '"' then
          if line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"'; j = j + 2
          else j = j + 1 break end
        elseif c == "" then break
        else buf[#buf + 1] = c; j = j + 1 end
      end
      fields[#fields + 1] = table.concat(buf)
      i = j + 1
    else
      local j = line:find(",", i, true) or (#line + 1)
      fields[#fields + 1] = line:sub(i, j - 1)
      i = j + 1
    end
  end
  return fields
end

function M.sleep(s) os.execute("sleep " .. s) end

---------------------------------------------------------------------------
-- A terminal: a tmux server of its own (own socket), one session.

local Term = {}
Term.__index = Term

function M.term(home, extra_env)
  local t = setmetatable({}, Term)
  t.dir = M.tmpdir()
  -- (named after its folder, which is unique: two suites at once never
  -- share a tmux server)
  t.sock = "soget-cli-" .. t.dir:match("[^/]+$")
  t.home = home
  t.env = M.env(home, extra_env)
  for _, k in ipairs { "SOGET_BASE_URL", "SOGET_TOKEN_URL", "SOGET_CLIENT_ID",
                       "SOGET_CLIENT_SECRET", "SOGET_API_KEY", "SOGET_CA_FILE" } do
    if t.env[k] == nil then t.env[k] = os.getenv(k) end
  end
  t.n = 0
  local rc = os.execute("timeout 10 tmux -L " .. t.sock .. " -f /dev/null new-session -d -s cli"
    .. " -x 160 -y 50 " .. q("env -i PATH=/usr/bin:/bin HOME=" .. home
    -- no history file: bash would write one into home as the test removes it
    .. " HISTFILE= TERM=xterm-256color bash --norc --noprofile"))
  assert(rc, "tmux could not start")
  return t
end

function Term:tmux(args)
  return sh("timeout 10 tmux -L " .. self.sock .. " " .. args .. " 2>&1")
end

-- Types a command line that runs the program with the test environment,
-- then prints its exit code as "rc=N" after a marker of this command; returns
-- the pattern that matches that line.
function Term:type(argv, redirect)
  self.n = self.n + 1
  local args = {}
  for i, a in ipairs(argv) do args[i] = q(a) end
  local script = self.dir .. "/cmd" .. math.random(1, 1e6) .. ".sh"
  -- Bounded by a watchdog rather than timeout(1): timeout passes the
  -- terminal's SIGINT on to the program, which would then see Ctrl-C twice.
  M.write(script, "cd " .. q(sh("pwd"):gsub("%s+$", "")) .. "\n"
    .. "( trap '' INT; sleep 30; pkill -TERM -P $$ ) 2>/dev/null &\n"
    .. "watchdog=$!\n"
    .. env_prefix(self.env) .. " " .. M.lua .. " bin/soget "
    .. table.concat(args, " ") .. (redirect or "") .. "\n"
    .. "rc=$?\n"
    .. "kill $watchdog 2>/dev/null\n"
    .. "echo \"end" .. self.n .. " rc=$rc\"\n")
  self:tmux("send-keys -t cli " .. q("clear; bash " .. script) .. " Enter")
  return "end" .. self.n .. " rc=%d+"
end

-- Keeps the raw bytes the pane shows in a file (escape codes, \r...).
function Term:record()
  self.log = self.dir .. "/pane.log"
  self:tmux("pipe-pane -o -t cli " .. q("cat >> " .. self.log))
end

function Term:raw() return M.read(self.log) or "" end

function Term:screen(escapes)
  return self:tmux("capture-pane -p -J " .. (escapes and "-e " or "") .. "-t cli")
end

-- Waits (at most `limit` seconds) until the screen shows the pattern.
function Term:wait_for(pattern, limit)
  local deadline = os.time() + (limit or 30)
  repeat
    local s = self:screen(false)
    if s:find(pattern) then return s end
    M.sleep(0.2)
  until os.time() > deadline
  return nil, self:screen(false)
end

function Term:keys(k) self:tmux("send-keys -t cli " .. k) end

function Term:kill()
  self:tmux("kill-server")
  M.rm(self.dir)
end

return M
