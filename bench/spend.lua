-- What a run of sequential calls costs the account: token requests, API
-- requests and connections, read from the sandbox's own counters.
--   lua bench/spend.lua CALLS TTL_SECONDS MAX_SECONDS
-- Part 1: CALLS calls on one client over HTTPS (the default set-up, token
-- lifetime 3600 s): one token request and one connection are expected.
-- Part 2: calls for about MAX_SECONDS with tokens that live TTL_SECONDS
-- (the sandbox's token-ttl fault): one token request per lifetime.
local B = require "lib"
local soget = B.soget()
local control = require "control"

local origin = B.env("SOGET_SANDBOX_HTTP")
local https = B.env("SOGET_SANDBOX_HTTPS")
local calls, ttl, max_s = tonumber(arg[1]) or 10000, tonumber(arg[2]) or 2, tonumber(arg[3]) or 6
local q = { reference = "CGMU2436601" }

-- Part 1: the client is made from the environment (SOGET_BASE_URL etc.).
control.reset(origin)
local client = soget.client {}
local t0 = B.now()
for i = 1, calls do
  if not client:handling_units(q) then error("call " .. i .. " failed") end
end
local elapsed = B.now() - t0
local s = control.stats(origin)
local cs = client:stats()
client:close()
B.result("calls", calls)
B.result("seconds", string.format("%.1f", elapsed))
B.result("token_requests", s.token_requests)
B.result("api_requests", s.api_requests)
B.result("connections", s.connections)
B.result("max_requests_per_connection", s.requests_per_connection.max)
B.result("client_retries", cs.retries)

-- Part 2: short-lived tokens.
control.reset(origin)
client = soget.client {
  token_url = https .. "/_fault/token-ttl:s=" .. ttl .. "/soget-connect/v1/openid-connect/token",
}
local n = 0
t0 = B.now()
repeat
  for _ = 1, 20 do
    if not client:handling_units(q) then error("call failed") end
  end
  n = n + 20
until B.now() - t0 >= max_s or n >= 200000
elapsed = B.now() - t0
s = control.stats(origin)
client:close()
B.result("ttl", ttl)
B.result("ttl_calls", n)
B.result("ttl_seconds", string.format("%.1f", elapsed))
B.result("ttl_token_requests", s.token_requests)
B.result("ttl_lifetimes", string.format("%.1f", elapsed / ttl))
B.result("ttl_connections", s.connections)
