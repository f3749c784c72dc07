-- Concurrent lookups through nginx with the sandbox adding latency:
-- soget.ngx (subrequests to a keep-alive upstream, the worker free while
-- it waits) beside the blocking libcurl client called from a handler in
-- the same nginx. One worker, so the difference is all in the waiting.
--   bench/openresty.sh   (starts a sandbox unless one is in the environment)
-- BENCH_OPENRESTY_N (50) requests at once, BENCH_OPENRESTY_DELAY_MS (200).
package.path = "spec/?.lua;" .. package.path
local N = require "openresty.server"

local n = tonumber(os.getenv("BENCH_OPENRESTY_N") or "") or 50
local delay = tonumber(os.getenv("BENCH_OPENRESTY_DELAY_MS") or "") or 200
local base = assert(os.getenv("SOGET_BASE_URL"),
  "SOGET_BASE_URL is not set (run bench/openresty.sh)")
local origin, path = base:match("^(https?://[^/]+)(/.*)$")

local srv = N.start{ workers = 1, base_url = origin .. "/_fault/delay:ms=" .. delay .. path }

local function batch(url)
  assert(N.get(url .. "/units/CGMU2436601") == 200, "warm-up failed")   -- token, connection
  local urls = {}
  for i = 1, n do urls[i] = url .. "/units/CGMU2436601?n=" .. i end
  local results, seconds = N.parallel(urls, n)
  local good = 0
  for _, r in ipairs(results) do if r.status == 200 and r.size > 100 then good = good + 1 end end
  return seconds, good
end

local ok, err = pcall(function()
  local t_ngx, ok_ngx = batch(srv.url)
  local t_blk, ok_blk = batch(srv.blocking_url)
  print(("openresty: %d concurrent lookups, %d ms upstream latency, 1 nginx worker"):format(n, delay))
  print(("  soget.ngx (subrequests, keep-alive upstream)  %7.2f s  %d/%d ok")
    :format(t_ngx, ok_ngx, n))
  print(("  blocking libcurl client in the handler        %7.2f s  %d/%d ok")
    :format(t_blk, ok_blk, n))
  print(("  one after the other would take                %7.2f s")
    :format(n * delay / 1000))
  local function result(k, v) io.write(("RESULT openresty.%s %s\n"):format(k, v)) end
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
