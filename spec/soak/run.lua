-- The soak (the README, "Soak under faults"), started by spec/soak/run
-- with a sandbox of its own in the environment: turns on the sandbox's random faults,
-- starts one nginx worker with soget.ngx, runs the clients as processes
-- (each stopped by its PID when overdue), then checks what they report
-- against the sandbox's own counters and the bounds below, prints a
-- summary table and exits non-zero on any wrong result, unexplained
-- error, or growth past a bound.
package.path = "spec/?.lua;spec/soak/?.lua;" .. package.path
local C = require "common"
local cjson = C.json

local function envn(k, d) return tonumber(os.getenv(k) or "") or d end
local SECONDS = envn("SOAK_SECONDS", 570)
local CALLS = envn("SOAK_CALLS", 100000)
local RATE = envn("SOAK_FAULT_RATE", 0.05)
local SEED = envn("SOAK_SEED", os.time())
local TTL = envn("SOGET_SANDBOX_TOKEN_TTL", 30)
local OUT = os.getenv("SOAK_OUT") or "build/soak"
local SAMPLE = envn("SOAK_SAMPLE", math.max(1, math.min(10, math.floor(SECONDS / 20))))
local WARM = envn("SOAK_WARM", math.min(60, math.max(2, math.floor(SECONDS / 3))))
local MIX = os.getenv("SOAK_FAULTS") or "500,503,429,reset,truncate,delay,revoke-token"

