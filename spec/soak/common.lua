-- The soak's shared part (the README, "Soak under faults"): a kept-alive
-- HTTP/1.1 client for the sandbox's control endpoint and the nginx under test, the
-- expected answers (from the sandbox's own /_control/units and
-- /_control/search), the comparison of what soget returned with them, and
-- the rules that explain a call's requests (the sandbox's request log) and
-- its outcome by the faults the sandbox injected. Runs on Lua 5.1 to 5.4
-- and LuaJIT; needs LuaSocket and lua-cjson.
local socket = require "socket"
local cjson = require "cjson"

local M = {}
M.null = cjson.null
M.json = cjson
M.now = socket.gettime
M.sleep = socket.sleep

---------------------------------------------------------------------------
-- HTTP/1.1 over one kept-alive connection (Content-Length or chunked)
local Http = {}
Http.__index = Http

function M.http(url)
  local host, port = url:match("^http://([^:/]+):(%d+)")
  assert(host, "not an http://host:port URL: " .. tostring(url))
  return setmetatable({ host = host, port = tonumber(port), timeout = 180 }, Http)
end

function Http:close()
  if self.sock then self.sock:close() end
  self.sock = nil
end

local function read_body(sock, headers)
  local len = headers["content-length"]
  if len then return sock:receive(tonumber(len)) end
  if (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    local parts = {}
    for _ = 1, 1000000 do
      local line, err = sock:receive("*l")
      if not line then return nil, err end
      local n = tonumber(line:match("^%x+"), 16)
      if not n then return nil, "bad chunk size" end
      if n == 0 then
        repeat line, err = sock:receive("*l") until not line or line == ""
        if not line then return nil, err end
        return table.concat(parts)
      end
      local data, derr = sock:receive(n)
      if not data then return nil, derr end
      parts[#parts + 1] = data
      local crlf = sock:receive("*l")
      if crlf ~= "" then return nil, "bad chunk end" end
    end
    return nil, "too many chunks"
  end
  return nil, "no length"
end

-- One request; a kept-alive connection the server closed is replaced once.
-- Returns status, body, headers (lowercased names), or nil, err.
function Http:request(method, path, body)
  for attempt = 1, 2 do
    if not self.sock then
      local s = socket.tcp()
      s:settimeout(self.timeout)
      local ok, err = s:connect(self.host, self.port)
      if not ok then s:close(); return nil, "connect: " .. tostring(err) end
      self.sock, self.fresh = s, true
    else
      self.fresh = false
    end
    local s = self.sock
    local req = method .. " " .. path .. " HTTP/1.1\r\nHost: " .. self.host .. ":" .. self.port
      .. "\r\nContent-Length: " .. #(body or "") .. "\r\n\r\n" .. (body or "")
    local ok, err = s:send(req)
    local line
    if ok then line, err = s:receive("*l") end
    if line then
      local status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)"))
      if not status then self:close(); return nil, "bad status line" end
      local headers = {}
      while true do
        local h, herr = s:receive("*l")
        if not h then self:close(); return nil, herr end
        if h == "" then break end
        local k, v = h:match("^([^:]+):%s*(.-)%s*$")
        if k then headers[k:lower()] = v end
      end
      local data, berr = read_body(s, headers)
      if not data then self:close(); return nil, "body: " .. tostring(berr) end
      if (headers.connection or ""):lower() == "close" then self:close() end
      return status, data, headers
    end
    self:close()
    if self.fresh or attempt == 2 then return nil, tostring(err) end
  end
end

function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

function M.query_string(t, keys)
  local parts = {}
  for _, k in ipairs(keys) do
    if t[k] ~= nil then parts[#parts + 1] = k .. "=" .. M.urlencode(t[k]) end
  end
  return table.concat(parts, "&")
end

-- The sandbox's control endpoint (plain HTTP listener).
function M.control(origin)
  local h = M.http(origin)
  local c = {}
  function c.get(path)
    local status, body = h:request("GET", path)
    assert(status == 200, "control " .. path .. ": " .. tostring(status) .. " " .. tostring(body))
    return cjson.decode(body)
  end
  function c.post(path)
    local status, body = h:request("POST", path)
    assert(status == 200, "control " .. path .. ": " .. tostring(status) .. " " .. tostring(body))
    return cjson.decode(body)
  end
  c.http = h
  return c
end

---------------------------------------------------------------------------
-- queries: the keys of each endpoint, normalised (defaults filled in) so
-- that a query and the log's args of its request give the same key
local LOOKUP_KEYS = { "reference", "spi" }
local SEARCH_KEYS = { "documentReference", "voyageAgentReference", "voyageAgentId",
  "customsFlag", "freightAgent" }
M.LOOKUP_KEYS, M.SEARCH_KEYS = LOOKUP_KEYS, SEARCH_KEYS

local function key_of(kind, get)
  local parts = { kind }
  for _, k in ipairs(kind == "search" and SEARCH_KEYS or LOOKUP_KEYS) do
    local v = get(k)
    if v ~= nil and v ~= "" then parts[#parts + 1] = k .. "=" .. tostring(v) end
  end
  local limit, offset, desc = get("limit"), get("offset"), get("desc")
  parts[#parts + 1] = "limit=" .. tostring(tonumber(limit) or 5)
  parts[#parts + 1] = "offset=" .. tostring(tonumber(offset) or 0)
  desc = desc == true or (type(desc) == "string" and desc:lower() == "true")
  parts[#parts + 1] = "desc=" .. tostring(desc)
  return table.concat(parts, "&")
end

-- kind: "lookup" or "search"; q the query table as given to soget
function M.query_key(kind, q)
  return key_of(kind, function(k)
    local v = q[k]
    if k == "limit" or k == "offset" then return v and ("%d"):format(v) end
    return v
  end)
end

-- a log entry's key (its decoded args; repeated values are not sent)
function M.entry_key(e)
  local kind = e.path:find("/search", 1, true) and "search" or "lookup"
  local args = e.args or {}
  return key_of(kind, function(k)
    local v = args[k]
    if type(v) == "table" then v = v[1] end
    if v == true then v = "" end
    if (k == "limit" or k == "offset") and v ~= nil then v = ("%d"):format(tonumber(v) or -1) end
    return v
  end)
end

---------------------------------------------------------------------------
-- expected answers
local Expect = {}
Expect.__index = Expect

-- Every unit the sandbox matches for a lookup or a search, in its order.
function M.expectations(ctl)
  return setmetatable({ ctl = ctl, lists = {} }, Expect)
end

function Expect:list(kind, q)
  local qs = M.query_string(q, kind == "search" and SEARCH_KEYS or LOOKUP_KEYS)
  local k = kind .. "?" .. qs
  local l = self.lists[k]
  if not l then
    local path = kind == "search" and "/_control/search?" or "/_control/units?"
    local t = self.ctl.get(path .. qs)
    l = t.items
    assert(#l == t.total, "control: total and items differ")
    self.lists[k] = l
  end
  return l
end

-- The page the sandbox answers for q (limit, offset, desc): its fields and
-- units, as soget promises them (nothing found is an empty page).
function M.expected_page(list, q)
  local limit, offset = q.limit or 5, q.offset or 0
  local total = #list
  local items = {}
  for p = offset, math.min(offset + limit, total) - 1 do
    items[#items + 1] = q.desc and list[total - p] or list[p + 1]
  end
  return { total = total, returned = #items, first = offset, items = items }
end

-- Compares a unit (or any value) as soget gives it with the sandbox's
-- record: JSON null is nil or an empty table (array fields), everything
-- else equal, no key missing or added. tol: relative tolerance for
-- fractional numbers that went through a JSON encoder of 14 digits.
local function same(e, a, path, tol)
  if e == cjson.null then
    if a == nil or (type(a) == "table" and next(a) == nil) then return nil end
    return path .. ": expected null, got " .. type(a)
  end
  local te = type(e)
  if te == "table" then
    if type(a) ~= "table" then return path .. ": expected a table, got " .. type(a) end
    for k, v in pairs(e) do
      local m = same(v, a[k], path .. "." .. tostring(k), tol)
      if m then return m end
    end
    for k in pairs(a) do
      if e[k] == nil then return path .. "." .. tostring(k) .. ": not in the sandbox's record" end
    end
    return nil
  end
  if te == "number" and type(a) == "number" then
    if a == e then return nil end
    if tol and math.abs(a - e) <= tol * math.abs(e) then return nil end
    return path .. (": expected %.17g, got %.17g"):format(e, a)
  end
  if e ~= a then return path .. ": expected " .. tostring(e) .. ", got " .. tostring(a) end
  return nil
end
M.same = same

-- nil when page is the expected page, else what differs
function M.check_page(page, want, tol)
  for _, f in ipairs({ "total", "returned", "first" }) do
    if page[f] ~= want[f] then
      return ("%s is %s, expected %s"):format(f, tostring(page[f]), tostring(want[f]))
    end
  end
  if type(page.items) ~= "table" or #page.items ~= #want.items then
    return ("%d items, expected %d"):format(type(page.items) == "table" and #page.items or -1, #want.items)
  end
  for i = 1, #want.items do
    local m = same(want.items[i], page.items[i], "items[" .. i .. "]", tol)
    if m then return m end
  end
  return nil
end

---------------------------------------------------------------------------
-- explaining a call's requests by the injected faults
--
-- A request the sandbox failed on purpose carries its fault in the log
-- (`chaos`). soget retries 408, 429, 502, 503, 504 and connection failures
-- (reset, truncated body) at most `retries` times, renews its token once on
-- a 401, and never retries a 500.
local RETRIED = { ["408"] = true, ["429"] = true, ["502"] = true, ["503"] = true,
  ["504"] = true, reset = true, truncate = true }
local CUT = { reset = true, truncate = true }

local function chaos_kind(e)
  return e.chaos and e.chaos:match("^[^:]+") or nil
end
M.chaos_kind = chaos_kind

-- The explainer of one client (one User-Agent): keeps the tokens it saw
-- revoked (a 401 for one of them is explained), counts what it met.
function M.explainer(retries)
  local x = { retries = retries, revoked = {}, revoked_order = {}, answered = {},
    answered_order = {}, stats = {
    token_requests = 0, api_requests = 0, chaos = {}, statuses = {}, connections = {},
    connection_count = 0, unexplained_401 = 0, bad_token_answers = 0 } }

  local function token_of(e)
    local a = e.headers and e.headers.authorization
    if type(a) == "table" then a = a[1] end
    return a and a:match("^[Bb]earer +(%S+)")
  end

  -- The API entries of one call grouped by request key, and the keys in
  -- the order of their first request (no side effect).
  function x.group(entries)
    local groups, order = {}, {}
    for _, e in ipairs(entries) do
      if e.kind ~= "token" then
        local k = M.entry_key(e)
        if not groups[k] then groups[k] = {}; order[#order + 1] = k end
        local g = groups[k]
        g[#g + 1] = e
      end
    end
    return groups, order
  end

  -- Counts the entries of one call (in log order) once: requests, faults,
  -- statuses, connections, token requests, revoked tokens. Returns the
  -- problems met: a token request that failed (none is faulted), a 401
  -- for a token that was not revoked.
  function x.account(entries)
    local problems = {}
    local st = x.stats
    local revocations = 0   -- in this call (a batch's lookups together)
    for _, e in ipairs(entries) do
      if not st.connections[e.connection] then
        st.connections[e.connection] = true
        st.connection_count = st.connection_count + 1
      end
      if e.kind == "token" then
        st.token_requests = st.token_requests + 1
        if e.status ~= 200 then
          st.bad_token_answers = st.bad_token_answers + 1
          problems[#problems + 1] = "token request answered " .. tostring(e.status)
        end
      else
        st.api_requests = st.api_requests + 1
        local sk = ("%d"):format(e.status)
        st.statuses[sk] = (st.statuses[sk] or 0) + 1
        local kind = chaos_kind(e)
        if kind then st.chaos[kind] = (st.chaos[kind] or 0) + 1 end
        local tok = token_of(e)
        if tok and (e.status == 200 or e.status == 404) and not x.answered[tok] then
          x.answered[tok] = true
          local o = x.answered_order
          o[#o + 1] = tok
          if #o > 256 then x.answered[table.remove(o, 1)] = nil end
        end
        if kind == "revoke-token" and tok then
          -- revoked: after the API had answered a page to it, or before
          -- (in a batch, the client may read a page answered before the
          -- revocation only after the 401: a second revocation in one
          -- call explains a refusal as well)
          x.revoked[tok] = { used = x.answered[tok] == true, second = revocations > 0 }
          revocations = revocations + 1
          local o = x.revoked_order
          o[#o + 1] = tok
          if #o > 256 then x.revoked[table.remove(o, 1)] = nil end
        elseif e.status == 401 and not kind and not (tok and x.revoked[tok]) then
          st.unexplained_401 = st.unexplained_401 + 1
          problems[#problems + 1] = "a 401 for a token that was not revoked (used past its lifetime?)"
        end
      end
    end
    return problems
  end

  -- nil when the requests g of one query explain the outcome: a page
  -- (err nil) or a soget.Error (err); else what is wrong. expect_code: the
  -- API error the query itself must get (R003), or nil.
  function x.explain(g, err, expect_code)
    if not g or #g == 0 then
      if err then return "an error with no request to the API: " .. tostring(err.kind) end
      return "a page with no request to the API"
    end
    local failed, cut, auth = 0, 0, 0
    for i = 1, #g - 1 do
      local e = g[i]
      local kind = chaos_kind(e)
      if e.status == 401 then
        auth = auth + 1
      elseif kind and RETRIED[kind] then
        failed = failed + 1
        if CUT[kind] then cut = cut + 1 end
      else
        return ("request %d of %d was retried after %s (%s)"):format(i, #g, tostring(e.status),
          tostring(e.chaos or "no fault"))
      end
    end
    -- (a 401 for a token replaced meanwhile is resent with the new one,
    -- up to 3 times, besides the one renewal: the token requests' bound
    -- in spec/soak/run.lua counts renewals)
    if auth > 4 then return ("%d answers 401 for one query"):format(auth) end
    -- soget.ngx resends a request whose kept-alive connection the server
    -- closed before answering (not a retry): a reset can cost one more
    if failed - cut > x.retries or failed > 2 * (x.retries + 1) then
      return ("%d retries, at most %d allowed"):format(failed, x.retries)
    end
    local last = g[#g]
    local kind = chaos_kind(last)
    if not err then
      if expect_code then return "a page where the API answers " .. expect_code end
      if kind and kind ~= "delay" then return "a page from a request the sandbox failed (" .. last.chaos .. ")" end
      if last.status ~= 200 and last.status ~= 404 then return "a page from a " .. tostring(last.status) end
      return nil
    end
    -- an error: the last request must explain it
    local ek, es = err.kind, err.status
    if expect_code and (not kind or kind == "delay") then
      if ek == "api" and err.code == expect_code and last.status == 400 then return nil end
      return ("expected an api error %s, got %s %s"):format(expect_code, tostring(ek), tostring(err.code))
    end
    if ek == "http" and kind == "500" and es == 500 then return nil end
    if ek == "http" and kind and RETRIED[kind] and es == last.status and failed >= x.retries then
      return nil
    end
    if ek == "network" and kind and CUT[kind] and failed >= x.retries then return nil end
    -- auth: the token refused again after the one renewal of this call, or
    -- (in a batch) a renewed token revoked before the API answered a page
    -- to it: soget takes the credentials for refused then
    if ek == "auth" and last.status == 401 then
      local r = x.revoked[token_of(last) or ""]
      if r and (auth >= 1 or not r.used or r.second) then return nil end
    end
    return ("%s error (status %s) not explained by the last request (%s, %s): %s"):format(
      tostring(ek), tostring(es), tostring(last.status), tostring(last.chaos or "no fault"),
      tostring(err.message))
  end

  return x
end

---------------------------------------------------------------------------
-- the process's resources
function M.pid()
  local f = io.open("/proc/self/stat")
  local s = f and f:read("*l")
  if f then f:close() end
  return tonumber(s and s:match("^(%d+)"))
end

function M.rss_kb(pid)
  local f = io.open("/proc/" .. (pid or "self") .. "/status")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- open descriptors of process pid (ls runs in a child; the pipe it writes
-- to is one of pid's descriptors while it runs, counted every time)
function M.fds(pid)
  local p = io.popen("ls -1 /proc/" .. pid .. "/fd 2>/dev/null")
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

function M.error_table(err)
  if not err then return nil end
  return { kind = err.kind, status = err.status, code = err.code, message = err.message,
    retryable = err.retryable }
end

return M
