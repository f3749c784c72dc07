-- Sequential lookups over one keep-alive connection: soget against the loop
-- a user would write by hand with the same two headers and cjson.decode.
--   lua bench/keepalive.lua ratio BASELINE QUERY CALLS ROUNDS [FAULT]
--       BASELINE: socket (LuaSocket, any Lua) or curl (Debian's lua-curl,
--       Lua 5.1/5.2/LuaJIT), curl-gzip (the same asking for gzip, as soget
--       does by default). soget asks for gzip exactly when the baseline does. FAULT: a sandbox fault spec such as
--       delay:ms=20, applied to both sides through the URL.
--   lua bench/keepalive.lua rps QUERY SECONDS
--       soget's requests per second on one client, for the comparison with
--       the bare libcurl loop (bench/curl_loop.c) and wrk.
--   lua bench/keepalive.lua count QUERY COUNT
--       one lookup (the token, the connection), then exactly COUNT more on
--       the same client: bench/run runs it under callgrind with two counts.
-- Both go to the sandbox's plain-HTTP origin (LuaSocket has no TLS).
local B = require "lib"
local soget = B.soget()
local cjson = require "cjson"

local origin = B.env("SOGET_SANDBOX_HTTP")
local mode = arg[1]

local function base_url(fault)
  if fault and fault ~= "" then
    return origin .. "/_fault/" .. fault .. "/api-tracing-code/v1"
  end
  return origin .. "/api-tracing-code/v1"
end

-- QUERY is a URL query string; soget gets the same as a table.
local function query_table(q)
  local t = {}
  for k, v in q:gmatch("([^&=]+)=([^&]*)") do
    if k == "limit" or k == "offset" then v = tonumber(v) end
    t[k] = v
  end
  return t
end

-- soget asks for gzip only when the baseline does, so both pay the same.
local function new_client(fault, gzip)
  return soget.client {
    gzip = gzip or false,
    base_url = base_url(fault),
    token_url = origin .. "/soget-connect/v1/openid-connect/token",
    client_id = B.env("SOGET_CLIENT_ID"),
    client_secret = B.env("SOGET_CLIENT_SECRET"),
    api_key = B.env("SOGET_API_KEY"),
  }
end

-- The hand-written loops. Each keeps one connection open across calls.
local baselines = {}

function baselines.socket(url, token, api_key)
  local socket = require "socket"
  local host, port, path = url:match("^http://([^:/]+):(%d+)(/.*)$")
  assert(host, "plain http URL expected: " .. url)
  local request = "GET " .. path .. " HTTP/1.1\r\nHost: " .. host .. ":" .. port ..
    "\r\nAuthorization: Bearer " .. token ..
    "\r\nOcp-Apim-Subscription-Key: " .. api_key .. "\r\n\r\n"
  local sock
  local function connect()
    sock = assert(socket.tcp())
    sock:settimeout(10)
    assert(sock:connect(host, tonumber(port)))
    sock:setoption("tcp-nodelay", true)
  end
  connect()
  return function()
    assert(sock:send(request))
    local status = assert(sock:receive("*l"))
    local len, chunked, close
    while true do
      local line = assert(sock:receive("*l"))
      if line == "" then break end
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      name = name and name:lower()
      if name == "content-length" then len = tonumber(value)
      elseif name == "transfer-encoding" then chunked = value:lower():find("chunked", 1, true)
      elseif name == "connection" then close = value:lower() == "close" end
    end
    local body
    if chunked then
      local parts = {}
      while true do
        local size = tonumber(assert(sock:receive("*l")):match("^%x+"), 16)
        if size == 0 then assert(sock:receive("*l")); break end
        parts[#parts + 1] = assert(sock:receive(size))
        assert(sock:receive("*l"))
      end
      body = table.concat(parts)
    else
      body = assert(sock:receive(len))
    end
    if close then sock:close(); connect() end
    assert(status:find(" 200 ", 1, true), status)
    return cjson.decode(body)
  end
end

local function curl_loop(url, token, api_key, gzip)
  local curl = require "curl"
  local e = curl.easy_init()
  local parts, n = {}, 0
  e:setopt(curl.OPT_URL, url)
  if gzip then e:setopt(curl.OPT_ACCEPT_ENCODING, "") end
  e:setopt(curl.OPT_HTTPHEADER, { "Authorization: Bearer " .. token,
    "Ocp-Apim-Subscription-Key: " .. api_key })
  e:setopt(curl.OPT_WRITEFUNCTION, function(s, len)
    n = n + 1
    parts[n] = s
    return len
  end)
  return function()
    parts, n = {}, 0
    local rc = e:perform()
    assert(rc == 0, "curl error " .. tostring(rc))
    return cjson.decode(table.concat(parts, "", 1, n))
  end
end

function baselines.curl(url, token, api_key) return curl_loop(url, token, api_key, false) end
-- The same loop asking for a compressed body, as soget does.
baselines["curl-gzip"] = function(url, token, api_key) return curl_loop(url, token, api_key, true) end

local function stats(client)
  local s = client:stats()
  return s.api_requests, s.token_requests, s.connections
end

if mode == "ratio" then
  local which, query, calls, rounds, fault = arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5]), arg[6]
  assert(baselines[which], "baseline: socket, curl or curl-gzip")
  local client = new_client(fault, which == "curl-gzip")
  local q = query_table(query)
  local token = assert(client:token())
  local url = base_url(fault) .. "/handling-units?" .. query
  local plain = baselines[which](url, token, B.env("SOGET_API_KEY"))
  local want = #plain().items
  local function s()
    local page = client:handling_units(q)
    if not page then error("soget: a call failed") end
  end
  local function b() plain() end
  s()
  assert(#assert(client:handling_units(q)).items == want, "soget and the baseline see different pages")
  local ts, tb, ratio = B.alternate(s, b, calls, rounds)
  local api, tok, conns = stats(client)
  B.result("items", want)
  B.result("soget_ms", string.format("%.3f", ts * 1e3))
  B.result("baseline_ms", string.format("%.3f", tb * 1e3))
  B.result("ratio", string.format("%.2f", ratio))
  B.result("soget_connections", conns)
  B.result("soget_token_requests", tok)
  B.result("soget_api_requests", api)
  client:close()
elseif mode == "rps" then
  local query, seconds = arg[2], tonumber(arg[3])
  local client = new_client()
  local q = query_table(query)
  assert(client:handling_units(q))
  for _ = 1, 50 do assert(client:handling_units(q)) end   -- warm-up
  local n, t0 = 0, B.now()
  local deadline = t0 + seconds
  repeat
    for _ = 1, 50 do
      if not client:handling_units(q) then error("soget: a call failed") end
    end
    n = n + 50
  until B.now() >= deadline or n >= 1000000
  local rps = n / (B.now() - t0)
  B.result("rps", string.format("%.0f", rps))
  local _, _, conns = stats(client)
  B.result("connections", conns)
  client:close()
elseif mode == "count" then
  local query, count = arg[2], tonumber(arg[3])
  assert(count and count >= 0 and count <= 1000000, "COUNT: 0..1000000")
  local client = new_client()
  local q = query_table(query)
  assert(client:handling_units(q))
  for _ = 1, count do
    if not client:handling_units(q) then error("soget: a call failed") end
  end
  local api, tok, conns = stats(client)
  B.result("api_requests", api)
  B.result("token_requests", tok)
  B.result("connections", conns)
  client:close()
else
  error("mode: ratio, rps or count")
end
