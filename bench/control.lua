-- The sandbox's control endpoint (not counted by the sandbox itself).
local http = require "socket.http"
local cjson = require "cjson"
local ltn12 = require "ltn12"

local M = {}

local function call(method, url)
  local out = {}
  local ok, code = http.request {
    url = url, method = method, sink = ltn12.sink.table(out),
    headers = method == "POST" and { ["content-length"] = "0" } or nil,
  }
  assert(ok and code == 200, "control endpoint: " .. tostring(code))
  return cjson.decode(table.concat(out))
end

function M.reset(origin) return call("POST", origin .. "/_control/reset") end
function M.stats(origin) return call("GET", origin .. "/_control/stats") end
function M.info(origin) return call("GET", origin .. "/_control/info") end
function M.count(origin, query) return call("GET", origin .. "/_control/units?" .. query).total end

return M