-- Bounds on what may grow from the sample taken after the warm-up to every
-- later sample, the last included (see the README's Reliability section).
local BOUND = {
  rss_kb = envn("SOAK_RSS_BOUND_KB", 8192),
  lua_kb = envn("SOAK_LUA_BOUND_KB", 256),
  fds = envn("SOAK_FD_BOUND", 2),
}
-- LuaJIT's count holds its compiled traces too, which grow as more paths
-- get compiled, up to LuaJIT's trace limit (with -joff the same client's
-- heap is flat)
local JIT_LUA_BOUND = envn("SOAK_JIT_LUA_BOUND_KB", 1024)
-- the nginx worker keeps up to a batch's connections in its pool
local NGX_FD_BOUND = envn("SOAK_NGX_FD_BOUND", 10)

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function sh(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end
local function read(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("*a")
  p:close()
  return s
end
local function I(n) return ("%d"):format(n) end
local function say(fmt, ...) io.write((fmt .. "\n"):format(...)); io.flush() end

local origin = assert(os.getenv("SOGET_SANDBOX_HTTP"), "no sandbox: run spec/soak/run")
local ctl = C.control(origin)
assert(sh("mkdir -p " .. q(OUT)))

-- The clients: soget in three processes (two on Lua 5.4, one on LuaJIT,
-- one client each), and one nginx worker through soget.ngx.
local CLIENTS = {
  { name = "lua5.4-a", mode = "lib", lua = "lua5.4", module = "build/lua5.4" },
  { name = "lua5.4-b", mode = "lib", lua = "lua5.4", module = "build/lua5.4" },
  { name = "luajit", mode = "lib", lua = "luajit", module = "build/luajit" },
  { name = "ngx", mode = "ngx", lua = "lua5.4", module = "build/lua5.4" },
}

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local s = f:read("*a") or ""
  f:close()
  local state = s:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

local function stop_pid(pid)
  if not alive(pid) then return end
  sh("kill -TERM " .. pid .. " 2>/dev/null")
  for _ = 1, 50 do
    if not alive(pid) then return end
    C.sleep(0.1)
  end
  sh("kill -KILL " .. pid .. " 2>/dev/null")
end

local srv, failures = nil, {}
local function fail(fmt, ...) failures[#failures + 1] = fmt:format(...) end

local results = {}
local ok, err = pcall(function()
  ctl.post("/_control/reset?faults=1")
  local chaos = ctl.post(("/_control/chaos?rate=%s&mix=%s&delay=100-1000&retry_after=1&seed=%d")
    :format(RATE, C.urlencode(MIX), SEED % 2147483647))
  say("soak: %d s, at most %d calls, faults on %.1f %% of API requests (%s), tokens living %d s, seed %d",
    SECONDS, CALLS, RATE * 100, chaos.mix, TTL, SEED)

  -- nginx, one worker, with the soak's handler beside the example's
  local N = require "openresty.server"
  srv = N.start{
    workers = 1,
    lua_path = "spec/soak/?.lua",
    server_extra = "        location = /soak {\n            client_body_buffer_size 1m;\n"
      .. '            content_by_lua_block { require("ngx_soak").handle() }\n        }\n',
  }
  say("soak: nginx (pid %s) at %s, sandbox (pid %s) at %s", srv.pid, srv.url,
    os.getenv("SOGET_SANDBOX_PID"), origin)

  local per = math.ceil(CALLS / #CLIENTS)
  for _, c in ipairs(CLIENTS) do
    c.out = OUT .. "/" .. c.name .. ".json"
    c.log = OUT .. "/" .. c.name .. ".log"
    os.remove(c.out)
    -- (a fixed mmap threshold, as spec/support.lua's lua_child sets it:
    -- malloc gives large blocks back at free, so that the resident size
    -- shows what the client keeps; glibc's own threshold rises with the
    -- first large block freed, and later ones then stay in its heap, which
    -- grew the LuaJIT client's by 9 MiB within a 20 s soak)
    local env = ("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 SOAK_SECONDS=%d "
      .. "SOAK_CLIENT_CALLS=%d SOAK_SEED=%d SOAK_SAMPLE=%d SOAK_WARM=%d")
      :format(SECONDS, per, SEED, SAMPLE, WARM)
    if c.module then env = env .. " SOGET_MODULE_DIR=" .. q(c.module) end
    if c.mode == "ngx" then env = env .. " SOAK_NGX_URL=" .. q(srv.url) end
    local cmd = ("env %s %s spec/soak/client.lua %s %s %s </dev/null >%s 2>&1 & echo $!")
      :format(env, c.lua, q(c.name), c.mode, q(c.out), q(c.log))
    c.pid = tonumber(read(cmd):match("%d+"))
    assert(c.pid, "could not start client " .. c.name)
  end

  -- wait for them, each at most SECONDS + 120 s (the last call, the walks)
  local t0 = C.now()
  local next_report = 60
  while true do
    local running = 0
    for _, c in ipairs(CLIENTS) do if alive(c.pid) then running = running + 1 end end
    if running == 0 then break end
    local t = C.now() - t0
    if t > SECONDS + 120 then
      for _, c in ipairs(CLIENTS) do
        if alive(c.pid) then fail("client %s overran; stopped (pid %d)", c.name, c.pid) end
        stop_pid(c.pid)
      end
      break
    end
    if t >= next_report then
      local st = ctl.get("/_control/stats")
      say("soak: %3.0f s: %d API requests, %d token requests, %d connections", t,
        st.api_requests, st.token_requests, st.connections)
      next_report = next_report + 60
    end
    C.sleep(0.5)
  end

  results.stats = ctl.get("/_control/stats")
  results.chaos = ctl.get("/_control/chaos")
  for _, c in ipairs(CLIENTS) do
    local f = io.open(c.out)
    if f then
      c.r = cjson.decode(f:read("*a"))
      f:close()
    else
      fail("client %s wrote no result; its log:\n%s", c.name, read("tail -n 30 " .. q(c.log)))
    end
  end
end)
if srv then srv.stop() end
for _, c in ipairs(CLIENTS) do if c.pid then stop_pid(c.pid) end end
if not ok then
  say("soak: %s", tostring(err))
  os.exit(1)
end

---------------------------------------------------------------------------
-- checks
local tot = { calls = 0, results = 0, units = 0, pages = 0, wrong = 0, unexplained = 0,
  tokens = 0, api = 0, connections = 0, late = 0, chaos = {}, errors = {} }
local rows = {}
local renew = TTL - math.min(30, TTL / 10)
for _, c in ipairs(CLIENTS) do
  local r = c.r
  if r then
    tot.calls = tot.calls + r.calls
    tot.results = tot.results + r.results_checked
    tot.units = tot.units + r.units_checked
    tot.pages = tot.pages + r.pages_walked
    tot.wrong = tot.wrong + r.wrong
    tot.unexplained = tot.unexplained + r.unexplained
    tot.tokens = tot.tokens + r.log.token_requests
    tot.api = tot.api + r.log.api_requests
    tot.connections = tot.connections + r.log.connection_count
    tot.late = tot.late + r.late_logs
    for k, n in pairs(r.log.chaos) do tot.chaos[k] = (tot.chaos[k] or 0) + n end
    for k, n in pairs(r.errors) do tot.errors[k] = (tot.errors[k] or 0) + n end
    if r.wrong > 0 then fail("%s: %d wrong results", c.name, r.wrong) end
    if r.unexplained > 0 then fail("%s: %d unexplained errors or requests", c.name, r.unexplained) end
    for _, p in ipairs(r.problems) do say("  %s: %s", c.name, p) end
    if r.calls == 0 then fail("%s: no call made", c.name) end
    -- flat from the warm-up sample on
    local w = r.warm
    local fd_bound = c.mode == "ngx" and NGX_FD_BOUND or BOUND.fds
    local lua_bound = c.lua == "lua5.4" and c.mode == "lib" and BOUND.lua_kb or JIT_LUA_BOUND
    -- (RSS: less its largest step between two samples, which a rare large
    -- answer makes once, as the allocator's heap grows to hold it: a
    -- brief soak's client went up 7 MiB between two samples, then stayed)
    local prev_rss, step = w.rss_kb, 0
    for _, s in ipairs(r.samples) do
      if s.t >= w.t then
        step = math.max(step, s.rss_kb - prev_rss)
        prev_rss = s.rss_kb
        if s.rss_kb - w.rss_kb - step > BOUND.rss_kb then
          fail("%s: RSS grew by %d KiB at %.0f s, its largest step %d KiB (bound %d KiB beside it)",
            c.name, s.rss_kb - w.rss_kb, s.t, step, BOUND.rss_kb)
        end
        if s.lua_kb - w.lua_kb > lua_bound then
          fail("%s: Lua memory grew by %.0f KiB at %.0f s (bound %d KiB)", c.name, s.lua_kb - w.lua_kb, s.t, lua_bound)
        end
        if s.fds - w.fds > fd_bound then
          fail("%s: %d descriptors at %.0f s, %d after the warm-up (bound +%d)", c.name, s.fds, s.t, w.fds, fd_bound)
        end
      end
    end
    -- tokens: one per lifetime, plus one per revoked token
    local revoked = r.log.chaos["revoke-token"] or 0
    local allowed = math.ceil(r.seconds / renew) + 1 + revoked
    if r.log.token_requests > allowed then
      fail("%s: %d token requests in %.0f s, at most %d (one per %d s, %d revoked)", c.name,
        r.log.token_requests, r.seconds, allowed, renew, revoked)
    end
    -- connections: kept alive; a new one only where a fault cut one
    local cuts = (r.log.chaos.reset or 0) + (r.log.chaos.truncate or 0)
    -- a client: its easy handle and its batches' multi handle, each one
    -- HTTP/2 connection (a fault resets a stream, not the connection);
    -- the nginx worker: HTTP/1.1, a batch's lookups on parallel connections
    local base = c.mode == "ngx" and 11 or 2
    if r.log.connection_count > base + cuts then
      fail("%s: %d connections for %d requests (at most %d + %d cut by faults)", c.name,
        r.log.connection_count, r.log.api_requests + r.log.token_requests, base, cuts)
    end
    local e = r["end"]
    rows[#rows + 1] = {
      c.name, r.mode == "ngx" and "nginx worker, soget.ngx" or (c.lua .. ", 1 client"),
      I(r.calls), I(r.results_checked), I(r.units_checked), I(r.wrong), I(r.unexplained),
      I(r.log.api_requests), I(r.log.token_requests), I(r.log.connection_count),
      ("%.1f, %.1f → %.1f"):format(r.samples[1].rss_kb / 1024, w.rss_kb / 1024, e.rss_kb / 1024),
      ("%.0f, %.0f → %.0f"):format(r.samples[1].lua_kb, w.lua_kb, e.lua_kb),
      ("%d, %d → %d"):format(r.samples[1].fds, w.fds, e.fds),
    }
  end
end

-- every injected fault was met by a call that was checked
local injected, met = 0, 0
for k, n in pairs(results.chaos.injected) do
  injected = injected + n
  if (tot.chaos[k] or 0) ~= n then
    fail("the sandbox injected %d %s faults, the clients' checks met %d", n, k, tot.chaos[k] or 0)
  end
end
for _, n in pairs(tot.chaos) do met = met + n end
if results.stats.api_requests ~= tot.api then
  fail("the sandbox counted %d API requests, the clients' checks %d", results.stats.api_requests, tot.api)
end
if results.stats.connections ~= tot.connections then
  fail("the sandbox counted %d connections, the clients' checks %d", results.stats.connections, tot.connections)
end
if results.stats.token_requests ~= tot.tokens then
  fail("the sandbox counted %d token requests, the clients' checks %d", results.stats.token_requests, tot.tokens)
end

---------------------------------------------------------------------------
-- report
local head = { "client", "runs on", "calls", "results checked", "units checked", "wrong",
  "unexplained", "API requests", "token requests", "connections",
  "RSS MiB: start, warm → end", "Lua KiB: start, warm → end", "fds: start, warm → end" }
local lines = {}
local function row(t) lines[#lines + 1] = "| " .. table.concat(t, " | ") .. " |" end
row(head)
local sep = {}
for i = 1, #head do sep[i] = "---" end
row(sep)
for _, r in ipairs(rows) do
  local t = {}
  for i, v in ipairs(r) do t[i] = tostring(v) end
  row(t)
end
row({ "**all**", "", I(tot.calls), I(tot.results), I(tot.units), I(tot.wrong), I(tot.unexplained),
  I(tot.api), I(tot.tokens), I(tot.connections), "", "", "" })
local kinds = {}
for k in pairs(results.chaos.injected) do kinds[#kinds + 1] = k end
table.sort(kinds)
local fl = {}
for _, k in ipairs(kinds) do fl[#fl + 1] = k .. " " .. I(results.chaos.injected[k]) end
local ops, opl = {}, {}
for _, c in ipairs(CLIENTS) do
  for k, v in pairs(c.r and c.r.ops or {}) do ops[k] = (ops[k] or 0) + v end
end
for _, k in ipairs({ "lookup", "search", "exact", "walk", "bulk", "refused" }) do
  if ops[k] then opl[#opl + 1] = k .. " " .. I(ops[k]) end
end
local el = {}
local ek = {}
for k in pairs(tot.errors) do ek[#ek + 1] = k end
table.sort(ek)
for _, k in ipairs(ek) do el[#el + 1] = k .. ": " .. I(tot.errors[k]) end

local seconds = 0
for _, c in ipairs(CLIENTS) do if c.r then seconds = math.max(seconds, c.r.seconds) end end
local text = table.concat(lines, "\n") .. "\n\n"
  .. ("Calls by kind: %s.\n"):format(table.concat(opl, ", "))
  .. ("Faults injected (%d of %d API requests, %.1f %%): %s.\n"):format(injected,
    results.stats.api_requests, 100 * injected / math.max(1, results.stats.api_requests),
    table.concat(fl, ", "))
  .. ("Calls failed, each explained by its faults: %s.\n"):format(#el > 0 and table.concat(el, ", ") or "none")
  .. ("Walked pages: %d. Sandbox: %d connections, %d token requests, %d requests on the busiest connection; %.0f s, seed %d.\n")
    :format(tot.pages, results.stats.connections, results.stats.token_requests,
      results.stats.requests_per_connection.max, seconds, SEED)
  .. ("Bounds after the warm-up (%d s): RSS +%d KiB beside its largest step, Lua heap +%d KiB (LuaJIT +%d KiB), descriptors +%d (nginx worker +%d); tokens at most one per %d s per client plus one per revoked token.\n")
    :format(WARM, BOUND.rss_kb, BOUND.lua_kb, JIT_LUA_BOUND, BOUND.fds, NGX_FD_BOUND, renew)
say("\n%s", text)
local f = io.open(OUT .. "/summary.md", "w")
if f then f:write(text); f:close() end
if tot.late > 0 then say("soak: %d checks waited for the sandbox's log", tot.late) end

if #failures > 0 then
  for _, m in ipairs(failures) do say("soak: FAILED: %s", m) end
  os.exit(1)
end
say("soak: passed (%d calls, %d results checked, 0 wrong, 0 unexplained)", tot.calls, tot.results)
