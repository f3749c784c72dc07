-- Concurrent lookups: client:handling_units_many at concurrency 16 against
-- the same lookups one after another with client:handling_units, the
-- sandbox adding 50 ms of latency to every API request. Target: the batch
-- is at least 10 times faster.
--
--   lua5.4 bench/bulk.lua
--
-- Needs a running sandbox (eval "$(sandbox/run start)"): reads the SOGET_*
-- variables it exports. Knobs: BENCH_BULK_LOOKUPS (200), BENCH_BULK_CONCURRENCY
-- (16), BENCH_BULK_DELAY_MS (50), BENCH_BULK_RUNS (3, at least 3; the
-- median is reported), BENCH_BULK_BUDGET (seconds, 120: no new run starts
-- past it). Prints one result block, with "RESULT key value" lines for
-- bench/run; exits 1 if a lookup failed.
local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local module_dir = os.getenv("SOGET_MODULE_DIR")
if not module_dir then
  local v = type(jit) == "table" and "jit" or _VERSION:match("%d+%.%d+")
  module_dir = script_dir .. "/../build/lua" .. v
end
package.cpath = module_dir .. "/?.so;" .. package.cpath
local soget = require "soget"

local function env(name)
  local v = os.getenv(name)
  if not v or v == "" then
    io.stderr:write("bench/bulk.lua: ", name, " is not set: start the sandbox first ",
      "(eval \"$(sandbox/run start)\")\n")
    os.exit(2)
  end
  return v
end

local function knob(name, default, lo, hi)
  local v = tonumber(os.getenv(name) or "") or default
  if v < lo then v = lo end
  if v > hi then v = hi end
  return math.floor(v)
end

local LOOKUPS = knob("BENCH_BULK_LOOKUPS", 200, 1, 100000)
local CONCURRENCY = knob("BENCH_BULK_CONCURRENCY", 16, 1, 64)
local DELAY_MS = knob("BENCH_BULK_DELAY_MS", 50, 0, 10000)
local RUNS = knob("BENCH_BULK_RUNS", 3, 3, 99)
local BUDGET = knob("BENCH_BULK_BUDGET", 120, 1, 86400)
local TARGET = 10

-- Wall clock: LuaSocket when present, else date(1) (a few ms per reading,
-- nothing next to the seconds measured here).
local now
do
  local ok, socket = pcall(require, "socket")
  if ok and type(socket) == "table" and socket.gettime then
    now = socket.gettime
  else
    now = function()
      local p = assert(io.popen("date +%s.%N"))
      local t = tonumber(p:read("*a"))
      p:close()
      return t
    end
  end
end

local function median(t)
  local c = {}
  for i = 1, #t do c[i] = t[i] end
  table.sort(c)
  local n = #c
  if n % 2 == 1 then return c[(n + 1) / 2] end
  return (c[n / 2] + c[n / 2 + 1]) / 2
end

local base = env("SOGET_BASE_URL")
local origin, path = base:match("^(https?://[^/]+)(/.*)$")
local options = {
  client_id = env("SOGET_CLIENT_ID"), client_secret = env("SOGET_CLIENT_SECRET"),
  api_key = env("SOGET_API_KEY"), token_url = env("SOGET_TOKEN_URL"),
  ca_file = os.getenv("SOGET_CA_FILE"),
  base_url = DELAY_MS > 0 and (origin .. "/_fault/delay:ms=" .. DELAY_MS .. path) or base,
  timeout = 10,
}

-- The lookups: distinct references the sandbox knows (read without the
-- delay), repeated when it knows fewer.
local refs = {}
do
  local c = soget.client {
    client_id = options.client_id, client_secret = options.client_secret,
    api_key = options.api_key, token_url = options.token_url,
    ca_file = options.ca_file, base_url = base,
  }
  local page = assert(c:handling_units { reference = "MSCU", limit = 10 })
  local known = {}
  for hu in page:iter { max_items = LOOKUPS } do known[#known + 1] = hu.reference end
  c:close()
  assert(#known > 0, "the sandbox has no MSCU units")
  for i = 1, LOOKUPS do refs[i] = known[(i - 1) % #known + 1] end
end

local client = soget.client(options)   -- one client, the same settings for both
local failures = 0

local function sequential()
  for i = 1, #refs do
    local page, err = client:handling_units(refs[i])
    if not page then
      failures = failures + 1
      io.stderr:write("bench/bulk.lua: sequential lookup ", i, ": ", tostring(err), "\n")
    end
  end
end

local function concurrent()
  local _, counts = client:handling_units_many(refs, { concurrency = CONCURRENCY })
  if counts.failed > 0 then
    failures = failures + counts.failed
    io.stderr:write("bench/bulk.lua: ", counts.failed, " concurrent lookups failed\n")
  end
end

local function timed(fn)
  collectgarbage()
  local t0 = now()
  fn()
  return now() - t0
end

-- Warm-up: the token, and the connections of both paths.
assert(client:handling_units(refs[1]))
client:handling_units_many({ refs[1], refs[2] or refs[1] }, { concurrency = 2 })

local started = now()
local seq, con, ratio = {}, {}, {}
for r = 1, RUNS do
  if r > 3 and now() - started > BUDGET then break end
  local s, c
  if r % 2 == 1 then   -- alternate which side goes first
    s = timed(sequential); c = timed(concurrent)
  else
    c = timed(concurrent); s = timed(sequential)
  end
  seq[r], con[r], ratio[r] = s, c, s / c
end
local stats = client:stats()
client:close()

local s, c, x = median(seq), median(con), median(ratio)
print(string.format("bulk: %d lookups, %d ms of latency added by the sandbox, median of %d runs",
  LOOKUPS, DELAY_MS, #seq))
print(string.format("  one after another (handling_units)   %8.3f s  %8.1f lookups/s", s, LOOKUPS / s))
print(string.format("  concurrency %-2d (handling_units_many) %8.3f s  %8.1f lookups/s",
  CONCURRENCY, c, LOOKUPS / c))
print(string.format("  speed-up %.1fx (target >= %dx: %s); %d connections, %d token requests",
  x, TARGET, x >= TARGET and "met" or "MISSED", stats.connections, stats.token_requests))
print(string.format("RESULT bulk.lookups %d", LOOKUPS))
print(string.format("RESULT bulk.delay_ms %d", DELAY_MS))
print(string.format("RESULT bulk.concurrency %d", CONCURRENCY))
print(string.format("RESULT bulk.sequential_s %.4f", s))
print(string.format("RESULT bulk.concurrent_s %.4f", c))
print(string.format("RESULT bulk.speedup %.2f", x))
print(string.format("RESULT bulk.target_met %s", tostring(x >= TARGET)))
if failures > 0 then
  print(string.format("RESULT bulk.failures %d", failures))
  os.exit(1)
end
