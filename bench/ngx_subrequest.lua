-- The subrequest driver soget.ngx had before its cosocket rewrite, kept only
-- as make bench's comparison (bench/openresty.lua): each request of the
-- core went out as ngx.location.capture to an internal location that
-- proxy_passed it to a keep-alive upstream. Not installed, not maintained.
local soget = require "soget"

local ngx = ngx
local capture = ngx.location.capture
local type, tostring, pairs, error, setmetatable = type, tostring, pairs, error, setmetatable
local tonumber, min = tonumber, math.min

local M = { _VERSION = "soget.ngx " .. (soget._VERSION or ""):gsub("^soget ", "") }

local USER_AGENT = (soget._VERSION or "soget"):gsub(" ", "/") .. " (ngx_lua)"

-- The headers a request from the core may carry, and the nginx variable
-- (set in the internal location) that carries each one.
local HEADER_VARS = {
  ["Authorization"] = "soget_authorization",
  ["Ocp-Apim-Subscription-Key"] = "soget_api_key",
  ["Accept"] = "soget_accept",
  ["Content-Type"] = "soget_content_type",
}

local MAX_STEPS = 100   -- far more than any call needs (retries are at most 10)

---------------------------------------------------------------------------
-- Options

local DEFAULTS = {
  location = "/_soget",      -- the internal location that proxy_passes
  upstreams = nil,           -- { [origin] = upstream name }
  token_cache = nil,         -- from sng.token_cache(...)
  max_response_size = 8 * 1024 * 1024,
}
local defaults = {}
for k, v in pairs(DEFAULTS) do defaults[k] = v end

local KNOWN = { location = true, upstreams = true, token_cache = true,
  max_response_size = true, max_items = true, max_pages = true }

