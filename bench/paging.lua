-- Lua memory while a lazy iterator walks a long result: the peak of
-- collectgarbage("count") sampled at every unit, against the size of one
-- page of decoded units.
--   lua bench/paging.lua QUERY MAX_UNITS
-- Runs against the sandbox in the environment (bench/run starts one with a
-- large data set), over plain HTTP.
local B = require "lib"
local soget = B.soget()

local origin = B.env("SOGET_SANDBOX_HTTP")
local query, max_units = arg[1], tonumber(arg[2]) or 100000
local q = {}
for k, v in query:gmatch("([^&=]+)=([^&]*)") do q[k] = tonumber(v) or v end

local client = soget.client {
  base_url = origin .. "/api-tracing-code/v1",
  token_url = origin .. "/soget-connect/v1/openid-connect/token",
}

-- One page's worth of decoded units, measured alone (the first page's
-- token and connection outside it): held, then let go.
-- luacheck: ignore first held
local first = assert(client:handling_units(q))
collectgarbage(); collectgarbage()
local base = collectgarbage("count")
local held = assert(client:handling_units(q))
collectgarbage(); collectgarbage()
local page_kb = collectgarbage("count") - base
held = nil
first = nil
collectgarbage(); collectgarbage()
base = collectgarbage("count")

-- The walk a script writes: for hu in client:handling_units(q):iter() do,
-- so the script itself holds no page.
local function walk(limit)
  local peak, peak_early, n = base, base, 0
  local live = {}   -- live memory (after a full collection) every 10,000 units
  local first = assert(client:handling_units(q))
  local total = first.total
  local pager = first:iter { max_items = limit }
  first = nil
  for hu in pager do
    n = n + 1
    local kb = collectgarbage("count")
    if kb > peak then peak = kb end
    if n == 1000 then peak_early = peak end
    if n % 10000 == 0 then
      collectgarbage()
      live[#live + 1] = string.format("%d:%.0f", n, collectgarbage("count") - base)
    end
    if hu == nil then break end
  end
  return n, peak, peak_early, live, total
end

local t0 = B.now()
local n, peak, peak_early, live, total = walk(max_units)
local elapsed = B.now() - t0
local st = client:stats()
B.result("query", query)
B.result("total", total)
B.result("units", n)
B.result("pages", st.api_requests)
B.result("seconds", string.format("%.1f", elapsed))
B.result("base_kb", string.format("%.0f", base))
B.result("page_kb", string.format("%.0f", page_kb))
B.result("peak_kb", string.format("%.0f", peak))
B.result("peak_over_base_kb", string.format("%.0f", peak - base))
B.result("peak_first_1000_kb", string.format("%.0f", peak_early))
B.result("peak_pages", string.format("%.1f", (peak - base) / page_kb))
B.result("live_kb_by_units", table.concat(live, ","))
local retained = 0
for _, x in ipairs(live) do
  local kb = tonumber(x:match(":(%S+)$"))
  if kb > retained then retained = kb end
end
B.result("retained_kb", string.format("%.0f", retained))
B.result("retained_pages", string.format("%.1f", retained / page_kb))

-- The same walk (a tenth as long) with the collector's pause at 100: a
-- new cycle as soon as one ends, which is the knob that sets the peak.
collectgarbage(); collectgarbage()
collectgarbage("incremental", 100)
base = collectgarbage("count")
local _, peak100 = walk(math.max(1000, math.floor(max_units / 10)))
collectgarbage("incremental", 200)
B.result("peak_pause100_pages", string.format("%.1f", (peak100 - base) / page_kb))
client:close()
