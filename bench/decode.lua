-- Decode cost: soget.decode against cjson.decode on the same body, and
-- against cjson.decode plus an efficient Lua pass that keeps soget's
-- contract (spec/fuzz/contract.lua); and, side by side, soget's builder fed by
-- libyajl alone (parser = "yajl") against cjson.decode, which shows what
-- simdjson gives. CPU time, alternating rounds, medians.
--   lua bench/decode.lua NAME=FILE[:CALLS] ...   (ROUNDS in the environment)
local B = require "lib"
local soget = B.soget()
local cjson = require "cjson"
local contract = require "contract"

local rounds = tonumber(os.getenv("BENCH_ROUNDS") or "") or 9

for _, a in ipairs(arg) do
  local name, file, calls = a:match("^([^=]+)=([^:]+):?(%d*)$")
  assert(name, "argument: NAME=FILE[:CALLS]")
  local body = B.readfile(file)
  calls = tonumber(calls) or 100
  -- The three must agree on the body before anything is timed.
  local page = assert(soget.decode(body))
  local ref = assert(contract.decode(body))
  assert(#page.items == #ref.items and page.total == ref.total, "soget and the baseline disagree")
  -- simdjson alone decodes it: the default's figure is simdjson's
  assert(soget.decode(body, { parser = "simdjson" }), "simdjson does not decode the body")
  local yajl = { parser = "yajl" }
  assert(soget.decode(body, yajl))
  local function s() soget.decode(body) end
  local function y() soget.decode(body, yajl) end
  local function c() cjson.decode(body) end
  local function k() contract.decode(body) end
  local ts, tc, r1 = B.alternate(s, c, calls, rounds, os.clock)
  local ts2, tk, r2 = B.alternate(s, k, calls, rounds, os.clock)
  local ty, _, r3 = B.alternate(y, c, calls, rounds, os.clock)
  B.result("decode." .. name .. ".bytes", #body)
  B.result("decode." .. name .. ".soget_us", string.format("%.1f", B.median { ts, ts2 } * 1e6))
  B.result("decode." .. name .. ".cjson_us", string.format("%.1f", tc * 1e6))
  B.result("decode." .. name .. ".contract_us", string.format("%.1f", tk * 1e6))
  B.result("decode." .. name .. ".ratio_cjson", string.format("%.2f", r1))
  B.result("decode." .. name .. ".ratio_contract", string.format("%.2f", r2))
  B.result("decode." .. name .. ".yajl_us", string.format("%.1f", ty * 1e6))
  B.result("decode." .. name .. ".ratio_yajl_cjson", string.format("%.2f", r3))
end