-- Raises at `level` (the user's call, as counted from here).
local function check_opts(o, where, level)
  if o == nil then return end
  if type(o) ~= "table" then error(where .. ": options must be a table", level) end
  for k in pairs(o) do
    if not KNOWN[k] then error(where .. ": unknown option '" .. tostring(k) .. "'", level) end
  end
  if o.location ~= nil and (type(o.location) ~= "string" or o.location:sub(1, 1) ~= "/") then
    error(where .. ": 'location' must be a path such as \"/_soget\"", level)
  end
  if o.upstreams ~= nil and type(o.upstreams) ~= "table" then
    error(where .. ": 'upstreams' must be a table { [origin] = upstream name }", level)
  end
  if o.max_response_size ~= nil and (type(o.max_response_size) ~= "number"
      or o.max_response_size < 1) then
    error(where .. ": 'max_response_size' must be a positive number of bytes", level)
  end
  if o.token_cache ~= nil and (type(o.token_cache) ~= "table" or not o.token_cache.dict) then
    error(where .. ": 'token_cache' must come from soget.ngx.token_cache()", level)
  end
end

-- "https://Host:443/x" -> "https://host", "/x"; nil when not http(s).
local DEFAULT_PORT = { http = "80", https = "443" }
local function split_url(url)
  local scheme, authority, rest = url:match("^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if not scheme then return nil end
  scheme = scheme:lower()
  if not DEFAULT_PORT[scheme] then return nil end
  authority = authority:lower()
  local host, port = authority:match("^(.-):(%d+)$")
  if port == DEFAULT_PORT[scheme] then authority = host end
  if rest == "" then rest = "/" end
  return scheme, authority, rest
end

local function normalize_upstreams(t)
  local n = {}
  for origin, name in pairs(t or {}) do
    if type(origin) ~= "string" or type(name) ~= "string" or not name:match("^[%w_.-]+$") then
      error("soget.ngx: 'upstreams' maps an origin such as \"https://host\" to an "
        .. "upstream name", 3)
    end
    local scheme, authority = split_url(origin)
    if not scheme then error("soget.ngx: not an http(s) origin: " .. origin, 3) end
    n[scheme .. "://" .. authority] = name
  end
  return n
end

local function merged(opts, where)
  check_opts(opts, where, 4)
  if opts == nil then return defaults end
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  if opts.upstreams then o.upstreams = normalize_upstreams(opts.upstreams) end
  return o
end

--- sng.configure(opts): the defaults of every later call in this worker.
function M.configure(opts)
  check_opts(opts, "soget.ngx.configure", 3)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  o.upstreams = normalize_upstreams(o.upstreams)
  defaults = o
end

---------------------------------------------------------------------------
-- Token cache: a lua_shared_dict shared by the workers.

local Cache = {}
Cache.__index = Cache

--- sng.token_cache(dict_name[, {key, lock_wait, lock_ttl}]) -> cache
-- key: one per set of credentials (default "soget"); lock_wait: how long a
-- call waits for another one's renewal (seconds, default 5); lock_ttl: how
-- long a renewal may hold the lock (default 15).
function M.token_cache(dict_name, opts)
  if type(dict_name) ~= "string" then
    error("soget.ngx.token_cache: the name of a lua_shared_dict is required", 2)
  end
  local dict = ngx.shared[dict_name]
  if not dict then
    error("soget.ngx.token_cache: no lua_shared_dict named '" .. dict_name .. "'", 2)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "key" and k ~= "lock_wait" and k ~= "lock_ttl" then
      error("soget.ngx.token_cache: unknown option '" .. tostring(k) .. "'", 2)
    end
  end
  local key = opts.key or "soget"
  return setmetatable({
    dict = dict, name = dict_name,
    key = "token:" .. key, lock_key = "lock:" .. key,
    lock_wait = tonumber(opts.lock_wait) or 5,
    lock_ttl = tonumber(opts.lock_ttl) or 15,
  }, Cache)
end

-- token, renew_at (ngx.now() time) | nil
function Cache:get()
  local v = self.dict:get(self.key)
  if type(v) ~= "string" then return nil end
  local at, tok = v:match("^([%d.]+) (.+)$")
  at = tonumber(at)
  if not at or at <= ngx.now() then return nil end
  return tok, at
end

function Cache:put(tok, seconds_left)
  if not seconds_left or seconds_left <= 0 then return end
  local at = ngx.now() + seconds_left
  self.dict:set(self.key, ("%.3f %s"):format(at, tok), seconds_left)
end

-- Forgets the token when it is still the one the API refused.
function Cache:forget(tok)
  if self:get() == tok then self.dict:delete(self.key) end
end

function Cache:lock()
  return self.dict:add(self.lock_key, ngx.worker.pid(), self.lock_ttl)
end

function Cache:unlock()
  self.dict:delete(self.lock_key)
end

--- cache:flush(): forgets the shared token (the next call fetches one).
function Cache:flush()
  self.dict:delete(self.key)
end

-- What this worker knows about a client's token: the one it set or
-- fetched, and when it is due for renewal.
local known = setmetatable({}, { __mode = "k" })

local function adopt(client, st, tok, at)
  local left = at - ngx.now()
  if left <= 0 then return false end
  if st.token ~= tok then client:set_token(tok, left) end
  st.token, st.renew_at = tok, at
  return true
end

-- Gives the client the shared token, or takes the renewal lock when there
-- is none. Returns true when this call holds the lock.
local function sync_token(client, st, cache)
  if st.token and st.renew_at > ngx.now() then return false end
  local tok, at = cache:get()
  if tok and adopt(client, st, tok, at) then return false end
  local deadline = ngx.now() + cache.lock_wait
  local pause = 0.005
  while true do
    if cache:lock() then
      tok, at = cache:get()   -- renewed while we waited for the lock?
      if tok and adopt(client, st, tok, at) then
        cache:unlock()
        return false
      end
      return true
    end
    if ngx.now() >= deadline then return false end   -- renew without the lock
    ngx.sleep(pause)
    pause = min(pause * 2, 0.05)
    if st.token and st.renew_at > ngx.now() then return false end
    tok, at = cache:get()
    if tok and adopt(client, st, tok, at) then return false end
  end
end

---------------------------------------------------------------------------
-- Transport: one request of the core through the internal location.

-- Runs in the internal location (rewrite_by_lua) for each subrequest: the
-- request to make is in ngx.ctx, put there by send().
function M.upstream_request()
  local rq = ngx.ctx.soget_request
  if not rq then return ngx.exit(ngx.HTTP_NOT_FOUND) end
  local var = ngx.var
  var.soget_url = rq.url
  var.soget_host = rq.host
  var.soget_user_agent = USER_AGENT
  for _, name in pairs(HEADER_VARS) do var[name] = rq[name] or "" end
end

local function first(v)
  if type(v) == "table" then return v[1] end
  return v
end

-- -> status, body, retry_after, location, www_authenticate | nil, message, kind, retryable
local function send(req, o)
  local scheme, authority, rest = split_url(req.url)
  local upstream = scheme and o.upstreams and o.upstreams[scheme .. "://" .. authority]
  if not upstream then
    return nil, "soget.ngx: no upstream configured for "
      .. (scheme and (scheme .. "://" .. authority) or "this URL")
      .. " (see the 'upstreams' option)", "network", false
  end
  local rq = { url = scheme .. "://" .. upstream .. rest, host = authority }
  for name, value in pairs(req.headers) do
    local var = HEADER_VARS[name]
    if not var then
      return nil, "soget.ngx: the core asked for a header this driver cannot send: "
        .. tostring(name), "network", false
    end
    rq[var] = value
  end
  local res = capture(o.location, {
    method = req.method == "POST" and ngx.HTTP_POST or ngx.HTTP_GET,
    body = req.body,
    ctx = { soget_request = rq },
  })
  local status, body = res.status, res.body or ""
  -- The kinds are those of the C transport for the same failure. nginx's
  -- own failures come back truncated, with its 502 or 504 and no body; an
  -- answer cut short by the upstream is truncated too. nginx reports a TLS
  -- failure as it reports a refused or reset connection (a 502, the
  -- reason only in its error log), so it is "network" here, not "tls".
  if res.truncated then
    if body == "" and status == 504 then
      return nil, "the upstream did not answer in time (proxy_read_timeout)", "timeout", true
    elseif body == "" and status == 502 then
      return nil, "no answer from the upstream (connection refused or reset, or TLS "
        .. "failure: see the nginx error log)", "network", true
    end
    return nil, "the response was cut short", "network", true
  end
  -- A size limit, never retried.
  if #body > o.max_response_size then
    return nil, ("response body is larger than max_response_size (%d bytes)"):format(
      o.max_response_size), "http", false
  end
  local h = res.header or {}
  local www = h["WWW-Authenticate"]   -- (a table when repeated: one list)
  if type(www) == "table" then www = table.concat(www, ", ") end
  return status, body, first(h["Retry-After"]), first(h["Location"]), www
end

---------------------------------------------------------------------------
-- Driving a call.

local function bearer(req)
  local a = req.headers and req.headers.Authorization
  return a and a:match("^Bearer (.+)$")
end

-- Runs a soget.Call to its end: page | nil, err.
local function drive(client, call, o)
  local cache = o.token_cache
  local st = known[client]
  if not st then st = {}; known[client] = st end
  local locked = false
  local sent_count = 0
  while sent_count < MAX_STEPS do   -- waits for another call's token do not count
    if cache and not locked then locked = sync_token(client, st, cache) end
    local req, rerr, rwait = call:request()
    if not req and rerr then
      if locked then cache:unlock() end
      return nil, rerr
    end
    if locked and (not req or req.kind ~= "token") then
      -- the client had a token of its own, or another call of this worker
      -- is fetching one (the core's lease): nothing to share from here
      cache:unlock()
      locked = false
    end
    if not req then   -- another call of this client is fetching the token
      ngx.sleep(rwait)
      goto continue
    end
    sent_count = sent_count + 1
    local sent, status, a, b, c, d = pcall(send, req, o)
    if not sent then   -- e.g. ngx.location.capture used where nginx forbids it
      if locked then cache:unlock() end
      error(status, 0)
    end
    local page, err, wait
    if status then   -- a: body, b: Retry-After, c: Location, d: WWW-Authenticate
      page, err, wait = call:response(status, a, b, c, d)
    else             -- a: message, b: kind, c: retryable
      page, err, wait = call:failed(a, b, c)
    end
    if req.kind == "token" then
      if not err then   -- the core stored the token: share it
        local tok, left = client:token()   -- no I/O: the client holds a fresh token
        if tok and left and left > 0 then
          st.token, st.renew_at = tok, ngx.now() + left
          if cache then cache:put(tok, left) end
        end
      end
      if locked then cache:unlock(); locked = false end
    elseif status == 401 then   -- the token was refused: nobody should use it again
      -- (the core decides what the client does: resend with a token that
      -- replaced it meanwhile, or renew once)
      local refused = bearer(req)
      if st.token == refused then st.token, st.renew_at = nil, 0 end
      if cache and refused then cache:forget(refused) end
    end
    if page then return page end
    if err then return nil, err end
    if wait and wait > 0 then ngx.sleep(wait) end
    ::continue::
  end
  if locked then cache:unlock() end
  error("soget.ngx: the call did not end")
end

local function fetch(client, query, offset, o)
  local call = client:begin(query, offset)
  local page, err = drive(client, call, o)
  call:close()
  return page, err
end

--- sng.handling_units(client, query[, opts]) -> page | nil, err
-- Like client:handling_units, without blocking the worker.
function M.handling_units(client, query, opts)
  return fetch(client, query, nil, merged(opts, "soget.ngx.handling_units"))
end

--- sng.handling_units_search(client, query[, opts]) -> page | nil, err
-- Like client:handling_units_search, without blocking the worker; the
-- token is the same (and shared the same way) as for lookups.
function M.handling_units_search(client, query, opts)
  return fetch(client, { search = query }, nil,
    merged(opts, "soget.ngx.handling_units_search"))
end

--- sng.iter(client, page[, opts]) -> iterator over the units of page and
-- of the following pages, fetched without blocking the worker when needed.
-- opts may also hold max_items and max_pages. Raises the soget.Error of a
-- failed page fetch, as page:iter() does.
function M.iter(client, page, opts)
  local o = merged(opts, "soget.ngx.iter")
  local it = page:iter{ manual = true, max_items = o.max_items, max_pages = o.max_pages }
  return function()
    while true do
      local hu, what, offset, query = it:next()
      if hu ~= nil then return hu end
      if what ~= "fetch" or query == nil then return nil end
      local p, err = fetch(client, query, offset, o)
      if not p then
        it:close()
        error(err, 0)
      end
      it:feed(p, offset)
    end
  end, it
end

return M
