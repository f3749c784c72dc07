-- A real forward proxy for the specs, and the tools around it (not a spec):
--
--   P.start{allow = "127.0.0.1", filter = {"pattern", ...}}
--       tinyproxy (Debian's tinyproxy-bin) on a free 127.0.0.1 port, with
--       its own configuration and log in a temporary directory: p.url,
--       p.port, p.pid, p:requests() (the request lines it logged),
--       p:log(), p:stop() (by PID)
--   P.relay(mode, target_port)
--       spec/integration/relay.lua (lua5.4, LuaSocket) in front of a port:
--       "record" keeps every byte clients send (r:bytes()) and drops every
--       connection on r:cut(), "tamper"
--       answers CONNECT itself and tunnels to the target whatever host was
--       asked, "stall" never completes a connection, "dns" is a DNS server
--       (UDP) that never answers, "dns-loopback" one that answers every
--       name with 127.0.0.1 (r:bytes(): a line "query NAME" for each
--       query); r.url, r.port, r:stop()
--   P.with_relay(mode, target_port, what, fn)
--       fn(relay), the relay stopped whatever fn raised; pending (no
--       `what`) without lua-socket
--   P.impostor(cert, key)
--       openssl s_server on a free 127.0.0.1 port with that certificate:
--       the server a tampering proxy would put in the real one's place
--
-- Every process is started by this module and stopped by its PID, and
-- ends by itself after a while if a spec dies first.
local S = require "support"

local M = {}
local q = S.shell_quote
local LIFETIME = 300   -- seconds: the longest any helper lives

local function sh(cmd) return S.execute(cmd) == 0 end

function M.tmpdir()
  local dir = S.popen_read("mktemp -d \"${TMPDIR:-/tmp}/soget-proxy.XXXXXX\""):gsub("%s+$", "")
  assert(dir:match("^/") and not dir:find("[\"'\\%s]"), "mktemp gave an unusable directory: " .. dir)
  return dir
end

local write = S.write_file

-- Starts a command in the background (stdin, stdout and stderr redirected):
-- its PID.
local function spawn(cmd, out)
  local pid = S.popen_read("timeout -s KILL " .. LIFETIME .. " " .. cmd .. " </dev/null >" .. q(out)
    .. " 2>&1 & echo $!"):match("%d+")
  return assert(tonumber(pid), "could not start: " .. cmd)
end

-- Whether PID runs (a zombie waiting for its parent counts as gone).
local function alive(pid)
  local stat = S.read_file("/proc/" .. pid .. "/stat")
  return stat ~= "" and not stat:match("^%d+ %b() Z")
end

-- Stops PID (and, as timeout(1) runs the command as its child, that child)
-- and waits at most 5 s until it is gone.
local function stop(pid)
  if not pid then return end
  local children = S.popen_read("cat /proc/" .. pid .. "/task/*/children 2>/dev/null")
  for child in children:gmatch("%d+") do sh("kill -KILL " .. child .. " 2>/dev/null") end
  sh("kill -KILL " .. pid .. " 2>/dev/null")
  for _ = 1, 50 do
    if not alive(pid) then
      for child in children:gmatch("%d+") do
        if alive(child) then sh("sleep 0.1") end
      end
      return
    end
    sh("sleep 0.1")
  end
  error("process " .. pid .. " did not stop")
end
M.kill = stop

-- The process timeout(1) runs: the command itself, whose PID a spec kills
-- to make the proxy die.
local function child_of(pid)
  for _ = 1, 50 do
    local c = S.popen_read("cat /proc/" .. pid .. "/task/*/children 2>/dev/null"):match("%d+")
    if c then return tonumber(c) end
    sh("sleep 0.05")
  end
  error("no child of " .. pid)
end

local free_port = require("ports").free_port

function M.available()
  return sh("command -v tinyproxy >/dev/null 2>&1")
    and sh("lua5.4 -e 'require \"socket\"' >/dev/null 2>&1")
end

---------------------------------------------------------------------------
-- tinyproxy

local Proxy = {}
Proxy.__index = Proxy

function M.start(opts)
  opts = opts or {}
  local p = setmetatable({ dir = M.tmpdir() }, Proxy)
  local conf = {
    "Listen 127.0.0.1",
    "Timeout 30",
    'LogFile "' .. p.dir .. '/tinyproxy.log"',
    "LogLevel Info",
    "MaxClients 32",
    "Allow " .. (opts.allow or "127.0.0.1"),
  }
  if opts.filter then
    write(p.dir .. "/filter", table.concat(opts.filter, "\n") .. "\n")
    conf[#conf + 1] = 'Filter "' .. p.dir .. '/filter"'
    conf[#conf + 1] = "FilterExtended Yes"
  end
  local why = ""
  for _ = 1, 5 do
    p.port = free_port()
    write(p.dir .. "/tinyproxy.conf", "Port " .. p.port .. "\n" .. table.concat(conf, "\n") .. "\n")
    os.remove(p.dir .. "/tinyproxy.log")
    p.timeout_pid = spawn("tinyproxy -d -c " .. q(p.dir .. "/tinyproxy.conf"), p.dir .. "/out")
    for _ = 1, 100 do
      if p:log():find("Accepting connections", 1, true) or not alive(p.timeout_pid) then break end
      sh("sleep 0.05")
    end
    if p:log():find("Accepting connections", 1, true) then
      p.pid = child_of(p.timeout_pid)
      p.url = "http://127.0.0.1:" .. p.port
      return p
    end
    stop(p.timeout_pid)
    -- a port taken meanwhile (another suite's server): try another
    why = p:log() .. S.read_file(p.dir .. "/out")
    if not (why:find("in use", 1, true) or why:find("Could not create listening sockets", 1, true)) then
      break
    end
  end
  p:stop()
  error("tinyproxy did not start:\n" .. why)
end

function Proxy:log() return S.read_file(self.dir .. "/tinyproxy.log") end

-- The request lines tinyproxy logged ("CONNECT 127.0.0.1:443 HTTP/1.1").
function Proxy:requests()
  local t = {}
  for line in self:log():gmatch("[^\n]+") do
    t[#t + 1] = line:match("Request %(file descriptor %d+%): (.*)$")
  end
  return t
end

function Proxy:stop()
  stop(self.timeout_pid)
  self.timeout_pid, self.pid = nil, nil
  if self.dir:match("^/") then sh("rm -rf " .. q(self.dir)) end
end

---------------------------------------------------------------------------
-- the relay and the impostor

local Helper = {}
Helper.__index = Helper

local function wait_file(path, pid, what)
  for _ = 1, 100 do
    local s = S.read_file(path)
    if s ~= "" then return s end
    if not alive(pid) then break end
    sh("sleep 0.05")
  end
  error(what .. " did not start")
end

function M.relay(mode, target)
  local r = setmetatable({ dir = M.tmpdir() }, Helper)
  r.timeout_pid = spawn("lua5.4 spec/integration/relay.lua " .. mode .. " " .. q(r.dir .. "/port")
    .. " " .. (target or "-") .. " " .. q(r.dir .. "/bytes") .. " " .. LIFETIME, r.dir .. "/out")
  local ok, port = pcall(wait_file, r.dir .. "/port", r.timeout_pid, "the relay")
  if not ok then
    local out = S.read_file(r.dir .. "/out")
    r:stop()
    error(port .. ":\n" .. out)
  end
  r.port = tonumber(port)
  r.url = "http://127.0.0.1:" .. r.port
  return r
end

-- Runs fn(relay) with a relay in `mode` (in front of the port `target`),
-- stopped by PID whatever fn raised; pending, saying what the spec lacks
-- (`what`), where lua-socket is not installed.
function M.with_relay(mode, target, what, fn)
  if not M.available() then
    return pending("lua-socket is not installed (make deps): no " .. what)
  end
  local relay = M.relay(mode, target)
  local ok, err = pcall(fn, relay)
  relay:stop()
  -- (raised again as it is: a failed assertion's table too, which Lua
  -- 5.1's assert would not take as its message)
  if not ok then error(err, 0) end
end

-- Every byte clients sent through the relay so far.
function Helper:bytes() return S.read_file(self.dir .. "/bytes") end

-- Closes every connection the relay carries (as a network dropping them
-- would), and returns once it did.
function Helper:cut()
  write(self.dir .. "/port.cut", "")
  for _ = 1, 100 do
    local f = io.open(self.dir .. "/port.cut", "rb")
    if not f then return end
    f:close()
    sh("sleep 0.05")
  end
  error("the relay did not cut its connections")
end

function Helper:stop()
  stop(self.timeout_pid)
  self.timeout_pid = nil
  if self.dir:match("^/") then sh("rm -rf " .. q(self.dir)) end
end

-- A certificate for subject_alt_name ("IP:127.0.0.1", "DNS:localhost"),
-- self-signed or signed by the CA whose files are given: cert, key paths.
function M.certificate(dir, name, san, ca_cert, ca_key)
  local base = dir .. "/" .. name
  local cmd
  if ca_cert then
    cmd = "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "
      .. q(base .. ".key") .. " -out " .. q(base .. ".csr") .. " -subj /CN=impostor && "
      .. "printf 'subjectAltName=%s\\n' " .. q(san) .. " > " .. q(base .. ".ext") .. " && "
      .. "openssl x509 -req -in " .. q(base .. ".csr") .. " -CA " .. q(ca_cert) .. " -CAkey "
      .. q(ca_key) .. " -CAcreateserial -CAserial " .. q(base .. ".srl") .. " -days 2 -out "
      .. q(base .. ".pem") .. " -extfile " .. q(base .. ".ext")
  else
    cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "
      .. q(base .. ".key") .. " -out " .. q(base .. ".pem") .. " -days 2 -subj /CN=impostor"
      .. " -addext " .. q("subjectAltName=" .. san)
  end
  assert(sh("(" .. cmd .. ") >" .. q(base .. ".log") .. " 2>&1"),
    "openssl failed: " .. S.read_file(base .. ".log"))
  return base .. ".pem", base .. ".key"
end

function M.impostor(cert, key)
  local r = setmetatable({ dir = M.tmpdir() }, Helper)
  r.timeout_pid = spawn("openssl s_server -www -accept 127.0.0.1:0 -cert " .. q(cert)
    .. " -key " .. q(key), r.dir .. "/out")
  for _ = 1, 100 do
    r.port = tonumber(S.read_file(r.dir .. "/out"):match("ACCEPT 127%.0%.0%.1:(%d+)"))
    if r.port or not alive(r.timeout_pid) then break end
    sh("sleep 0.05")
  end
  if not r.port then
    local out = S.read_file(r.dir .. "/out")
    r:stop()
    error("openssl s_server did not start:\n" .. out)
  end
  return r
end

return M
