-- soget.ngx in nginx against the sandbox, one worker:
--   1. concurrent lookups with the sandbox adding latency: soget.ngx (the
--      worker free while it waits) beside the blocking libcurl client
--      called from a handler in the same nginx;
--   2. lookups per second over kept-alive connections (wrk, concurrency
--      BENCH_OPENRESTY_CONC): soget.ngx on cosockets, the subrequest driver
--      it replaced (bench/ngx_subrequest.lua), and ngx.location.capture +
--      proxy_pass + cjson.decode written by hand (bench/ngx_handlers.lua).
--   3. instructions per lookup in the worker, the same three paths
--      (callgrind; deterministic where lookups/s move with the machine's load).
--   bench/openresty.sh   (starts a sandbox unless one is in the environment)
-- BENCH_OPENRESTY_N (50) requests at once, BENCH_OPENRESTY_DELAY_MS (200),
-- BENCH_OPENRESTY_SECONDS (4) per wrk run, BENCH_OPENRESTY_ROUNDS (9),
-- BENCH_OPENRESTY_CG_N (400) lookups under callgrind (0: none).
package.path = "spec/?.lua;bench/?.lua;" .. package.path
local N = require "openresty.server"

local n = tonumber(os.getenv("BENCH_OPENRESTY_N") or "") or 50
local delay = tonumber(os.getenv("BENCH_OPENRESTY_DELAY_MS") or "") or 200
local secs = tonumber(os.getenv("BENCH_OPENRESTY_SECONDS") or "") or 4
local rounds = tonumber(os.getenv("BENCH_OPENRESTY_ROUNDS") or "") or 9
local conc = tonumber(os.getenv("BENCH_OPENRESTY_CONC") or "") or 16
local base = assert(os.getenv("SOGET_BASE_URL"),
  "SOGET_BASE_URL is not set (run bench/openresty.sh)")
local origin, path = base:match("^(https?://[^/]+)(/.*)$")
local hostport = assert(origin:match("^https?://(.+)$"))
local ca = assert(os.getenv("SOGET_CA_FILE"))
local function result(k, v) io.write(("RESULT openresty.%s %s\n"):format(k, v)) end
local function sh_ok(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local function batch(url)
  assert(N.get(url .. "/units/CGMU2436601") == 200, "warm-up failed")   -- token, connection
  local urls = {}
  for i = 1, n do urls[i] = url .. "/units/CGMU2436601?n=" .. i end
  local results, seconds = N.parallel(urls, n)
  local good = 0
  for _, r in ipairs(results) do if r.status == 200 and r.size > 100 then good = good + 1 end end
  return seconds, good
end

-- 1. latency
local srv = N.start{ workers = 1, base_url = origin .. "/_fault/delay:ms=" .. delay .. path }
local ok, err = pcall(function()
  local t_ngx, ok_ngx = batch(srv.url)
  local t_blk, ok_blk = batch(srv.blocking_url)
  print(("openresty: %d concurrent lookups, %d ms upstream latency, 1 nginx worker"):format(n, delay))
  print(("  soget.ngx (cosockets, kept-alive pool)        %7.2f s  %d/%d ok")
    :format(t_ngx, ok_ngx, n))
  print(("  blocking libcurl client in the handler        %7.2f s  %d/%d ok")
    :format(t_blk, ok_blk, n))
  print(("  one after the other would take                %7.2f s")
    :format(n * delay / 1000))
  result("requests", n)
  result("latency_ms", delay)
  result("nonblocking_s", ("%.3f"):format(t_ngx))
  result("nonblocking_ok", ok_ngx)
  result("blocking_s", ("%.3f"):format(t_blk))
  result("blocking_ok", ok_blk)
  result("speedup", ("%.1f"):format(t_blk / t_ngx))
end)
srv.stop()
if not ok then error(err, 0) end

-- 2. throughput: the three paths in one nginx, rounds alternated
local http_extra = ([[
    upstream soget_api {
        server %s;
        keepalive 32;
    }
]]):format(hostport)
local server_extra = ([[
        location = /b/cosocket { content_by_lua_block { require("ngx_handlers").cosocket() } }
        location = /b/subrequest { content_by_lua_block { require("ngx_handlers").subrequest() } }
        location = /b/plain { content_by_lua_block { require("ngx_handlers").plain() } }
        location = /_soget {
            internal;
            set $soget_url "";
            set $soget_host "";
            set $soget_user_agent "";
            set $soget_authorization "";
            set $soget_api_key "";
            set $soget_accept "";
            set $soget_content_type "";
            rewrite_by_lua_block { require("ngx_subrequest").upstream_request() }
            proxy_pass $soget_url;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers off;
            proxy_set_header Host $soget_host;
            proxy_set_header User-Agent $soget_user_agent;
            proxy_set_header Authorization $soget_authorization;
            proxy_set_header Ocp-Apim-Subscription-Key $soget_api_key;
            proxy_set_header Accept $soget_accept;
            proxy_set_header Content-Type $soget_content_type;
            proxy_set_header Accept-Encoding identity;
            proxy_ssl_server_name on;
            proxy_ssl_name localhost;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate "%s";
            proxy_ssl_session_reuse on;
            proxy_next_upstream off;
            proxy_redirect off;
            proxy_intercept_errors off;
        }
        location = /_plain {
            internal;
            set $plain_auth "";
            set $plain_key "";
            set $plain_ua "";
            rewrite_by_lua_block {
                ngx.var.plain_auth = ngx.ctx.auth
                ngx.var.plain_key = ngx.ctx.key
                ngx.var.plain_ua = ngx.ctx.ua
            }
            proxy_pass https://soget_api%s/handling-units;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers off;
            proxy_set_header Host localhost:%s;
            proxy_set_header Authorization $plain_auth;
            proxy_set_header Ocp-Apim-Subscription-Key $plain_key;
            proxy_set_header Accept application/json;
            proxy_set_header User-Agent $plain_ua;
            proxy_set_header Accept-Encoding identity;
            proxy_ssl_server_name on;
            proxy_ssl_name localhost;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate "%s";
            proxy_ssl_session_reuse on;
        }
]]):format(ca, path, hostport:match(":(%d+)$"), ca)
srv = N.start{ workers = 1, http_extra = http_extra, server_extra = server_extra,
  lua_path = N.root .. "/bench/?.lua" }
-- The worker's CPU time (user + system, in clock ticks of 10 ms): on a
-- shared machine lookups/s moves with the neighbours' load, the worker's
-- CPU time per lookup much less.
local worker = io.popen("pgrep -P " .. srv.pid .. " | head -n 1"):read("*l")

-- Where the lookups/s rounds run. The worker under test, the sandbox's
-- worker and wrk are three busy processes; on a 2-CPU machine, left to the
-- scheduler, the worker and the sandbox now and then share one CPU (a
-- pair that wakes each other is kept together) and every path then serves
-- about half the lookups, so a round measured where the scheduler had put
-- them (bench/README.md). The worker gets a CPU of its own, the last one
-- this process may use; the sandbox's workers and wrk get the others. The
-- figure is then the worker's own capacity, the same way on every path.
-- With one CPU, or without taskset, nothing is pinned, and that is said.
local function allowed_cpus()
  local f = io.open("/proc/self/status")
  local list = f and f:read("*a"):match("Cpus_allowed_list:%s*(%S+)")
  if f then f:close() end
  local cpus = {}
  for part in (list or ""):gmatch("[^,]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    a, b = tonumber(a or part), tonumber(b or part)
    if a and b then for c = a, b do cpus[#cpus + 1] = c end end
  end
  return cpus
end
local sandbox_workers = {}
for p in io.popen("pgrep -P " .. tostring(os.getenv("SOGET_SANDBOX_PID") or 0) .. " 2>/dev/null")
  :read("*a"):gmatch("%d+") do
  sandbox_workers[#sandbox_workers + 1] = p
end
local cpus = allowed_cpus()
local wrk_prefix, unpin = "", function() end
if #cpus >= 2 and #sandbox_workers > 0 and worker and sh_ok("command -v taskset >/dev/null") then
  local own, rest = cpus[#cpus], table.concat(cpus, ",", 1, #cpus - 1)
  local all = table.concat(cpus, ",")
  local pinned = sh_ok(("taskset -pc %d %s >/dev/null"):format(own, worker))
  for _, p in ipairs(sandbox_workers) do
    pinned = pinned and sh_ok(("taskset -pc %s %s >/dev/null"):format(rest, p))
  end
  unpin = function()   -- the sandbox outlives this nginx: its CPUs back
    for _, p in ipairs(sandbox_workers) do sh_ok(("taskset -pc %s %s >/dev/null 2>&1"):format(all, p)) end
  end
  if pinned then
    wrk_prefix = "taskset -c " .. rest .. " "
    print(("openresty: the worker pinned to CPU %d; the sandbox's worker%s and wrk to %s")
      :format(own, #sandbox_workers > 1 and "s" or "", rest))
    result("pinned", 1)
  else
    unpin()
    sh_ok(("taskset -pc %s %s >/dev/null 2>&1"):format(all, worker))
  end
end
if wrk_prefix == "" then
  print("openresty: processes not pinned (one CPU, no taskset, or no sandbox PID): "
    .. "lookups/s depend on where the scheduler puts them")
  result("pinned", 0)
end
local function cpu_ticks()
  local f = io.open("/proc/" .. tostring(worker) .. "/stat")
  if not f then return nil end
  local st = f:read("*a")
  f:close()
  local ut, sys = st:match("^%d+ %b() %S+ " .. ("%S+ "):rep(10) .. "(%d+) (%d+)")
  return ut and tonumber(ut) + tonumber(sys)
end
local function wrk(url)
  local c0 = cpu_ticks()
  local p = assert(io.popen(("%swrk -t1 -c%d -d%ds %s 2>&1"):format(wrk_prefix, conc, secs, N.q(url))))
  local out = p:read("*a")
  p:close()
  local c1 = cpu_ticks()
  local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  local non2xx = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)")) or 0
  local us = rps and c0 and c1 and (c1 - c0) * 10000 / (rps * secs)   -- µs of CPU a lookup
  return rps, non2xx, out, us
end
ok, err = pcall(function()
  local paths = { "cosocket", "subrequest", "plain" }
  local got = { cosocket = {}, subrequest = {}, plain = {} }
  local cpu = { cosocket = {}, subrequest = {}, plain = {} }
  for _, p in ipairs(paths) do   -- warm-up: token, connections
    local st, body = N.get(srv.url .. "/b/" .. p)
    assert(st == 200 and body:find("CNI0000063978", 1, true), p .. ": " .. st .. " " .. body)
  end
  for r = 1, rounds do
    for i = 0, #paths - 1 do
      local p = paths[(i + r - 1) % #paths + 1]
      local rps, bad, out, us = wrk(srv.url .. "/b/" .. p)
      assert(rps, "wrk failed: " .. out)
      assert(bad == 0, p .. ": " .. bad .. " failed lookups")
      got[p][r], cpu[p][r] = rps, us or 0
    end
    print(("  round %d: cosockets %.0f/s, subrequests %.0f/s, by hand %.0f/s"):format(r,
      got.cosocket[r], got.subrequest[r], got.plain[r]))
  end
  local function median(t)
    local c = {}
    for i, v in ipairs(t) do c[i] = v end
    table.sort(c)
    local m = #c
    return m % 2 == 1 and c[(m + 1) / 2] or (c[m / 2] + c[m / 2 + 1]) / 2
  end
  -- The machine's load drifts between rounds: each round's three runs are
  -- next to one another, so the ratio is taken round by round.
  local rs, rp = {}, {}
  for r = 1, rounds do
    rs[r] = got.cosocket[r] / got.subrequest[r]
    rp[r] = got.cosocket[r] / got.plain[r]
  end
  local c, s, pl = median(got.cosocket), median(got.subrequest), median(got.plain)
  local cc, cs, cp = median(cpu.cosocket), median(cpu.subrequest), median(cpu.plain)
  local ratio_s, ratio_p = median(rs), median(rp)
  print(("openresty: lookups/s on 1 worker, wrk -c%d, %d s, medians of %d alternated rounds"):format(
    conc, secs, rounds))
  print(("  soget.ngx on cosockets                         %8.0f/s  %5.0f us CPU a lookup"):format(c, cc))
  print(("  the subrequest driver it replaced              %8.0f/s  %5.0f us  (%.2fx the lookups/s)")
    :format(s, cs, ratio_s))
  print(("  ngx.location.capture + proxy_pass + cjson      %8.0f/s  %5.0f us  (%.2fx the lookups/s)")
    :format(pl, cp, ratio_p))
  print("  (the ratios: medians of each round's ratio)")
  result("rps_ratio_subrequest", ("%.3f"):format(ratio_s))
  result("rps_ratio_plain", ("%.3f"):format(ratio_p))
  result("rps_cosocket", ("%.0f"):format(c))
  result("rps_subrequest", ("%.0f"):format(s))
  result("rps_plain", ("%.0f"):format(pl))
  result("cpu_us_cosocket", ("%.0f"):format(cc))
  result("cpu_us_subrequest", ("%.0f"):format(cs))
  result("cpu_us_plain", ("%.0f"):format(cp))
  result("rps_concurrency", conc)
end)
unpin()
srv.stop()
if not ok then error(err, 0) end

-- 3. instructions per lookup in the worker (callgrind): the three paths,
-- each in an nginx of its own, one process under valgrind, BENCH_OPENRESTY_CG_N
-- lookups one after the other on one connection after a warm-up; the
-- instructions by library, self cost (soget: soget.so, simdjson,
-- libhttp-parser). Deterministic where lookups/s are not on a shared machine.
local cg_n = tonumber(os.getenv("BENCH_OPENRESTY_CG_N") or "") or 400
-- Self cost by object of a callgrind dump: {object -> Ir}, total.
local function by_object(dump)
  local names, by, total = {}, {}, 0
  local ob, skip = "?", false
  for line in io.lines(dump) do
    local id, name = line:match("^c?ob=%((%d+)%)%s*(.*)$")
    if id then
      if name ~= "" then names[id] = name end
      if line:sub(1, 3) == "ob=" then ob = names[id] or "?" end
    elseif line:find("^calls=") then
      skip = true
    else
      local cost = line:match("^[%d+*-]%S*%s+(%d+)")
      if cost then
        if skip then skip = false
        else
          cost = tonumber(cost)
          by[ob] = (by[ob] or 0) + cost
          total = total + cost
        end
      end
    end
  end
  return by, total
end
local GROUPS = {   -- object file name pattern -> group
  { "soget%.so$", "soget" }, { "libsimdjson", "soget" }, { "libhttp_parser", "soget" },
  { "libluajit", "LuaJIT" }, { "cjson", "lua-cjson" }, { "ngx_http_lua", "nginx" },
  { "/nginx$", "nginx" }, { "libcrypto", "OpenSSL" }, { "libssl", "OpenSSL" },
  { "libc%.so", "libc" },
}
local function group(ob)
  for _, g in ipairs(GROUPS) do if ob:find(g[1]) then return g[2] end end
  return "other"
end
if cg_n > 0 and sh_ok("command -v valgrind >/dev/null && command -v callgrind_control >/dev/null") then
  local per, groups = {}, {}
  ok, err = pcall(function()
    for _, p in ipairs({ "cosocket", "subrequest", "plain" }) do
      local out = os.tmpname()
      srv = N.start{ workers = 1, http_extra = http_extra, server_extra = server_extra,
        lua_path = N.root .. "/bench/?.lua", start_seconds = 120,
        wrap = "valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=" .. N.q(out) }
      local url = srv.url .. "/b/" .. p
      for _ = 1, 3 do   -- warm-up: token, connections, the JIT's traces
        local st, body = N.get(url)
        assert(st == 200 and body:find("CNI0000063978", 1, true), p .. ": " .. st .. " " .. body)
      end
      assert(sh_ok("callgrind_control -z " .. srv.pid .. " >/dev/null 2>&1"), "callgrind_control -z failed")
      local cfg = os.tmpname()
      local f = assert(io.open(cfg, "w"))
      for _ = 1, cg_n do f:write(('url = "%s"\n'):format(url)) end
      f:close()
      local pipe = assert(io.popen("curl -sS --max-time 600 -K " .. N.q(cfg)))
      local answers = pipe:read("*a")
      pipe:close()
      os.remove(cfg)
      local _, good = answers:gsub("CNI0000063978", "")
      assert(good == cg_n, p .. ": " .. good .. " of " .. cg_n .. " lookups answered")
      assert(sh_ok("callgrind_control -d " .. srv.pid .. " >/dev/null 2>&1"), "callgrind_control -d failed")
      local by, total = by_object(out .. ".1")
      srv.stop()
      srv = nil
      os.remove(out .. ".1")
      os.remove(out)
      per[p] = total / cg_n
      groups[p] = {}
      for ob, v in pairs(by) do
        local g = group(ob)
        groups[p][g] = (groups[p][g] or 0) + v / cg_n
      end
    end
  end)
  if srv then srv.stop() end
  if not ok then error(err, 0) end
  print(("openresty: instructions per lookup in the worker (callgrind), %d lookups one after the other"):format(cg_n))
  local cols = { "soget", "lua-cjson", "LuaJIT", "nginx", "OpenSSL", "libc", "other" }
  print(("  %-12s %9s" .. (" %9s"):rep(#cols)):format("path", "total", table.unpack(cols)))
  for _, p in ipairs({ "cosocket", "subrequest", "plain" }) do
    local vals = {}
    for i, c in ipairs(cols) do vals[i] = ("%.0fk"):format((groups[p][c] or 0) / 1000) end
    print(("  %-12s %8.0fk" .. (" %9s"):rep(#cols)):format(p, per[p] / 1000, table.unpack(vals)))
  end
  print(("  cosockets: %.2fx the subrequest driver's instructions, %.2fx the hand-written path's")
    :format(per.cosocket / per.subrequest, per.cosocket / per.plain))
  for _, p in ipairs({ "cosocket", "subrequest", "plain" }) do
    result("cg_" .. p, ("%.0f"):format(per[p]))
    for _, c in ipairs(cols) do
      result(("cg_%s_%s"):format(p, c:lower():gsub("%-", "")), ("%.0f"):format(groups[p][c] or 0))
    end
  end
  result("cg_lookups", cg_n)
else
  print("openresty: no instruction counts (BENCH_OPENRESTY_CG_N=0, or no valgrind)")
end
