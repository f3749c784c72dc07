-- Shared helpers for the benchmark scripts: wall clock, medians, alternating
-- rounds, result lines. Every script prints lines "RESULT <key> <value>" that
-- bench/run collects, next to human-readable ones.
local M = {}

local ok, socket = pcall(require, "socket")
if ok and socket.gettime then
  M.now = socket.gettime
else
  M.now = os.clock   -- CPU time: only good enough for pure computation
end

function M.median(t)
  local c = {}
  for i = 1, #t do c[i] = t[i] end
  table.sort(c)
  local n = #c
  if n == 0 then return 0 / 0 end
  if n % 2 == 1 then return c[(n + 1) / 2] end
  return (c[n / 2] + c[n / 2 + 1]) / 2
end

-- Runs fn() `n` times and returns the seconds per call, by `clock` (the
-- wall clock by default; os.clock, CPU time, for pure computation). A full
-- collection first, so a sample never pays for the other side's garbage.
function M.per_call(fn, n, clock)
  clock = clock or M.now
  collectgarbage()
  local t0 = clock()
  for _ = 1, n do fn() end
  return (clock() - t0) / n
end

-- Alternates a and b for `rounds` rounds of `n` calls each, starting with a
-- different one every round, after one warm-up round each. Returns the
-- median seconds per call of each and the median of the per-round ratios
-- a/b.
function M.alternate(a, b, n, rounds, clock)
  M.per_call(a, math.max(1, math.floor(n / 4)), clock)
  M.per_call(b, math.max(1, math.floor(n / 4)), clock)
  local ta, tb, ratio = {}, {}, {}
  for r = 1, rounds do
    local x, y
    if r % 2 == 1 then
      x = M.per_call(a, n, clock); y = M.per_call(b, n, clock)
    else
      y = M.per_call(b, n, clock); x = M.per_call(a, n, clock)
    end
    ta[r], tb[r], ratio[r] = x, y, x / y
  end
  return M.median(ta), M.median(tb), M.median(ratio), ratio
end

function M.result(key, value)
  io.write(string.format("RESULT %s %s\n", key, tostring(value)))
  io.flush()
end

function M.readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function M.env(name)
  return assert(os.getenv(name), name .. " is not set (run through make bench)")
end

-- The module under test: bench/run points LUA_CPATH at the build.
function M.soget()
  return require("soget")
end

return M
