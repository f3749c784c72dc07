-- soget.ngx: the OpenResty driver. The C core decides every step of a call
-- (token, request, retries, renewal, redirects, paging, decoding) and
-- writes and reads the HTTP/1.1 bytes (call:request_bytes(),
-- soget.http_parser); this module only moves the bytes, over nginx's
-- cosockets, so a handler never blocks its worker:
--
--   * connect (host names through nginx's `resolver`), TLS with
--     verification against `lua_ssl_trusted_certificate`, SNI and session
--     reuse, send, receive in pieces fed to the parser;
--   * kept-alive connections in a pool per origin and set of credentials;
--   * every step's timeout taken from what is left of the call's
--     `timeout`: it bounds the whole call, retries and waits included,
--     and a host name's resolution too, which only nginx's
--     resolver_timeout bounds (the call stops waiting for it then; but
--     for a request that expected an idle connection in its pool and
--     found it closed: see api_exchange);
--   * waits between retries are ngx.sleep;
--   * tokens can be shared by every worker through a lua_shared_dict, with
--     one renewal at a time (a lock taken with the dict's add()).
--
--   local sng = require "soget.ngx"
--   sng.configure{ token_cache = sng.token_cache("soget_tokens") }
--   local page, err = sng.handling_units(client, { reference = "MSCU" })
--   for hu in sng.iter(client, page) do ... end
--
-- Works where cosockets work: server_rewrite_by_lua*, rewrite_by_lua*, access_by_lua*,
-- content_by_lua* and ngx.timer.* callbacks (also ssl_certificate_by_lua*).
-- Elsewhere (init, init_worker, set, log, header and body filters,
-- balancer, the TLS session and client hello phases) a call returns a
-- soget.Error that names the phase and says to start a timer.
local soget = require "soget"
-- (lua-resty-core's, which the Lua module loads; without it, a token
-- request runs in its call, see token_exchange)
local has_semaphore, semaphore = pcall(require, "ngx.semaphore")

local ngx = ngx
local tcp = ngx.socket.tcp
local type, tostring, pairs, error, setmetatable, getmetatable, rawget, pcall = type,
  tostring, pairs, error, setmetatable, getmetatable, rawget, pcall
local tonumber, min, floor = tonumber, math.min, math.floor

local M = { _VERSION = "soget.ngx " .. (soget._VERSION or ""):gsub("^soget ", "") }

local USER_AGENT = (soget._VERSION or "soget"):gsub(" ", "/") .. " (ngx_lua)"

local MAX_STEPS = 1000       -- far more than any call needs: an exact lookup's 50 pages,
                             -- each with its retries (at most 10)
local RECEIVE_SIZE = 65536   -- the most bytes one receive asks for
-- What a receive brought is fed to the parser this many bytes at a time
-- (see feed_steps).
local FEED_STEP = 8192

-- soget.Error's metatable, so that the driver's own errors (the phase
-- error) are the same objects as the core's.
local ERROR_MT = getmetatable(select(2, soget.decode("")))

-- The phases where nginx gives Lua cosockets and ngx.sleep.
-- (not ssl_session_fetch nor ssl_client_hello: nginx gives cosockets there
-- only with an OpenSSL that lets its callbacks wait, which Debian's does
-- not: any wait there ended the handshake, and the call halfway)
local COSOCKET_PHASES = { server_rewrite = true, rewrite = true, access = true, content = true,
  timer = true, ssl_cert = true }

---------------------------------------------------------------------------
-- Options

local DEFAULTS = {
  token_cache = nil,          -- from sng.token_cache(...)
  max_response_size = nil,    -- bytes; nil: the client's max_response_size
  keepalive_timeout = 60,     -- seconds a connection may idle in its pool
  pool_size = 32,             -- idle connections kept per pool
}
local defaults = {}
for k, v in pairs(DEFAULTS) do defaults[k] = v end

local KNOWN = { token_cache = true, max_response_size = true, keepalive_timeout = true,
  pool_size = true }
local ITER_ONLY = { max_items = true, max_pages = true }   -- sng.iter's own
local GONE = { location = true, upstreams = true }

local function positive(v)
  return type(v) == "number" and v > 0 and v < math.huge
end

-- The client's range for max_response_size (soget.options), so that the
-- driver's option takes what the client's does.
local MAX_RESPONSE
for _, opt in ipairs(soget.options) do
  if opt.name == "max_response_size" then MAX_RESPONSE = opt end
end

-- The token cache's class (below): the options check knows its objects.
local Cache = {}

-- Raises at `level` (the user's call, as counted from here).
-- iter: sng.iter's options, which also take ITER_ONLY's. Any key may be
-- false: its built-in default (DEFAULTS), the one way to say "none" of a
-- key whose default is nil (a table cannot hold a nil).
local function check_opts(o, where, level, iter)
  if o == nil then return end
  if type(o) ~= "table" then error(where .. ": options must be a table", level) end
  for k in pairs(o) do
    if GONE[k] then
      error(where .. ": '" .. k .. "' is gone: soget.ngx connects over cosockets and needs "
        .. "no internal location nor upstream (see the README's OpenResty section)", level)
    end
    if not KNOWN[k] and not (iter and ITER_ONLY[k]) then
      error(where .. ": unknown option '" .. tostring(k) .. "'", level)
    end
  end
  -- (the client's range: checked before any request)
  local mrs = o.max_response_size
  if mrs ~= nil and mrs ~= false and not (type(mrs) == "number" and mrs >= MAX_RESPONSE.min
      and mrs <= MAX_RESPONSE.max and (not MAX_RESPONSE.whole or mrs == floor(mrs))) then
    error(string.format("%s: 'max_response_size' must be a number of bytes from %d to %d",
      where, MAX_RESPONSE.min, MAX_RESPONSE.max), level)
  end
  -- (setkeepalive counts milliseconds, and takes 0 for no timeout at all)
  local kt = o.keepalive_timeout
  if kt ~= nil and kt ~= false and not (type(kt) == "number" and kt >= 0.001 and kt <= 86400) then
    error(where .. ": 'keepalive_timeout' must be a number of seconds from 0.001 to 86400", level)
  end
  local ps = o.pool_size
  if ps ~= nil and ps ~= false and not (positive(ps) and ps == floor(ps) and ps <= 2147483647) then
    error(where .. ": 'pool_size' must be a positive whole number", level)
  end
  if o.token_cache ~= nil and o.token_cache ~= false and getmetatable(o.token_cache) ~= Cache then
    error(where .. ": 'token_cache' must come from soget.ngx.token_cache()", level)
  end
end

-- base with opts' keys over it (checked), false being the built-in default.
local function over(base, opts)
  local o = {}
  for k, v in pairs(base) do o[k] = v end
  for k, v in pairs(opts or {}) do
    if v == false then v = DEFAULTS[k] end
    o[k] = v
  end
  return o
end

local function merged(opts, where, iter)
  check_opts(opts, where, 4, iter)
  if opts == nil then return defaults end
  return over(defaults, opts)
end

--- sng.configure([opts]) -> the defaults now in force (a copy)
-- Merges opts into the defaults of every later call in this worker: a key
-- left out keeps its value (a later configure{ keepalive_timeout = 30 }
-- keeps the token cache set before), a key set to false goes back to its
-- built-in default (token_cache = false: none).
function M.configure(opts)
  check_opts(opts, "soget.ngx.configure", 3)
  defaults = over(defaults, opts)
  return over(defaults)
end

---------------------------------------------------------------------------
-- Token cache: a lua_shared_dict shared by the workers.

Cache.__index = Cache

--- sng.token_cache(dict_name[, {key, lock_wait, lock_ttl}]) -> cache
-- key: one per set of credentials (default "soget"); lock_wait: how long a
-- call waits for another one's renewal before one of the waiting calls
-- renews too (seconds, default 5); lock_ttl: how long a renewal may hold
-- a lock (default 15).
function M.token_cache(dict_name, opts)
  if type(dict_name) ~= "string" then
    error("soget.ngx.token_cache: the name of a lua_shared_dict is required", 2)
  end
  local dict = ngx.shared[dict_name]
  if not dict then
    error("soget.ngx.token_cache: no lua_shared_dict named '" .. dict_name .. "'", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("soget.ngx.token_cache: options must be a table", 2)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "key" and k ~= "lock_wait" and k ~= "lock_ttl" then
      error("soget.ngx.token_cache: unknown option '" .. tostring(k) .. "'", 2)
    end
  end
  local key = opts.key or "soget"
  if type(key) ~= "string" or key == "" or #key > 250 then
    error("soget.ngx.token_cache: 'key' must be a string of 1 to 250 bytes", 2)
  end
  local function seconds(name, default)
    local v = opts[name]
    if v == nil then return default end
    if type(v) ~= "number" or not (v >= 0.001 and v <= 3600) then
      error("soget.ngx.token_cache: '" .. name .. "' must be a number of seconds, "
        .. "from 0.001 to 3600", 3)
    end
    return v
  end
  return setmetatable({
    dict = dict, name = dict_name, credentials = key,
    key = "token:" .. key, lock_key = "lock:" .. key, late_key = "late:" .. key,
    lock_wait = seconds("lock_wait", 5),
    lock_ttl = seconds("lock_ttl", 15),
  }, Cache)
end

-- An entry holds the digest of the credentials that fetched its token
-- (soget._credentials): a client whose credentials differ (a key shared
-- by mistake) never takes it, and fetches its own.

-- token, renew_at, expires_at (ngx.now() times) | nil, for the
-- credentials cred: nil too once renew_at is past (the token is then the
-- renewing call's to replace, or to put again with a later renew_at when
-- its renewal failed and it goes on with it until expires_at)
function Cache:get(cred)
  local v = self.dict:get(self.key)
  if type(v) ~= "string" then return nil end
  local at, exp, whose, tok = v:match("^([%d.]+) ([%d.]+) (%x+) (.+)$")
  at, exp = tonumber(at), tonumber(exp)
  if not at or not exp or at <= ngx.now() or whose ~= cred then return nil end
  return tok, at, exp
end

-- The token, its seconds before renewal and before expiry (as
-- client:token() gives them), for the credentials cred.
function Cache:put(tok, seconds_left, expires_in, cred)
  if not seconds_left or seconds_left <= 0 then return end
  local now = ngx.now()
  local at, exp = now + seconds_left, now + math.max(expires_in or 0, seconds_left)
  local ok, err = self.dict:set(self.key, ("%.3f %.3f %s %s"):format(at, exp, cred, tok),
    exp - now)
  if not ok then   -- every worker then renews its own: say why
    ngx.log(ngx.WARN, "soget.ngx: the token could not be stored in the token cache ('",
      self.name, "': ", err, "): each worker renews its own")
  end
end

-- Forgets the token when it is still the one the API refused.
function Cache:forget(tok, cred)
  if self:get(cred) == tok then self.dict:delete(self.key) end
end

-- The lock's handle (which unlock() takes) when this call holds it now;
-- false: another call does; nil, err: the dictionary refused it (full,
-- say), and nobody holds it. late: the second lock, which one of the calls
-- that waited lock_wait for the first takes to renew too. The handle is
-- the lock's value: the key, then this worker's pid and a count of its own.
local locks_taken = 0
local function new_handle(key)
  locks_taken = locks_taken + 1
  return ("%s|%d:%d"):format(key, ngx.worker.pid(), locks_taken)
end

function Cache:lock(late)
  local key = late and self.late_key or self.lock_key
  local handle = new_handle(key)
  local ok, err = self.dict:add(key, handle, self.lock_ttl)
  if ok then return handle end
  if err == "exists" then return false end
  return nil, err
end

-- Lets go of the lock of this handle, if it is still that: a renewal
-- slower than lock_ttl lost it when it expired, and another call's lock
-- in its place stays. (No other call can take the key between the get and
-- the delete while this handle holds it: add() refuses it, and take_over
-- leaves a live worker's lock alone.)
function Cache:unlock(handle)
  local key = handle:sub(1, #self.lock_key + 1) == self.lock_key .. "|" and self.lock_key
    or self.late_key
  if self.dict:get(key) == handle then self.dict:delete(key) end
end

-- Whether the worker of process pid is gone: kill(pid, 0) finds no such
-- process (ESRCH). Anything else (alive, not ours to signal, no ffi) is
-- taken for alive.
local has_ffi, ffi = pcall(require, "ffi")
if has_ffi then pcall(ffi.cdef, "int kill(int pid, int sig);") end
local ESRCH = 3
local function process_gone(pid)
  if not has_ffi or pid == ngx.worker.pid() then return false end
  local ok, r = pcall(function() return ffi.C.kill(pid, 0) end)
  return ok and r ~= 0 and ffi.errno() == ESRCH
end

-- Takes over the lock (the second one with late) when the worker that
-- holds it is gone (killed amid a renewal): its handle names the worker's
-- pid. The lock's handle, false (held by a live worker, or taken over by
-- another call first) or nil, err (as lock()). Without it, a worker gone
-- with the lock held it from every call with a timeout under lock_wait,
-- and with both locks from every call, until lock_ttl. One call takes a
-- dead handle over: the one whose mark for it goes in first (add), so that
-- no call deletes a lock another just took.
function Cache:take_over(late)
  local key = late and self.late_key or self.lock_key
  local handle = self.dict:get(key)
  local pid = type(handle) == "string" and tonumber(handle:match("|(%d+):%d+$"))
  if not pid or not process_gone(pid) then return false end
  local marked, err = self.dict:add("over:" .. handle, true, self.lock_ttl)
  if not marked then
    if err == "exists" then return false end
    return nil, err
  end
  if self.dict:get(key) ~= handle then return false end   -- expired meanwhile, or let go
  local mine = new_handle(key)
  local ok, serr = self.dict:set(key, mine, self.lock_ttl)
  if not ok then return nil, serr end
  return mine
end

--- cache:flush(): forgets the shared token (the next call fetches one).
function Cache:flush()
  self.dict:delete(self.key)
end

-- What this worker knows about a client's token: the one it set or
-- fetched, and when it is due for renewal; and the client's number, for
-- its connection pool when no token cache names its credentials.
local known = setmetatable({}, { __mode = "k" })
local clients_seen = 0

-- This worker's number for each set of credentials, which names their
-- connection pool: nginx writes a pool's name in its debug log, where the
-- digest (a fast hash of the client secret with the token URL and client
-- id) would let whoever reads the log test guesses of a weak secret. The
-- numbers are never given twice; past 10,000 sets the table starts again
-- (a set seen before then gets a new number, so a new pool).
local cred_numbers, creds_seen, cred_entries = {}, 0, 0
local function cred_number(cred)
  local n = cred_numbers[cred]
  if not n then
    if cred_entries >= 10000 then cred_numbers, cred_entries = {}, 0 end
    creds_seen, cred_entries = creds_seen + 1, cred_entries + 1
    n = creds_seen
    cred_numbers[cred] = n
  end
  return n
end

local function state_of(client)
  local st = known[client]
  if not st then
    clients_seen = clients_seen + 1
    -- "0": a client with a token of its own and no credentials, which
    -- neither fetches a token nor takes a shared one
    st = { id = clients_seen, cred = soget._credentials(client) or "0" }
    if st.cred ~= "0" then st.cred_no = cred_number(st.cred) end
    known[client] = st
  end
  return st
end

-- The shared token given to the client, with its expiry (a renewal that
-- fails goes on with it until then); again when only its renewal time
-- moved (a renewal that failed put it back so: the client's own is due).
local function adopt(client, st, tok, at, exp)
  local now = ngx.now()
  local left = at - now
  if left <= 0 then return false end
  if st.token ~= tok or st.renew_at ~= at then
    client:set_token(tok, left, math.max(exp - now, left))
  end
  st.token, st.renew_at = tok, at
  return true
end

-- Gives the client the shared token, or takes a renewal lock when there is
-- none: held.key is then the lock's handle. A call waits for another one's
-- renewal; past the cache's lock_wait, one of the waiting calls (the one
-- that takes the second lock) renews too, the others wait on, and all stop
-- waiting at their call's deadline. A worker gone with the lock (which
-- expires after lock_ttl) or a renewal slower than lock_wait so costs one
-- more token request, not one per call; a lock of a worker gone is taken
-- over (the first at once, the second past lock_wait).
local function sync_token(client, st, cache, call, held)
  if st.token and st.renew_at > ngx.now() then return end
  local tok, at, exp = cache:get(st.cred)
  if tok and adopt(client, st, tok, at, exp) then return end
  ngx.update_time()   -- (the call's time left is read now: the same clock)
  local start = ngx.now()
  local deadline = start + call:time_left()
  local pause = 0.005
  while true do
    local late = ngx.now() >= start + cache.lock_wait
    local locked, lerr = cache:lock()
    if locked == false then locked, lerr = cache:take_over(false) end
    if not locked and not lerr and late then locked, lerr = cache:lock(true) end
    if locked == false and late then locked, lerr = cache:take_over(true) end
    if locked then
      held.key = locked   -- (let go by fetch should anything below raise)
      tok, at, exp = cache:get(st.cred)   -- renewed while we waited for the lock?
      if tok and adopt(client, st, tok, at, exp) then
        cache:unlock(locked)
        held.key = nil
      end
      return
    end
    if lerr then   -- no lock to wait for: renew without it, and say why
      ngx.log(ngx.WARN, "soget.ngx: the token cache's renewal lock could not be set (",
        lerr, "): renewing without it")
      return
    end
    if ngx.now() >= deadline then
      -- the call fails at its deadline: past the core's clock too (else a
      -- token request went out with the milliseconds it had left, and the
      -- call's error named that request)
      local left = call:time_left()
      if left > 0 then ngx.sleep(left + 0.001) end
      return
    end
    -- (never below a millisecond: nginx takes a shorter sleep for 0, a
    -- yield that does not wait and lets ngx.now() stand still)
    ngx.sleep(math.max(0.001, min(pause, deadline - ngx.now())))
    pause = min(pause * 2, 0.05)
    if st.token and st.renew_at > ngx.now() then return end
    tok, at, exp = cache:get(st.cred)
    if tok and adopt(client, st, tok, at, exp) then return end
  end
end

---------------------------------------------------------------------------
-- Transport: one request of the core over a cosocket.

-- This worker's figures (sng.stats()).
local stats = { connections = 0, reused = 0, handshakes = 0, requests = 0 }
-- Idle connections by pool (likely_pooled, below).
local idle = {}
-- TLS sessions to resume, by pool: of the last SESSIONS_KEPT pools that
-- made one (a worker may see many pools: one per client that has no
-- token cache), the oldest forgotten first.
local SESSIONS_KEPT = 64
local sessions, session_pools, session_next = {}, {}, 1

local function keep_session(pool, session)
  if sessions[pool] == nil then   -- (false: the pool has its place, no session now)
    local old = session_pools[session_next]
    if old then sessions[old] = nil end
    session_pools[session_next] = pool
    session_next = session_next % SESSIONS_KEPT + 1
  end
  sessions[pool] = session
end

--- sng.stats() -> {connections, reused, handshakes, requests, sessions,
-- pools}: this worker's connections opened, kept-alive ones taken from a
-- pool, TLS handshakes made (offering the pool's last session for
-- resumption), requests sent, TLS sessions kept for resumption, and the
-- pools it keeps a count of idle connections for.
function M.stats()
  local t = {}
  for k, v in pairs(stats) do t[k] = v end
  t.sessions = 0
  for _, session in pairs(sessions) do
    if session then t.sessions = t.sessions + 1 end
  end
  t.pools = 0
  for _ in pairs(idle) do t.pools = t.pools + 1 end
  return t
end

-- nginx's cached time, updated at every turn of its event loop: each
-- step below runs in a new turn (a cosocket resumes the call), so it is
-- current there. The deadline itself is taken from a fresh reading.
local now = ngx.now

local ceil = math.ceil
-- Sets the socket's three timeouts (seconds; at least a millisecond).
local function timeouts(sock, connect_s, io_s)
  local c, t = ceil(connect_s * 1000), ceil(io_s * 1000)
  sock:settimeouts(c > 0 and c or 1, t > 0 and t or 1, t > 0 and t or 1)
end

-- "localhost" is the loopback address (RFC 6761), which nginx's resolver,
-- reading no /etc/hosts, would not know; "localhost." too (server_name
-- has no trailing dot). Any other name goes to the resolver as written,
-- which asks for "api.example.com." as for "api.example.com".
local function connect_host(req)
  local name = req.server_name
  if name == "localhost" or name:sub(-10) == ".localhost" then return "127.0.0.1" end
  return req.host
end

local function timed_out(what)
  return nil, "the call's timeout passed " .. what, "timeout", true
end

-- A TLS handshake that did not complete within connect_timeout: a
-- connection not made, retryable as the blocking client says a timeout is.
local function handshake_timed_out(req)
  return nil, ("TLS handshake with %s:%d did not complete within connect_timeout (%g s)"):format(
    req.server_name, req.port, req.connect_timeout), "timeout", true
end

-- Feeds data to the parser FEED_STEP bytes at a time: a compressed body
-- is undone as it is fed, and 8 KB of gzip may be 8 MB once undone, so
-- that a server's gzip bomb held the worker for seconds: a receive that
-- finds bytes waiting returns without yielding (nor moving ngx.now()).
-- Each WORK_STEP bytes of work (bytes fed and body made, which cost
-- about alike: empty gzip members make no body), the clock is read
-- (ngx.update_time, about a thousand instructions), the deadline looked
-- at, and once 10 ms have passed since the worker last went to other
-- requests, it goes again (ngx.sleep). The parser's state, or nil at the
-- deadline. (The first QUIET bytes of an answer, which make about
-- WORK_STEP bytes of work at most, are fed without it: a small page's
-- lookup pays nothing for this.)
local WORK_STEP = 2 * 1024 * 1024
local QUIET = 2048   -- deflate makes at most about 1,032 bytes of one
local function feed_steps(parser, data, deadline, pace)
  local state, n, i = "more", #data, 1
  while i <= n do
    if state ~= "more" then   -- the rest changes nothing but keep_alive
      return parser:feed(data:sub(i))
    end
    state = parser:feed(n <= FEED_STEP and data or data:sub(i, i + FEED_STEP - 1))
    i = i + FEED_STEP
    if state == "more" then
      local made = parser:decoded() + parser:received()
      if made - pace.mark >= WORK_STEP then
        pace.mark = made
        ngx.update_time()
        local t = now()
        if t >= deadline then return nil end
        if t - pace.since >= 0.01 then
          ngx.sleep(0.001)
          ngx.update_time()
          pace.since = now()
        end
      end
    end
  end
  return state
end

-- One exchange on sock. -> status, body, retry_after, location, keep_alive,
--     www_authenticate
--   | nil, message, kind, retryable, fresh (the request may go again on a
--     new connection: the kept-alive one was closed before any answer),
--     status (of an answer a size limit stopped)
local function sock_exchange(sock, req, deadline, max)
  local left = deadline - now()
  if left <= 0 then return timed_out("before the request was sent") end
  timeouts(sock, left, left)
  local sent, serr = sock:send(req.bytes)
  if not sent then
    if serr == "timeout" then return timed_out("while sending the request") end
    return nil, "sending the request failed: " .. tostring(serr), "network", true, true
  end
  local parser = soget.http_parser(max)
  local state = "more"
  local turns = 0
  local pace, fed = nil, 0   -- (feed_steps)
  -- Each turn brings at least one byte, and the parser bounds the bytes
  -- of a response; the deadline bounds the time.
  while state == "more" do
    turns = turns + 1
    if turns > 1 then   -- (the first receive has the send's timeouts)
      left = deadline - now()
      if left <= 0 then
        parser:close()
        return timed_out("while waiting for the response")
      end
      timeouts(sock, left, left)
    end
    local data, rerr = sock:receiveany(RECEIVE_SIZE)
    if data then
      fed = fed + #data
      if fed <= QUIET then
        state = parser:feed(data)
      else
        pace = pace or { mark = 0, since = now() }
        state = feed_steps(parser, data, deadline, pace)
        if not state then
          local undoing = parser:decoded() > parser:received()
          parser:close()
          return timed_out(undoing and "while undoing the response body's coding"
            or "while reading the response body")
        end
      end
    elseif rerr == "closed" then
      local fresh = parser:received() == 0
      state = parser:eof()
      if state == "bad" then
        local msg, kind, retryable, status = parser:error()
        parser:close()
        return nil, msg, kind, retryable, fresh, status
      end
    elseif rerr == "timeout" then
      parser:close()
      return timed_out("while waiting for the response")
    else
      local fresh = parser:received() == 0
      parser:close()
      return nil, "reading the response failed: " .. tostring(rerr), "network", true, fresh
    end
  end
  if state == "bad" then
    local msg, kind, retryable, status = parser:error()
    parser:close()
    return nil, msg, kind, retryable, false, status
  end
  local status, body, retry_after, location, keep_alive, www = parser:response()
  parser:close()
  return status, body, retry_after, location, keep_alive, www
end

-- A connected (and for https, verified) socket to req's origin, from the
-- pool or new. -> sock | nil, message, kind, retryable
-- connect_timeout bounds the TCP connect and the TLS handshake together,
-- as libcurl's does for the blocking client: a server that accepts and
-- never answers the handshake ends the call as `timeout` then (which the
-- core does not retry), not at the call's deadline.
local function connect(req, deadline, pool, o)
  local sock = tcp()
  local left = deadline - now()
  if left <= 0 then return timed_out("before connecting") end
  local ct = min(left, req.connect_timeout > 0 and req.connect_timeout or left)
  -- bounded: connect_timeout ends the connection before the call's deadline
  local bounded, connected_by = ct < left, now() + ct
  timeouts(sock, ct, left)
  local ok, err = sock:connect(connect_host(req), req.port, { pool = pool,
    pool_size = o.pool_size })
  if not ok then
    if err == "timeout" then
      if bounded then
        return nil, ("connecting to %s:%d timed out (connect_timeout %g s)"):format(
          req.server_name, req.port, req.connect_timeout), "timeout", true
      end
      return timed_out("while connecting")
    end
    err = tostring(err)
    if err:find("no resolver defined", 1, true) then
      return nil, ("cannot resolve %s: nginx.conf has no 'resolver' directive"):format(
        req.server_name), "network", false
    end
    return nil, ("cannot connect to %s:%d: %s"):format(req.server_name, req.port, err),
      "network", true
  end
  req.connected = true   -- (its name resolved, if any: see outcome)
  if sock:getreusedtimes() > 0 then
    stats.reused = stats.reused + 1
    return sock
  end
  stats.connections = stats.connections + 1
  if req.tls then
    -- (what is left of connect_timeout, never past the call's deadline)
    left = (bounded and connected_by or deadline) - now()
    if left <= 0 then
      sock:close()
      -- (nginx's resolver took it: resolving a name is within
      -- connect_timeout, as libcurl counts it, but bounded by nginx's
      -- resolver_timeout alone)
      if bounded then
        return nil, ("connecting to %s:%d (resolving its name included) took all of "
          .. "connect_timeout (%g s): no time was left for the TLS handshake"):format(
          req.server_name, req.port, req.connect_timeout), "timeout", true
      end
      return timed_out("before the TLS handshake")
    end
    timeouts(sock, left, left)
    -- (pcall: lua-resty-core asserts instead of answering on some
    -- failures of a handshake that completes at once)
    local okh, session, herr = pcall(sock.sslhandshake, sock, sessions[pool] or nil,
      req.server_name, req.verify_tls)
    stats.handshakes = stats.handshakes + 1
    if not okh or not session then
      sock:close()
      if sessions[pool] then sessions[pool] = false end   -- (its place in the ring kept)
      -- (lua-resty-core's assert hides the reason; it fires when the
      -- handshake completed at once and its result was refused: the
      -- certificate check)
      herr = okh and tostring(herr) or ("the server's certificate was refused (not trusted, "
        .. "or not for host " .. tostring(req.server_name) .. ")")
      if herr == "timeout" then
        if bounded then return handshake_timed_out(req) end
        return timed_out("during the TLS handshake")
      end
      if herr == "handshake failed" or herr == "closed" or herr:find("reset", 1, true) then
        -- nginx's words for a handshake that did not complete, whatever
        -- ended it: mostly a connection closed or reset under it (a server
        -- restarting, a balancer), which the blocking client retries as a
        -- network failure too; a certificate refused is named otherwise
        return nil, ("TLS handshake with %s failed: %s (the connection was closed or reset, "
          .. "or the handshake refused)"):format(req.server_name or req.host, herr), "network", true
      end
      return nil, ("TLS handshake with %s failed: %s"):format(req.server_name or req.host, herr),
        "tls", false
    end
    if type(session) == "cdata" or type(session) == "userdata" then keep_session(pool, session) end
  end
  return sock
end

-- The pool of a request: its origin, the TLS checks made, and the set of
-- credentials: the token cache's key and the worker's number for the
-- client's credentials (so that clients of other credentials sharing a
-- key by mistake share no connection either), else the client.
local function pool_of(req, o, st)
  return ("soget %s://%s:%d %s %s"):format(req.scheme, req.host, req.port,
    req.verify_tls and "verified" or "unverified",
    (o.token_cache and st.cred ~= "0")
      and ("credentials " .. o.token_cache.credentials .. " " .. st.cred_no)
      or ("client " .. st.id))
end

-- Kept-alive connections this worker put in each pool and has not taken
-- back: pool name -> {n, at (ngx.now() when the last went in), ttl (its
-- keepalive_timeout, 0: none)}. An estimate (nginx closes one idle past its
-- timeout, a server may close one sooner), which api_exchange reads to
-- tell a request that will most likely find a connection in its pool (no
-- name to resolve before it) from one that will make a new connection.
-- An entry goes once its connections are taken back or past their timeout
-- (swept as a pool gets a new entry): a worker that meets many pools (a
-- client per request without a token cache) keeps no entry for each.
local function sweep_idle(t)
  for pool, e in pairs(idle) do
    if e.n <= 0 or (e.ttl ~= 0 and t - e.at >= e.ttl) then idle[pool] = nil end
  end
end

local function likely_pooled(pool)
  local e = idle[pool]
  if not e or e.n <= 0 then return false end
  return e.ttl == 0 or ngx.now() - e.at < e.ttl
end

-- -> status, body, retry_after, location, www_authenticate | nil, message,
-- kind, retryable, status (of an answer a size limit stopped)
local function send(req, o, st)
  ngx.update_time()
  local deadline = ngx.now() + req.timeout
  local max = o.max_response_size or req.max_response_size
  local pool = req.pool or pool_of(req, o, st)
  -- A kept-alive connection the server closed meanwhile fails before any
  -- answer: the request goes once more on a new one (not a retry).
  for attempt = 1, 2 do
    local sock, cerr, ckind, cretry = connect(req, deadline, pool, o)
    if not sock then return nil, cerr, ckind, cretry end
    local reused = sock:getreusedtimes() > 0
    local kept = idle[pool]
    if reused and kept and kept.n > 0 then kept.n = kept.n - 1 end
    stats.requests = stats.requests + 1
    local status, a, b, c, d, e = sock_exchange(sock, req, deadline, max)
    if status then
      if d and sock:setkeepalive(ceil(o.keepalive_timeout * 1000), o.pool_size) then
        if not kept then
          sweep_idle(ngx.now())
          kept = { n = 0 }
          idle[pool] = kept
        end
        kept.n = min(kept.n + 1, o.pool_size or 30)   -- (nginx's lua_socket_pool_size)
        kept.at, kept.ttl = ngx.now(), o.keepalive_timeout
      elseif not d then
        sock:close()
      end
      return status, a, b, c, e
    end
    sock:close()
    if not (reused and d and attempt == 1) then return nil, a, b, c, e end
  end
end

---------------------------------------------------------------------------
-- Driving a call.

-- The driver's own error, a soget.Error like the core's.
local function driver_error(kind, message)
  return setmetatable({ kind = kind, message = message, retryable = false }, ERROR_MT)
end

local function phase_error()
  local phase = ngx.get_phase()
  if COSOCKET_PHASES[phase] then return nil end
  -- (init has no timers either: nginx raises "no request" there)
  local way = phase == "init"
    and "call it from init_worker_by_lua*, or start a timer there"
    or "start a timer there"
  return driver_error("network", ("soget.ngx cannot call the API in nginx's %s phase, where "
    .. "nginx allows no network I/O (no cosockets, no ngx.sleep): %s "
    .. "(ngx.timer.at(0, function() ... end)) and call soget.ngx from it"):format(phase, way))
end

-- The bearer token a request carries (read from its bytes), so that a
-- refused one is dropped from the shared cache.
local function token_of(req)
  return req.bytes:match("\r\nAuthorization: Bearer ([^\r\n]+)\r\n")
end

-- One request of the call: sent, its answer given to the call, and for a
-- token request the token shared. -> page, err, wait (raises on a bug, or
-- when the call was closed meanwhile: see token_exchange)
local function exchange_now(client, call, req, o, st, cache)
  local status, a, b, c, d = send(req, o, st)
  local page, err, wait
  if status then   -- a: body, b: Retry-After, c: Location, d: WWW-Authenticate
    page, err, wait = call:response(status, a, b, c, d)
  else             -- a: message, b: kind, c: retryable, d: the status a size limit stopped
    page, err, wait = call:failed(a, b, c, d)
  end
  if req.kind == "token" then
    if not err then   -- the core stored the token: share it
      -- the token the core stored, read without I/O (a plain
      -- client:token() would fetch one with libcurl, blocking the
      -- worker, were it already due: a lifetime shorter than the way
      -- back here)
      local tok, left, expires_in = client:token{ fetch = false }
      if tok and left and left > 0 then
        st.token, st.renew_at = tok, ngx.now() + left
        if cache then cache:put(tok, left, expires_in, st.cred) end
      end
    end
  elseif status == 401 then
    -- The core decides what the client does: resend with a token that
    -- replaced it meanwhile, renew once, or keep it (a 401 that is not the
    -- token's, a wrong API key say: see the README's token rules). A token
    -- it let go of, or one the 401 says is invalid, was refused: nobody
    -- should use it again. (One refused otherwise may be good for clients
    -- of the same credentials with another API key.)
    local refused = token_of(req)
    if refused and (d and soget._token_invalid(d) or client:token{ fetch = false } ~= refused) then
      if st.token == refused then st.token, st.renew_at = nil, 0 end
      if cache then cache:forget(refused, st.cred) end
    end
  end
  req.bytes = nil
  return page, err, wait
end

-- exchange_now, letting go of the shared renewal lock when it holds one
-- (locked: its handle; a token request), whatever happens: never a lock left
-- behind.
local function exchange(client, call, req, o, st, cache, locked)
  local ok, page, err, wait = pcall(exchange_now, client, call, req, o, st, cache)
  if locked then cache:unlock(locked) end
  if not ok then error(page, 0) end
  return page, err, wait
end

-- Whether req goes to a host name (not an address), which nginx's
-- resolver may take longer to resolve than the call has left: a
-- resolution is bounded by nginx's resolver_timeout alone, not by the
-- request's own timeouts. An address is what nginx reads as one (four
-- numbers of at most 255, or IPv6): "1.2.3.4." and "1.2.3" are names it
-- resolves.
local function to_name(req)
  local host = connect_host(req)
  if host:find(":", 1, true) then return false end
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return not (a and #a <= 3 and #b <= 3 and #c <= 3 and #d <= 3 and tonumber(a) <= 255
    and tonumber(b) <= 255 and tonumber(c) <= 255 and tonumber(d) <= 255)
end

-- How long past the call's deadline a request that is not resolving a
-- name is waited for: its own timeouts end it at the deadline, in
-- nginx's timer order after the call's wait, and say which step timed out.
local GRACE = 0.05   -- seconds

-- Waits until the call's deadline for the exchange that box's timer or
-- light thread (box.thread) runs. -> page, err, wait
local function outcome(call, req, box)
  -- (the request's own timeouts end it by the call's deadline, but for
  -- a host name's resolution, which only nginx's resolver_timeout bounds)
  if not box.done then box.sema:wait(call:time_left()) end
  -- not connected, to a name (not an address): its resolution, maybe
  local resolving = not req.connected and to_name(req)
  if not box.done and not resolving then box.sema:wait(GRACE) end
  if not box.done then
    -- Still running: the call ends at its deadline, as the core words a
    -- timeout there (retryable, as every timeout). A light thread is
    -- killed (nginx drops the resolution it waited on); a timer is let be
    -- (its answer, later, meets a call already over).
    if box.thread then ngx.thread.kill(box.thread) end
    local why = "no answer by the call's deadline"
    if resolving then
      why = why .. "; resolving a host name is bounded by nginx's resolver_timeout, "
        .. "not by the call's timeout"
    end
    return call:failed(why, "timeout", true)
  end
  if not box.ok then error(box.page, 0) end
  return box.page, box.err, box.wait
end

-- A token request runs in a timer of its own, which the end of the
-- request that asked for it cannot stop halfway (a client that went away
-- with lua_check_client_abort on, ngx.exit, ngx.thread.kill): stopped, it
-- would leave the client's token lease (and the shared renewal lock) to a
-- call that is gone, and the client's other calls waiting for it until
-- that call's deadline. The call waits for the timer on a semaphore. Where
-- no timer can be made (too many pending, the worker exiting), or when
-- the timer has not begun within TIMER_START (nginx drops a timer it
-- accepted once lua_max_running_timers are running), or without
-- lua-resty-core's semaphore, the request runs in the call: whichever
-- side takes it first runs it, the other never does.
local TIMER_START = 0.05   -- seconds; a timer at 0 begins at the next turn of the loop

-- The timer's function: what it needs comes as its arguments, never as
-- upvalues of the call's function, which would still be open on the
-- request's coroutine (its stack) when nginx ends that request: nginx
-- reuses the stack, and the timer read another request's values there.
local function token_timer(_, box, client, call, req, o, st, cache, locked)
  if box.taken then return end
  box.taken = true
  box.ok, box.page, box.err, box.wait = pcall(exchange, client, call, req, o, st, cache, locked)
  box.done = true
  box.sema:post(1)
end

local function token_exchange(client, call, req, o, st, cache, locked)
  if not has_semaphore then return exchange(client, call, req, o, st, cache, locked) end
  local box = { sema = semaphore.new() }
  local started = ngx.timer.at(0, token_timer, box, client, call, req, o, st, cache, locked)
  if started then box.sema:wait(TIMER_START) end
  if not box.taken then   -- no timer, or not begun: here, and the timer will not run it
    box.taken = true
    return exchange(client, call, req, o, st, cache, locked)
  end
  return outcome(call, req, box)
end

-- The light thread of an API request (api_exchange).
local function api_thread(box, client, call, req, o, st, cache)
  box.ok, box.page, box.err, box.wait = pcall(exchange, client, call, req, o, st, cache, false)
  box.done = true
  box.sema:post(1)
end

-- An API request to a host name runs in a light thread, which the call
-- waits for as for a token request's timer, and kills at its deadline: the
-- call does not wait past it for nginx's resolver. (A light thread, not a
-- timer: it ends with the request that made it, as the call does, and
-- takes none of lua_max_running_timers, which every lookup would count
-- towards, and a resolution left to run on would hold until
-- resolver_timeout.) To an address, the request runs in the call: its own
-- timeouts end it by the deadline.
--
-- A light thread costs about 8 % of a kept-alive lookup's instructions in
-- the worker (callgrind: 227k against 210k), for a resolution that a
-- connection taken from its pool never makes (nginx looks in the pool
-- before it resolves anything). So a request whose pool most likely holds
-- an idle connection (likely_pooled) runs in the call, as one to an
-- address does; the light thread is for one that will make a new
-- connection. (Should the pool's connections have been closed meanwhile
-- by the server, that request resolves in the call, bounded by
-- resolver_timeout alone.)
local function api_exchange(client, call, req, o, st, cache)
  if not has_semaphore or not to_name(req) then
    return exchange(client, call, req, o, st, cache, false)
  end
  req.pool = pool_of(req, o, st)   -- (send's too)
  if likely_pooled(req.pool) then
    return exchange(client, call, req, o, st, cache, false)
  end
  local box = { sema = semaphore.new() }
  box.thread = ngx.thread.spawn(api_thread, box, client, call, req, o, st, cache)
  return outcome(call, req, box)
end

-- Runs a soget.Call to its end: page | nil, err. held.key: the renewal
-- lock's handle while this call holds it and nobody else will let it go (an
-- exchange under way does), for fetch to let go of when the call raises.
local function drive(client, call, o, held)
  local st = state_of(client)
  -- (a client with a token of its own and no credentials neither fetches
  -- nor shares one: it does not wait for others' renewals)
  local cache = st.cred ~= "0" and o.token_cache or nil
  held.cache = cache
  local sent_count = 0
  while sent_count < MAX_STEPS do   -- waits for another call's token do not count
    if cache and not held.key then sync_token(client, st, cache, call, held) end
    local req, rerr, rwait = call:request_bytes(USER_AGENT)
    if held.key and (not req or req.kind ~= "token") then
      -- a failure; or the client had a token of its own, or another call
      -- of this worker is fetching one (the core's lease): nothing to
      -- share from here
      cache:unlock(held.key)
      held.key = nil
    end
    if not req and rerr then return nil, rerr end
    if not req then   -- another call of this client is fetching the token
      ngx.sleep(rwait)
      goto continue
    end
    sent_count = sent_count + 1
    do
      local locked, page, err, wait = held.key
      held.key = nil   -- (the exchange lets go of it, whatever happens)
      if req.kind == "token" then
        page, err, wait = token_exchange(client, call, req, o, st, cache, locked)
      else
        page, err, wait = api_exchange(client, call, req, o, st, cache)
      end
      if page then return page end
      if err then return nil, err end
      if wait and wait > 0 then ngx.sleep(wait) end
    end
    ::continue::
  end
  error("soget.ngx: the call did not end")
end

-- Raises, in the driver's words, when v is not an object of the module's
-- class (a client, a page): without it, a nil or a table of another kind
-- met Lua's own "attempt to index" somewhere inside.
local function check_is(v, class, where, what)
  local mt = getmetatable(v)
  if type(mt) ~= "table" or rawget(mt, "__name") ~= class then
    error(("%s: %s must be a %s, not %s"):format(where, what, class, type(v)), 3)
  end
end

-- client:begin, its errors (a query refused, a closed client) raised in the
-- driver's words, where the driver's function was called (level 4: past
-- begin_call, fetch and that function), not inside the driver.
local function begin_call(client, query, offset, where)
  local ok, call = pcall(client.begin, client, query, offset)
  if ok then return call end
  if type(call) ~= "string" then error(call, 0) end
  local why = call:gsub("^handling_units_search: ", ""):gsub("^handling_units: ", "")
  error(where .. ": " .. why, 4)
end

-- A client that client:close() closed, in this light thread or another.
local function closed(client)
  return tostring(client) == "soget.Client (closed)"
end

local function fetch(client, query, offset, o, where)
  local perr = phase_error()
  if perr then return nil, perr end
  local call = begin_call(client, query, offset, where)
  local held = {}
  local ok, page, err = pcall(drive, client, call, o, held)
  call:close()
  if not ok then
    if held.key then held.cache:unlock(held.key) end   -- never a lock left behind
    -- Another light thread closed the client while this call waited (on
    -- the network, a retry's wait, the token): the call's next step was
    -- refused. The call began on an open client, so it was no misuse: it
    -- ends as a failure, as a blocking call that Ctrl-C stopped does.
    if type(page) == "string" and page:find("attempt to use a closed client", 1, true)
        and closed(client) then
      return nil, driver_error("interrupted", "stopped before the call completed: its client "
        .. "was closed (client:close()) while the call was in flight")
    end
    error(page, 0)
  end
  return page, err
end

--- sng.handling_units(client, query[, opts]) -> page | nil, err
-- Like client:handling_units, without blocking the worker.
function M.handling_units(client, query, opts)
  check_is(client, "soget.Client", "soget.ngx.handling_units", "the client")
  -- (client:begin takes a search written {search = q}: a lookup does not,
  -- as client:handling_units does not)
  if type(query) == "table" and rawget(query, "search") ~= nil then
    error("soget.ngx.handling_units: unknown query key 'search' (a search is "
      .. "soget.ngx.handling_units_search)", 2)
  end
  -- (not a tail call: begin_call's errors name the line that called this
  -- function, three levels up)
  local page, err = fetch(client, query, nil, merged(opts, "soget.ngx.handling_units"),
    "soget.ngx.handling_units")
  return page, err
end

--- sng.handling_units_search(client, query[, opts]) -> page | nil, err
-- Like client:handling_units_search, without blocking the worker; the
-- token is the same (and shared the same way) as for lookups.
function M.handling_units_search(client, query, opts)
  check_is(client, "soget.Client", "soget.ngx.handling_units_search", "the client")
  if type(query) ~= "table" and type(query) ~= "string" then
    error("soget.ngx.handling_units_search: query must be a table or a document reference "
      .. "string, got " .. type(query), 2)
  end
  local page, err = fetch(client, { search = query }, nil,
    merged(opts, "soget.ngx.handling_units_search"), "soget.ngx.handling_units_search")
  return page, err
end

--- sng.iter(client, page[, opts]) -> iterator over the units of page and
-- of the following pages, fetched without blocking the worker when needed.
-- opts may also hold max_items and max_pages. Raises the soget.Error of a
-- failed page fetch, as page:iter() does.
function M.iter(client, page, opts)
  check_is(client, "soget.Client", "soget.ngx.iter", "the client")
  check_is(page, "soget.Page", "soget.ngx.iter", "the page")
  local o = merged(opts, "soget.ngx.iter", true)
  local ok, it = pcall(page.iter, page, { manual = true, max_items = o.max_items,
    max_pages = o.max_pages })
  if not ok then   -- (its option errors, where sng.iter was called)
    error("soget.ngx." .. tostring(it):gsub("^.-iter: ", "iter: "), 2)
  end
  return function()
    while true do
      local hu, what, offset, query = it:next()
      if hu ~= nil then return hu end
      if what ~= "fetch" or query == nil then return nil end
      local p, err = fetch(client, query, offset, o, "soget.ngx.iter")
      -- (the pager is not over: called again, it fetches that page again,
      -- as page:iter() does)
      if not p then error(err, 0) end
      it:feed(p, offset)
    end
  end, it
end

return M
