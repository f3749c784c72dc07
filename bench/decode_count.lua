-- For callgrind: decodes FILE `count` times with one decoder (soget, cjson,
-- contract, or soget-yajl: soget's builder fed by libyajl alone). bench/run runs it twice under callgrind with two counts; the
-- difference of the instruction totals over the difference of the counts
-- is the cost of one decode, start-up and loading excluded.
--   lua bench/decode_count.lua soget|soget-yajl|cjson|contract FILE COUNT
local B = require "lib"
local which, file, count = arg[1], arg[2], tonumber(arg[3])
local body = B.readfile(file)
local decode
if which == "soget" then decode = B.soget().decode
elseif which == "soget-yajl" then
  local d, opts = B.soget().decode, { parser = "yajl" }
  decode = function(b) return d(b, opts) end
elseif which == "cjson" then decode = require("cjson").decode
elseif which == "contract" then decode = require("contract").decode
else error("decoder: soget, soget-yajl, cjson or contract") end
assert(decode(body))   -- loads and warms up outside the counted difference
for _ = 1, count do decode(body) end
