-- A hostile API server for the CLI specs: an nginx of its own (the
-- sandbox's nginx and Lua module) on a free 127.0.0.1 port, plain HTTP, one
-- worker, answering every request with a handler the spec gives as Lua
-- source. Each request is logged (method, path, query, Authorization
-- header) for the spec to count. Stopped by its PID. Not a spec itself.
--
--   local srv = hostile.start()
--   srv:handle [[ return function(req) return 200, '{"total":0}' end ]]
--   -- req: method, path, args (the query, decoded), n (requests to this
--   -- path since handle()), count (all requests since handle())
--   -- returns: status, body[, content type (default application/json)]
--   srv.url, srv:requests(), srv:stop()
local cjson = require "cjson"
local support = require "support"

local M = {}
local q = support.shell_quote

local NGINX = os.getenv("SOGET_SANDBOX_NGINX")
  or (support.popen_read("command -v nginx || echo /usr/sbin/nginx"):gsub("%s+$", ""))
local MODULES = os.getenv("SOGET_SANDBOX_NGINX_MODULES") or "/usr/lib/nginx/modules"

local function ok(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local write = support.write_file

local ports = require "ports"
local free_port = ports.free_port

-- Runs inside nginx (LuaJIT): loads the handler when its version changes,
-- logs the request, answers.
local SERVER_LUA = [==[
local cjson = require "cjson"
local M = {}
local DIR = __DIR__
local version, handler, counts, count

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.serve()
  local v = read(DIR .. "/version")
  if v ~= version then
    version, counts, count = v, {}, 0
    handler = dofile(DIR .. "/handler.lua")
  end
  ngx.req.read_body()
  local path = ngx.var.uri
  counts[path] = (counts[path] or 0) + 1
  count = count + 1
  local log = io.open(DIR .. "/requests.log", "ab")
  log:write(cjson.encode({ method = ngx.req.get_method(), path = path,
    query = ngx.var.args or "", authorization = ngx.var.http_authorization or "" }), "\n")
  log:close()
  local ok, status, body, ctype = pcall(handler, { method = ngx.req.get_method(), path = path,
    args = ngx.req.get_uri_args(), n = counts[path], count = count })
  if not ok then
    ngx.log(ngx.ERR, "hostile handler: ", tostring(status))
    status, body, ctype = 599, "handler failed", "text/plain"
  end
  ngx.status = status
  ngx.header["Content-Type"] = ctype or "application/json"
  ngx.print(body or "")
end

return M
]==]

local Server = {}
Server.__index = Server

function M.start()
  local dir = support.popen_read("mktemp -d \"${TMPDIR:-/tmp}/soget-hostile.XXXXXX\""):gsub("%s+$", "")
  assert(dir:match("^/"), "mktemp failed")
  assert(not dir:find("[\"'\\;{}$%s]"), "unusable directory name: " .. dir)
  assert(ok("mkdir -p " .. q(dir .. "/tmp")))
  write(dir .. "/hostile_server.lua", (SERVER_LUA:gsub("__DIR__", function() return ("%q"):format(dir) end)))
  write(dir .. "/handler.lua", "return function() return 404, '{}' end\n")
  write(dir .. "/version", "0")
  local user = support.popen_read("id -u"):match("^0%s") and "user root root;" or ""
  local s = setmetatable({ dir = dir, version = 0 }, Server)
  for _ = 1, 5 do
    local port = free_port()
    write(dir .. "/nginx.conf", table.concat({
      user,
      "worker_processes 1;",
      "daemon on;",
      'pid "' .. dir .. '/nginx.pid";',
      'error_log "' .. dir .. '/error.log" warn;',
      'load_module "' .. MODULES .. '/ndk_http_module.so";',
      'load_module "' .. MODULES .. '/ngx_http_lua_module.so";',
      "events { worker_connections 64; }",
      "http {",
      "  access_log off;",
      '  client_body_temp_path "' .. dir .. '/tmp/body";',
      '  proxy_temp_path "' .. dir .. '/tmp/proxy";',
      '  fastcgi_temp_path "' .. dir .. '/tmp/fastcgi";',
      '  uwsgi_temp_path "' .. dir .. '/tmp/uwsgi";',
      '  scgi_temp_path "' .. dir .. '/tmp/scgi";',
      '  lua_package_path "' .. dir .. '/?.lua;;";',
      "  server {",
      "    listen 127.0.0.1:" .. port .. ";",
      "    location / { content_by_lua_block { require(\"hostile_server\").serve() } }",
      "  }",
      "}",
    }, "\n") .. "\n")
    local started = ok("env -u LD_PRELOAD " .. q(NGINX) .. " -p " .. q(dir .. "/") .. " -c "
      .. q(dir .. "/nginx.conf") .. " -e " .. q(dir .. "/error.log") .. " >" .. q(dir .. "/start.log")
      .. " 2>&1")
    if started then
      s.url = "http://127.0.0.1:" .. port
      break
    end
    local log = support.read_file(dir .. "/start.log") .. support.read_file(dir .. "/error.log")
    if not log:find("Address already in use", 1, true) then
      ok("rm -rf " .. q(dir))
      error("nginx did not start:\n" .. log)
    end
  end
  assert(s.url, "nginx did not start: no free port")
  for _ = 1, 100 do
    s.pid = support.read_file(dir .. "/nginx.pid"):match("%d+")
    if s.pid and ok("curl -s -o /dev/null --max-time 1 " .. q(s.url .. "/ping")) then break end
    s.pid = nil
    ok("sleep 0.1")
  end
  if not s.pid then
    local log = support.read_file(dir .. "/error.log")
    s:stop()
    error("nginx did not answer within 10 s:\n" .. log)
  end
  ports.reap_with_caller(s.pid)
  return s
end

-- Answers every request from now on with the handler in `source` (Lua
-- returning function(req) -> status, body[, content type]); clears the log.
function Server:handle(source)
  write(self.dir .. "/handler.lua", source)
  write(self.dir .. "/requests.log", "")
  self.version = self.version + 1
  write(self.dir .. "/version", tostring(self.version))
end

-- The requests since the last handle(): {method, path, query, authorization}.
function Server:requests()
  local list = {}
  for line in support.read_file(self.dir .. "/requests.log"):gmatch("[^\n]+") do
    list[#list + 1] = cjson.decode(line)
  end
  return list
end

-- A Lua literal of a string, for handler sources.
function M.literal(s) return ("%q"):format(s) end

function Server:stop()
  local pid = self.pid or support.read_file(self.dir .. "/nginx.pid"):match("%d+")
  if pid then
    ok("kill -TERM " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not ok("kill -0 " .. pid .. " 2>/dev/null") then break end
      ok("sleep 0.1")
    end
  end
  self.pid = nil
  if self.dir:match("^/tmp/") or self.dir:match("soget%-hostile") then ok("rm -rf " .. q(self.dir)) end
end

return M
