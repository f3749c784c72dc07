-- Starts an nginx of its own for the OpenResty driver's specs and bench:
-- examples/openresty/nginx.conf, pointed at the sandbox (its CA, free
-- ports, a temp prefix, the sandbox's URLs with the host name localhost,
-- which its certificate names), plus a second server with the blocking
-- libcurl path. Talks to it with the curl command line only.
-- Works under any Lua (no modules needed).
local M = {}
local ports = require "ports"

local q = ports.q
M.q = q

local function read(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

local function ok(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local function file(path, mode, data)
  local f = assert(io.open(path, mode))
  if data then f:write(data); f:close(); return end
  local s = f:read("*a")
  f:close()
  return s
end

M.root = (os.getenv("SOGET_ROOT") or read("pwd")):gsub("%s+$", "")
local NGINX = os.getenv("SOGET_SANDBOX_NGINX")
  or (read("command -v nginx || echo /usr/sbin/nginx"):gsub("%s+$", ""))
local MODULES = os.getenv("SOGET_SANDBOX_NGINX_MODULES") or "/usr/lib/nginx/modules"
local SANDBOX_DIR = os.getenv("SOGET_SANDBOX_DIR") or ""
local MODULE_DIR = os.getenv("SOGET_NGX_MODULE_DIR") or (M.root .. "/build/luajit")
local CJSON_DIR = os.getenv("SOGET_NGX_CJSON_DIR") or "/usr/lib/x86_64-linux-gnu/lua/5.1"

-- build/luajit/soget.so, brought up to date (make is incremental). A
-- failed build is fatal only when there is no module at all.
function M.ensure_module()
  local built = ok("cd " .. q(M.root) .. " && env -u LD_PRELOAD -u MAKEFLAGS -u MAKELEVEL "
    .. "make --no-print-directory LUA_VERSION=jit BUILD_DIR=build/luajit >/dev/null 2>&1")
  if io.open(MODULE_DIR .. "/soget.so") then
    if not built then
      io.stderr:write("openresty: make LUA_VERSION=jit failed; using the existing module\n")
    end
    return
  end
  error("make LUA_VERSION=jit failed and there is no " .. MODULE_DIR .. "/soget.so")
end

local free_port = ports.free_port
M.free_port = free_port

-- Replaces `from` (exactly once) in the example's text.
local function swap(text, from, to)
  local a, b = text:find(from, 1, true)
  assert(a, "examples/openresty/nginx.conf no longer has: " .. from)
  assert(not text:find(from, b + 1, true), "twice in examples/openresty/nginx.conf: " .. from)
  return text:sub(1, a - 1) .. to .. text:sub(b + 1)
end

local function conf(o)
  local t = file(M.root .. "/examples/openresty/nginx.conf", "rb")
  assert(o.base_url:match("^https?://[^/]+"), "bad base URL")
  local user = read("id -u"):match("^0%s") and "user root root;\n" or ""
  t = swap(t, "load_module /usr/lib/nginx/modules/ndk_http_module.so;",
    "load_module " .. MODULES .. "/ndk_http_module.so;")
  t = swap(t, "load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;",
    "load_module " .. MODULES .. "/ngx_http_lua_module.so;")
  t = swap(t, "worker_processes 2;", user .. "worker_processes " .. o.workers .. ";")
  t = swap(t, "env SOGET_TOKEN_URL;", "env SOGET_TOKEN_URL;\nenv SOGET_CA_FILE;")
  t = swap(t, 'lua_package_path "/usr/local/share/lua/5.1/?.lua;/etc/nginx/lua/?.lua;;";',
    ('lua_package_path "%s/lua/?.lua;%s/examples/openresty/?.lua;%s/spec/openresty/?.lua;%s;";')
      :format(M.root, M.root, M.root, o.lua_path and (o.lua_path .. ";") or ""))
  t = swap(t, 'lua_package_cpath "/usr/local/lib/lua/5.1/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";',
    ('lua_package_cpath "%s/?.so;%s/?.so;;";'):format(MODULE_DIR, CJSON_DIR))
  t = swap(t, "lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;",
    'lua_ssl_trusted_certificate "' .. o.ca_file .. '";')
  t = swap(t, "lua_shared_dict soget_tokens 1m;",
    "lua_shared_dict soget_tokens 1m;\n    lua_shared_dict soget_spec 1m;\n"
    .. "    lua_shared_dict soget_small 12k;")
  t = swap(t, 'init_worker_by_lua_block { require("lookup").init_worker() }',
    'init_by_lua_block { require("probe").init() }\n'
    .. '    init_worker_by_lua_block { require("lookup").init_worker(); require("probe").init_worker() }')
  if o.resolver then t = swap(t, "resolver 127.0.0.53 ipv6=off;", o.resolver) end
  if o.http_extra then
    t = swap(t, "    server {\n", o.http_extra .. "\n    server {\n")
  end
  t = swap(t, "listen 127.0.0.1:8080;", "listen 127.0.0.1:" .. o.port .. " reuseport;\n\n"
    .. (o.server_extra or "")
    .. '        location = /t/lookup { content_by_lua_block { require("probe").lookup() } }\n'
    .. '        location = /t/options { content_by_lua_block { require("probe").options() } }\n'
    .. '        location = /t/search { content_by_lua_block { require("probe").search() } }\n'
    .. '        location = /t/stats { content_by_lua_block { require("probe").stats() } }\n'
    .. '        location = /t/timer { content_by_lua_block { require("probe").timer() } }\n'
    .. '        location = /t/killed { content_by_lua_block { require("probe").killed() } }\n'
    .. '        location = /t/pools { content_by_lua_block { require("probe").pools() } }\n'
    .. '        location = /t/busy { content_by_lua_block { require("probe").busy() } }\n'
    .. '        location = /t/crosscache { content_by_lua_block { require("probe").crosscache() } }\n'
    .. '        location = /t/reset { content_by_lua_block { require("probe").reset() } }\n'
    .. '        location = /t/bomb { content_by_lua_block { require("probe").bomb() } }\n'
    .. '        location = /t/silent { content_by_lua_block { require("probe").silent() } }\n'
    .. '        location = /t/phases { content_by_lua_block { require("probe").phases() } }\n'
    .. '        location = /t/verify { content_by_lua_block { require("probe").verify() } }\n'
    .. '        location = /t/revoked { content_by_lua_block { require("probe").revoked() } }\n'
    .. '        location = /t/wrongkey { content_by_lua_block { require("probe").wrongkey() } }\n'
    .. '        location = /t/clients { content_by_lua_block { require("probe").clients() } }\n'
    .. '        location = /t/closed { content_by_lua_block { require("probe").closed() } }\n'
    .. '        location = /t/configure { content_by_lua_block { require("probe").configure() } }\n'
    .. '        location = /t/lockrace { content_by_lua_block { require("probe").lockrace() } }\n'
    .. '        location = /t/expiry { content_by_lua_block { require("probe").expiry() } }\n'
    .. '        location = /t/lockown { content_by_lua_block { require("probe").lockown() } }\n'
    .. '        location = /t/deadlocks { content_by_lua_block { require("probe").deadlocks() } }\n'
    .. '        location = /t/keptalive { content_by_lua_block { require("probe").keptalive() } }\n'
    .. '        location = /t/fulldict { content_by_lua_block { require("probe").fulldict() } }\n'
    .. '        location = /t/static { content_by_lua_block { require("probe").static() } }\n'
    .. '        location = /t/herd { content_by_lua_block { require("probe").herd() } }\n'
    .. '        location = /t/iterfail { content_by_lua_block { require("probe").iterfail() } }\n'
    .. '        location = /t/abort {\n'
    .. '            lua_check_client_abort on;\n'
    .. '            content_by_lua_block { require("probe").abort() }\n'
    .. '        }\n'
    .. '        location /odd/closing/ {\n'
    .. '            content_by_lua_block {\n'
    .. '                if tonumber(ngx.var.connection_requests) > 1 then return ngx.exit(444) end\n'
    .. '                ngx.header["Content-Type"] = "application/json"\n'
    .. '                ngx.print(\'{"total":0,"returned":0,"first":0,"items":[]}\')\n'
    .. '            }\n'
    .. '        }\n'
    .. '        location = /t/filter {\n'
    .. '            content_by_lua_block { ngx.say("body") }\n'
    .. '            header_filter_by_lua_block { require("probe").in_filter() }\n'
    .. '            log_by_lua_block { require("probe").in_log() }\n'
    .. '        }\n'
    .. '        location = /t/access {\n'
    .. '            access_by_lua_block { require("probe").in_access() }\n'
    .. '            content_by_lua_block { ngx.say(ngx.ctx.soget_total or "none") }\n'
    .. '        }\n'
    .. '        location = /t/server_rewrite {\n'
    .. '            content_by_lua_block { ngx.say(ngx.ctx.soget_total or "none") }\n'
    .. '        }')
  -- which worker answered; and the blocking libcurl path beside the driver
  local extra = ([[
    header_filter_by_lua_block { ngx.header["X-Worker"] = ngx.worker.pid() }
    server_rewrite_by_lua_block {
        if ngx.var.uri == "/t/server_rewrite" then require("probe").in_access() end
    }

    server {
        listen 127.0.0.1:%d reuseport;
        location = /ping { return 200 "ok"; }
        location ~ ^/units/([^/]+)$ {
            content_by_lua_block { require("blocking").unit(ngx.var[1]) }
        }
    }

%s}
]]):format(o.blocking_port, SANDBOX_DIR == "" and "" or ([[
    # TLS with the sandbox's certificate: a call in the client hello phase
    server {
        listen 127.0.0.1:%d ssl reuseport;
        ssl_certificate "%s/tls/server.pem";
        ssl_certificate_key "%s/tls/server.key";
        ssl_client_hello_by_lua_block { require("probe").in_client_hello() }
        location = /ping { return 200 "ok"; }
    }
]]):format(o.tls_port, SANDBOX_DIR, SANDBOX_DIR))
  local last = assert(t:find("}%s*$"), "no closing brace")
  t = t:sub(1, last - 1) .. extra
  -- one process in the foreground, for a command wrapped around it
  if o.wrap then t = "master_process off;\ndaemon off;\n" .. t end
  return t
end

-- The sandbox's URL with the host name its certificate names: nginx
-- checks a certificate against a host name, never an IP address.
local function by_name(url)
  return (url:gsub("^(https?://)127%.0%.0%.1([:/])", "%1localhost%2"))
end
M.by_name = by_name

-- Starts nginx. o: workers (1), base_url, token_url, ca_file (default: the
-- sandbox's from the environment), keep_ip (leave 127.0.0.1 in the URLs
-- instead of localhost), http_extra and server_extra (nginx.conf text
-- added to the http block and to the server), resolver (nginx.conf text
-- in place of the example's resolver directive) and lua_path (more of
-- lua_package_path), for bench/openresty.lua; wrap: a command (shell
-- words) nginx runs under, as one process in the foreground (no master:
-- the worker is the process; for valgrind), with start_seconds to wait.
-- Returns a server: url, blocking_url, pid, dir, stop(), log().
function M.start(o)
  o = o or {}
  M.ensure_module()
  o.workers = o.workers or 1
  o.base_url = o.base_url or assert(os.getenv("SOGET_BASE_URL"), "SOGET_BASE_URL not set")
  o.token_url = o.token_url or assert(os.getenv("SOGET_TOKEN_URL"), "SOGET_TOKEN_URL not set")
  o.ca_file = o.ca_file or assert(os.getenv("SOGET_CA_FILE"), "SOGET_CA_FILE not set")
  if not o.keep_ip then o.base_url, o.token_url = by_name(o.base_url), by_name(o.token_url) end
  local dir = read("mktemp -d \"${TMPDIR:-/tmp}/soget-ngx.XXXXXX\""):gsub("%s+$", "")
  assert(dir ~= "", "mktemp failed")
  assert(ok("mkdir -p " .. q(dir .. "/tmp")))
  local started
  for _ = 1, 5 do
    o.port = free_port({})
    o.blocking_port = free_port({ o.port })
    o.tls_port = free_port({ o.port, o.blocking_port })
    file(dir .. "/nginx.conf", "wb", conf(o))
    -- (not under a sanitizer runtime a test run may have preloaded)
    local cmd = ("env -u LD_PRELOAD SOGET_BASE_URL=%s SOGET_TOKEN_URL=%s %s%s -p %s -c %s -e %s "
      .. ">%s 2>&1"):format(
      q(o.base_url), q(o.token_url), o.wrap and (o.wrap .. " ") or "", q(NGINX), q(dir .. "/"),
      q(dir .. "/nginx.conf"), q(dir .. "/error.log"), q(dir .. "/start.log"))
    if o.wrap then
      -- in the background; a port taken shows in the log within a second
      ok(cmd .. " &")
      ok("sleep 1")
      local log = (io.open(dir .. "/error.log") and file(dir .. "/error.log", "rb") or "")
      if not log:find("Address already in use", 1, true) then started = true; break end
    elseif ok(cmd) then started = true; break end
    local log = file(dir .. "/start.log", "rb")
      .. (io.open(dir .. "/error.log") and file(dir .. "/error.log", "rb") or "")
    if not log:find("Address already in use", 1, true) then
      ok("rm -rf " .. q(dir))
      error("nginx did not start:\n" .. log)
    end
  end
  assert(started, "nginx did not start: no free ports")
  local s = {
    dir = dir,
    url = "http://127.0.0.1:" .. o.port,
    blocking_url = "http://127.0.0.1:" .. o.blocking_port,
    tls_url = "https://127.0.0.1:" .. o.tls_port,
  }
  local seen
  for _ = 1, (o.start_seconds or 10) * 10 do
    local pid = io.open(dir .. "/nginx.pid") and file(dir .. "/nginx.pid", "rb"):match("%d+")
    seen = pid or seen
    if pid and M.get(s.blocking_url .. "/ping") == 200 then s.pid = pid; break end
    ok("sleep 0.1")
  end
  function s.stop()
    if s.pid then
      ok("kill -TERM " .. s.pid .. " 2>/dev/null")
      for _ = 1, 100 do
        if not ok("kill -0 " .. s.pid .. " 2>/dev/null") then break end
        ok("sleep 0.1")
      end
      s.pid = nil
    end
    ok("rm -rf " .. q(dir))
  end
  function s.log()
    return io.open(dir .. "/error.log") and file(dir .. "/error.log", "rb") or ""
  end
  if not s.pid then
    local log = s.log()
    s.pid = seen   -- (started, not answering: stopped all the same)
    s.stop()
    error(("nginx did not answer within %d s:\n"):format(o.start_seconds or 10) .. log)
  end
  ports.reap_with_caller(s.pid)
  return s
end

-- One GET: status, body, headers (lowercased names). extra: request
-- header lines.
function M.get(url, extra)
  local h = {}
  for _, line in ipairs(extra or {}) do h[#h + 1] = "-H " .. q(line) end
  local out = read("curl -sS -i --max-time 30 " .. table.concat(h, " ") .. " " .. q(url)
    .. " 2>/dev/null")
  local head, body = out:match("^(.-)\r?\n\r?\n(.*)$")
  if not head then return 0, "", {} end
  local status = tonumber(head:match("^HTTP/[%d.]+ (%d+)")) or 0
  local headers = {}
  for k, v in head:gmatch("\n([^:\r\n]+):%s*([^\r\n]*)") do headers[k:lower()] = v end
  return status, body, headers
end

-- Fetches every URL, at most `max` at once (curl --parallel). Returns the
-- list of {status, size, worker} in no particular order, and the seconds
-- the whole batch took.
function M.parallel(urls, max)
  local cfg = os.tmpname()
  local lines = {}
  for _, u in ipairs(urls) do
    lines[#lines + 1] = ('url = "%s"\noutput = "/dev/null"\n'):format(u)
  end
  file(cfg, "wb", table.concat(lines))
  local cmd = ("s=$(date +%%s%%N); curl -sS --parallel --parallel-immediate --parallel-max %d "
    .. "--max-time 60 -K %s -w '%%{http_code} %%{size_download} %%header{x-worker}\\n' "
    .. "2>/dev/null; e=$(date +%%s%%N); echo \"elapsed $(( (e - s) / 1000000 ))\"")
    :format(max or 50, q(cfg))
  local out = read("bash -c " .. q(cmd))
  os.remove(cfg)
  local results, ms = {}, nil
  for line in out:gmatch("[^\n]+") do
    local e = line:match("^elapsed (%d+)")
    if e then ms = tonumber(e)
    else
      local code, size, worker = line:match("^(%d+) (%d+) ?(%S*)")
      if code then
        results[#results + 1] = { status = tonumber(code), size = tonumber(size), worker = worker }
      end
    end
  end
  return results, (ms or 0) / 1000
end

return M
