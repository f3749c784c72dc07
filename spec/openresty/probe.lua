-- Test endpoints of spec/openresty
-- (GET /t/lookup?ref=R[&fault=SPEC][&tfault=SPEC][&retries=N][&max=BYTES][&timeout=S][&gzip=0][&flush=1][&lock=1]):
-- one sng.handling_units call through the example's driver settings, with a
-- sandbox fault in front of the API path (tfault: of the token URL;
-- flush: the shared token forgotten first; lock: and its renewal lock
-- held meanwhile, as by another worker); answers what came back as JSON.
-- Also: /t/stats (the driver's figures), /t/timer (lookups from an
-- ngx.timer.every loop), /t/phases (calls where nginx has no cosockets),
-- /t/access (a lookup in the access phase).
local soget = require "soget"
local sng = require "soget.ngx"
local cjson = require "cjson.safe"

local M = {}
local clients = {}

function M.lookup()
  local a = ngx.req.get_uri_args()
  local base = os.getenv("SOGET_BASE_URL")
  if a.fault and a.fault ~= "" then
    local origin, path = base:match("^(https?://[^/]+)(/.*)$")
    base = origin .. "/_fault/" .. a.fault .. path
  end
  local token_url = os.getenv("SOGET_TOKEN_URL")
  if a.tfault and a.tfault ~= "" then   -- a fault in front of the token URL
    local origin, path = token_url:match("^(https?://[^/]+)(/.*)$")
    token_url = origin .. "/_fault/" .. a.tfault .. path
  end
  local key = base .. "|" .. token_url .. "|" .. (a.retries or "") .. "|" .. (a.timeout or "")
    .. "|" .. (a.gzip or "")
  local c = clients[key]
  if not c then
    c = soget.client{ base_url = base, token_url = token_url, retries = tonumber(a.retries) or 2,
      timeout = tonumber(a.timeout) or 20, gzip = a.gzip ~= "0" }
    clients[key] = c
  end
  local cache = sng.token_cache("soget_tokens")
  if a.flush == "1" or a.lock == "1" then cache:flush() end
  local held = a.lock == "1" and assert(cache:lock())   -- as if another worker renewed
  ngx.update_time()
  local t0 = ngx.now()
  local page, err = sng.handling_units(c, { reference = a.ref or "CGMU2436601",
      exact = a.exact == "1" or nil, limit = tonumber(a.limit) },
    a.max and { max_response_size = tonumber(a.max) } or nil)
  if held then cache:unlock(held) end
  ngx.update_time()
  local out = { seconds = ngx.now() - t0, stats = c:stats() }
  if page then
    out.total = page.total
    out.first = page.items[1] and page.items[1].pswId or nil
    out.count = #page.items
  else
    out.error = { kind = err.kind, status = err.status, code = err.code,
      message = err.message, retryable = err.retryable }
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- GET /t/search?doc=D: sng.handling_units_search for a document reference,
-- then every unit through sng.iter (pages fetched in the handler); the
-- sandbox's in-mass API sits beside its tracing API, on the same origin.
function M.search()
  local a = ngx.req.get_uri_args()
  local base = os.getenv("SOGET_BASE_URL")
  local c = clients.search
  if not c then
    c = soget.client{ base_url = base, timeout = 20, search_base_url =
      base:gsub("/api%-tracing%-code/v1$", "/api-tracing-code-in-mass/v1") }
    clients.search = c
  end
  local page, err = sng.handling_units_search(c, { documentReference = a.doc, limit = 10 })
  local out = { stats = c:stats() }
  if page then
    out.total, out.refs = page.total, {}
    for hu in sng.iter(c, page) do out.refs[#out.refs + 1] = hu.reference end
    out.stats = c:stats()
  else
    out.error = { kind = err.kind, message = err.message }
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- GET /t/options: how the driver treats wrong settings.
function M.options()
  local c = soget.client{}
  local out = {}
  local ok, e = pcall(sng.handling_units, c, "CGMU2436601", { bogus = 1 })
  out.unknown_option = not ok and tostring(e) or false
  ok, e = pcall(sng.token_cache, "no_such_dict")
  out.no_dict = not ok and tostring(e) or false
  ok, e = pcall(sng.handling_units, c, { reference = "CGMU2436601", bogus = 1 })
  out.bad_query = not ok and tostring(e) or false
  ok, e = pcall(sng.configure, { location = "/_soget" })
  out.gone_option = not ok and tostring(e) or false
  ok, e = pcall(sng.handling_units, c, "CGMU2436601", { pool_size = 0 })
  out.bad_pool = not ok and tostring(e) or false
  -- values nginx or the parser would refuse only after the request went
  ok, e = pcall(sng.handling_units, c, "CGMU2436601", { pool_size = 1e300 })
  out.huge_pool = not ok and tostring(e) or false
  ok, e = pcall(sng.handling_units, c, "CGMU2436601", { max_response_size = 0.5 })
  out.small_max = not ok and tostring(e) or false
  -- the client's range (soget.options), not the parser's wider one
  ok, e = pcall(sng.handling_units, c, "CGMU2436601", { max_response_size = 1023 })
  out.under_max = not ok and tostring(e) or false
  ok, e = pcall(sng.configure, { max_response_size = 2 ^ 30 + 1 })
  out.over_max = not ok and tostring(e) or false
  ok, e = pcall(sng.handling_units, c, "CGMU2436601", { token_cache = { credentials = "x" } })
  out.fake_cache = not ok and tostring(e) or false
  ok, e = pcall(sng.handling_units, c, "CGMU2436601", { token_cache = { dict = ngx.shared.soget_spec } })
  out.fake_cache_dict = not ok and tostring(e) or false
  -- under a millisecond, nginx's setkeepalive would read 0: no idle timeout
  ok, e = pcall(sng.handling_units, c, "CGMU2436601", { keepalive_timeout = 0.0004 })
  out.tiny_keepalive = not ok and tostring(e) or false
  ok, e = pcall(sng.configure, { keepalive_timeout = 86401 })
  out.long_keepalive = not ok and tostring(e) or false
  -- sng.iter's own options, refused elsewhere (a default max_items would
  -- cap every later walk)
  ok, e = pcall(sng.configure, { max_items = 3 })
  out.configure_max_items = not ok and tostring(e) or false
  ok, e = pcall(sng.handling_units, c, "CGMU2436601", { max_pages = 1 })
  out.lookup_max_pages = not ok and tostring(e) or false
  local page = soget.decode('{"total":1,"returned":1,"first":0,"items":[{"reference":"R"}]}')
  ok = pcall(sng.iter, c, page, { max_items = 1 })
  out.iter_max_items = ok
  -- errors raised where the driver's function was called (this file's
  -- line), in the driver's words
  local line
  ok, e = pcall(function()
    line = debug.getinfo(1, "l").currentline + 1
    local p, err = sng.handling_units(c, { reference = "MSCU", limit = 99 })
    return p, err
  end)
  out.where_query = { message = not ok and tostring(e) or false, line = line }
  ok, e = pcall(function()
    line = debug.getinfo(1, "l").currentline + 1
    local it = sng.iter(c, page, { max_items = 0 })
    return it
  end)
  out.where_iter = { message = not ok and tostring(e) or false, line = line }
  -- a client or a page that is not one: the driver's words, not Lua's
  out.misuse = {}
  for _, case in ipairs {
    { "lookup nil", sng.handling_units, nil, "CGMU2436601" },
    { "lookup table", sng.handling_units, {}, "CGMU2436601" },
    { "lookup page", sng.handling_units, page, "CGMU2436601" },
    { "search string", sng.handling_units_search, "c", { documentReference = "D" } },
    { "search nil", sng.handling_units_search, c, nil },
    { "search unknown key", sng.handling_units_search, c, { bogus = "D" } },
    { "lookup line break", sng.handling_units, c, "CGMU\n2436601" },
    { "lookup search key", sng.handling_units, c, { search = "D" } },
    { "cache options", sng.token_cache, "soget_spec", "x" },
    { "iter nil client", sng.iter, nil, page },
    { "iter nil page", sng.iter, c, nil },
    { "iter client as page", sng.iter, c, c },
    { "iter plain table", sng.iter, c, { items = {} } },
  } do
    ok, e = pcall(case[2], case[3], case[4])
    out.misuse[case[1]] = not ok and tostring(e) or false
  end
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

local function err_table(err)
  if not err then return false end
  return { kind = err.kind, message = err.message, retryable = err.retryable, status = err.status,
    tostring = tostring(err), meta = getmetatable(err) and true or false }
end

-- GET /t/stats: this worker's driver figures.
function M.stats()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(sng.stats()))
end

-- GET /t/timer?n=N&every=S: an ngx.timer.every loop of lookups (as a
-- background refresh would run), N rounds; answers when they are done
-- (at most 20 s).
function M.timer()
  local a = ngx.req.get_uri_args()
  local n, every = tonumber(a.n) or 3, tonumber(a.every) or 0.2
  local dict = ngx.shared.soget_spec
  local run = "timer:" .. ngx.now() .. ":" .. math.random(1e9)
  dict:set(run .. ":ok", 0)
  dict:set(run .. ":err", 0)
  local c = soget.client{ timeout = 10 }
  local rounds = 0
  local ok, terr = ngx.timer.every(every, function(premature)
    if premature or rounds >= n then return end
    rounds = rounds + 1
    local page, err = sng.handling_units(c, "CGMU2436601")
    if page and page.items[1] and page.items[1].pswId == "CNI0000063978" then
      dict:incr(run .. ":ok", 1)
    else
      dict:set(run .. ":last_err", tostring(err))
      dict:incr(run .. ":err", 1)
    end
  end)
  local out = { started = ok and true or tostring(terr) }
  for _ = 1, 200 do
    if dict:get(run .. ":ok") + dict:get(run .. ":err") >= n then break end
    ngx.sleep(0.1)
  end
  out.ok, out.err, out.last_err = dict:get(run .. ":ok"), dict:get(run .. ":err"),
    dict:get(run .. ":last_err")
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- GET /t/killed?ms=M&after=S&timeout=T: a lookup whose token request the
-- sandbox delays M ms, in a light thread killed after S seconds, halfway
-- through that request (as nginx ends the threads of a request whose
-- client went away, or that called ngx.exit); then another lookup of the
-- same client, with no shared token: answers what it got, and how fast.
function M.killed()
  local a = ngx.req.get_uri_args()
  local origin, path = os.getenv("SOGET_TOKEN_URL"):match("^(https?://[^/]+)(/.*)$")
  local c = soget.client{ timeout = tonumber(a.timeout) or 8,
    token_url = origin .. "/_fault/delay:ms=" .. (tonumber(a.ms) or 300) .. path }
  sng.token_cache("soget_tokens"):flush()
  local th = ngx.thread.spawn(sng.handling_units, c, "CGMU2436601")
  ngx.sleep(tonumber(a.after) or 0.1)
  local killed = ngx.thread.kill(th)
  ngx.update_time()
  local t0 = ngx.now()
  local page, err = sng.handling_units(c, "CGMU2436601")
  ngx.update_time()
  local out = { killed = killed and true or false, seconds = ngx.now() - t0,
    first = page and page.items[1] and page.items[1].pswId or false, error = err_table(err) }
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- GET /t/busy: with every running timer taken (nginx then drops a new
-- one it accepted: lua_max_running_timers 1 in the spec's nginx.conf), a
-- lookup that needs a token; answers what it got, and how fast.
function M.busy()
  local ok = ngx.timer.at(0, function() ngx.sleep(3) end)
  ngx.sleep(0.05)   -- (the timer runs: the one place is taken)
  local c = soget.client{ timeout = 8 }
  sng.token_cache("soget_tokens"):flush()
  ngx.update_time()
  local t0 = ngx.now()
  local page, err = sng.handling_units(c, "CGMU2436601")
  ngx.update_time()
  local cache = sng.token_cache("soget_tokens")
  local out = { occupied = ok and true or false, seconds = ngx.now() - t0,
    first = page and page.items[1] and page.items[1].pswId or false, error = err_table(err),
    locked = cache.dict:get(cache.lock_key) ~= nil }
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- GET /t/fulldict: a token cache whose dictionary other code filled (its
-- entries are all small: no room left for a token's), three clients
-- sharing it; answers their token requests and whether the token went in.
function M.fulldict()
  local d = ngx.shared.soget_small
  d:flush_all()
  d:flush_expired()
  local n = 0
  while n < 100000 and d:safe_set("other-" .. n, ("v"):rep(16)) do n = n + 1 end
  local cache = sng.token_cache("soget_small", { key = "full-" .. ngx.now() })
  local requests, errors = {}, {}
  for i = 1, 3 do
    local c = soget.client{}
    local page, err = sng.handling_units(c, "CGMU2436601", { token_cache = cache })
    requests[i] = c:stats().token_requests
    errors[i] = page and "" or tostring(err)
    c:close()
  end
  d:flush_all()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode({ filled = n, requests = requests, errors = errors }))
end

-- GET /t/pools?n=N: a lookup for each of N sets of credentials (token
-- caches of their own keys), each with a connection pool of its own;
-- answers how many failed and the driver's figures.
-- With ka=S, the connections are kept S seconds: then, after 2 S, one
-- more pool, and the figures before, after the N and after that one.
function M.pools()
  local a = ngx.req.get_uri_args()
  local n, ka = tonumber(a.n) or 70, tonumber(a.ka)
  local c = soget.client{ timeout = 20 }
  local failed = 0
  local function one(i)
    local cache = sng.token_cache("soget_tokens", { key = "pools-" .. i .. "-" .. ngx.now() })
    local page = sng.handling_units(c, "CGMU2436601", { token_cache = cache, keepalive_timeout = ka })
    if not page then failed = failed + 1 end
  end
  local before = sng.stats()
  for i = 1, n do one(i) end
  local after, later = sng.stats(), nil
  if ka then
    ngx.sleep(2 * ka)
    one(n + 1)
    later = sng.stats()
  end
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode({ failed = failed, stats = after, before = before, later = later }))
end

-- What sng.stats() counted since `before`.
local function stats_delta(before)
  local d = {}
  for k, v in pairs(sng.stats()) do d[k] = v - (before[k] or 0) end
  return d
end

-- GET /t/crosscache: two clients of different credentials (the second's
-- refused by the token endpoint) share one token cache key by mistake;
-- answers what each got, and what sng.token_cache says of bad options.
function M.crosscache()
  local cache = sng.token_cache("soget_tokens", { key = "cross-" .. ngx.now() })
  local good = soget.client{ timeout = 8 }
  local bad = soget.client{ timeout = 8, client_id = "intruder", client_secret = "wrong-secret" }
  local before = sng.stats()
  local p1 = sng.handling_units(good, "CGMU2436601", { token_cache = cache })
  local p2, e2 = sng.handling_units(bad, "CGMU2436601", { token_cache = cache })
  local d = stats_delta(before)   -- nor a connection of the other's pool
  local p3 = sng.handling_units(good, "CGMU2436601", { token_cache = cache })
  local refused = {}
  for _, o in ipairs{ { lock_ttl = -1 }, { lock_ttl = 0 }, { lock_wait = "abc" }, { key = {} },
                      { key = "" }, { key = ("k"):rep(251) }, { lock_wait = 0 / 0 } } do
    local ok, e = pcall(sng.token_cache, "soget_tokens", o)
    refused[#refused + 1] = not ok and tostring(e):gsub("^.-soget%.ngx", "soget.ngx") or false
  end
  good:close()
  bad:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode({ good = p1 and p1.total or false, bad = p2 and p2.total or false,
    bad_error = err_table(e2), again = p3 and p3.total or false, refused = refused,
    connections = d.connections, reused = d.reused }))
end

-- GET /t/reset?port=P: a lookup over plain HTTP to a listener that reads
-- each request, then resets the connection (spec/integration/relay.lua
-- reset): a network error, retried, never a raise.
function M.reset()
  local port = tonumber(ngx.req.get_uri_args().port)
  local scheme = ngx.req.get_uri_args().scheme or "http"
  local c = soget.client{ base_url = scheme .. "://127.0.0.1:" .. port .. "/api-tracing-code/v1",
    access_token = "tok-reset-0123456789", api_key = "key-reset-0123456789", retries = 1,
    timeout = 8 }
  local ok, page, err = pcall(sng.handling_units, c, "CGMU2436601")
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode({ raised = not ok and tostring(page) or false,
    page = ok and page and true or false, error = ok and err_table(err) or false }))
end

-- GET /t/bomb?port=P: a lookup (timeout 1 s, max_response_size 1 GiB) to
-- a listener that answers a gzip bomb (spec/integration/relay.lua
-- gzip-bomb: 1 MB as sent, 1 GiB once undone), while a light thread
-- counts the turns the worker gave it meanwhile: answers the lookup's
-- error, its seconds and the turns.
function M.bomb()
  local c = soget.client{ base_url = "http://127.0.0.1:" .. tonumber(ngx.req.get_uri_args().port)
      .. "/api-tracing-code/v1", access_token = "tok-bomb-0123456789",
    -- (2 s: the relay's first bytes have come by then on a busy machine
    -- too, and undoing the body would take far longer)
    api_key = "key-bomb-0123456789", retries = 0, timeout = 2, max_response_size = 1024 ^ 3 }
  local turns, done = 0, false
  local th = ngx.thread.spawn(function()
    while not done do
      ngx.sleep(0.01)
      turns = turns + 1
    end
  end)
  ngx.update_time()
  local t0 = ngx.now()
  local ok, page, err = pcall(sng.handling_units, c, "CGMU2436601")
  ngx.update_time()
  local seconds = ngx.now() - t0
  done = true
  ngx.thread.wait(th)
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode({ raised = not ok and tostring(page) or false,
    page = ok and page and true or false, error = ok and err_table(err) or false,
    seconds = seconds, turns = turns }))
end

-- GET /t/silent?port=P[&scheme=https][&timeout=S][&connect_timeout=S][&retries=N]:
-- a lookup to a listener that accepts and never writes a byte
-- (spec/integration/relay.lua silent): answers its error and how long the
-- call took.
function M.silent()
  local a = ngx.req.get_uri_args()
  local c = soget.client{ base_url = (a.scheme or "https") .. "://127.0.0.1:" .. tonumber(a.port)
      .. "/api-tracing-code/v1",
    access_token = "tok-silent-0123456789", api_key = "key-silent-0123456789",
    timeout = tonumber(a.timeout) or 3, connect_timeout = tonumber(a.connect_timeout) or 0.5,
    retries = tonumber(a.retries) or 2 }
  ngx.update_time()
  local t0 = ngx.now()
  local ok, page, err = pcall(sng.handling_units, c, "CGMU2436601")
  ngx.update_time()
  local seconds = ngx.now() - t0
  local st = c:stats()
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode({ raised = not ok and tostring(page) or false, seconds = seconds,
    page = ok and page and true or false, error = ok and err_table(err) or false,
    retries = st.retries }))
end

local function answer(t)
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(t))
end

-- GET /t/verify (in an nginx that does not trust the sandbox): a client
-- with verify_tls = false, then one that verifies, of the same
-- credentials and token cache: their pools differ only by the check.
function M.verify()
  local cache = sng.token_cache("soget_tokens", { key = "verify-" .. ngx.now() })
  local a = soget.client{ timeout = 8, verify_tls = false, retries = 0 }
  local b = soget.client{ timeout = 8, retries = 0 }
  local pa, ea = sng.handling_units(a, "CGMU2436601", { token_cache = cache })
  local pb, eb = sng.handling_units(b, "CGMU2436601", { token_cache = cache })
  a:close()
  b:close()
  answer{ unverified = pa and pa.total or err_table(ea), verifying = pb and pb.total or err_table(eb) }
end

-- GET /t/wrongkey?n=N: N calls of a client whose API key the API refuses
-- (every token it sends refused), its token shared; answers what each got
-- and the client's requests.
function M.wrongkey()
  local n = tonumber(ngx.req.get_uri_args().n) or 10
  local cache = sng.token_cache("soget_tokens", { key = "wrongkey-" .. ngx.now() })
  local c = soget.client{ timeout = 8, api_key = "not-the-api-key" }
  local kinds = {}
  for i = 1, n do
    local page, err = sng.handling_units(c, "CGMU2436601", { token_cache = cache })
    kinds[i] = page and "a page" or err.kind
  end
  local st = c:stats()
  c:close()
  -- a client of the same credentials and token cache, its API key right
  local good = soget.client{ timeout = 8 }
  local page, err = sng.handling_units(good, "CGMU2436601", { token_cache = cache })
  local gst = good:stats()
  good:close()
  answer{ kinds = kinds, api_requests = st.api_requests, token_requests = st.token_requests,
    good = page and page.total or err_table(err), good_token_requests = gst.token_requests }
end

-- GET /t/revoked: a client whose token the API revokes (revoke-token),
-- then a client of the same credentials and token cache.
function M.revoked()
  local cache = sng.token_cache("soget_tokens", { key = "revoked-" .. ngx.now() })
  local base = os.getenv("SOGET_BASE_URL")
  local origin, path = base:match("^(https?://[^/]+)(/.*)$")
  local revoking = soget.client{ timeout = 8, base_url = origin .. "/_fault/revoke-token" .. path }
  local plain = soget.client{ timeout = 8 }
  local p1, e1 = sng.handling_units(revoking, "CGMU2436601", { token_cache = cache })
  local left = cache:get(soget._credentials(plain)) ~= nil
  local p2, e2 = sng.handling_units(plain, "CGMU2436601", { token_cache = cache })
  local st = plain:stats()
  revoking:close()
  plain:close()
  answer{ revoking = p1 and p1.total or err_table(e1), still_shared = left,
    plain = p2 and p2.total or err_table(e2), plain_api_requests = st.api_requests }
end

-- GET /t/clients: two clients, no token cache: a pool each.
function M.clients()
  sng.configure{ token_cache = false }   -- (the example's init_worker sets a default token cache)
  local before = sng.stats()
  local a, b = soget.client{ timeout = 10 }, soget.client{ timeout = 10 }
  local pa, ea = sng.handling_units(a, "CGMU2436601")
  local pb, eb = sng.handling_units(b, "CGMU2436601")
  local d = stats_delta(before)
  sng.configure{ token_cache = sng.token_cache("soget_tokens") }
  a:close()
  b:close()
  answer{ a = pa and pa.total or err_table(ea), b = pb and pb.total or err_table(eb),
    connections = d.connections, reused = d.reused }
end

-- GET /t/configure: sng.configure merges what it is given into the
-- defaults in force, false putting a key back to its built-in default: a
-- token cache configured first stays through a later configure{} of
-- another key (a new client then takes the shared token: no token request
-- of its own), and goes with token_cache = false; a call's own false is
-- the built-in default for that call. Answers each client's token
-- requests and what configure() answered.
function M.configure()
  local cache = sng.token_cache("soget_tokens", { key = "configure-" .. ngx.now() })
  local out, made = {}, {}
  local function lookup(name, opts)
    local c = soget.client{ timeout = 8 }
    made[#made + 1] = c
    local page, err = sng.handling_units(c, "CGMU2436601", opts)
    out[name] = page and c:stats().token_requests or err_table(err)
  end
  local function seen(conf)
    if type(conf) ~= "table" then return type(conf) end
    return { cache = conf.token_cache == cache, keepalive_timeout = conf.keepalive_timeout,
      pool_size = conf.pool_size }
  end
  local ok, e = pcall(function()
    out.first_conf = seen(sng.configure{ token_cache = cache })
    lookup("first")                      -- fetches the token, shares it
    out.merged_conf = seen(sng.configure{ keepalive_timeout = 30 })
    lookup("merged")                     -- takes the shared token
    out.call_false = "raised"
    lookup("call_false", { token_cache = false })   -- this call without the cache
    out.unchanged_conf = seen(sng.configure())
    out.reset_conf = seen(sng.configure{ token_cache = false, keepalive_timeout = false })
    lookup("reset")                      -- no token cache: a token of its own
  end)
  out.raised = not ok and tostring(e) or false
  -- the example's settings again, whatever happened above
  sng.configure{ token_cache = sng.token_cache("soget_tokens"), keepalive_timeout = 60 }
  for _, c in ipairs(made) do c:close() end
  answer(out)
end

-- GET /t/closed?what=api|wait|token|iter|after: a client closed by this
-- request's thread while a light thread's call on it is in flight: its API
-- request out (the API answering after 1 s), its retry's wait (a 429
-- asking for 1 s), its token request out (the token URL answering after
-- 1 s; the renewal lock held meanwhile), a page fetch of sng.iter; or
-- (after) a call begun on the closed client. Answers what the call gave,
-- whether it raised, and whether the renewal lock was let go.
local function fault_url(url, fault)
  local origin, path = url:match("^(https?://[^/]+)(/.*)$")
  return origin .. "/_fault/" .. fault .. path
end

function M.closed()
  local what = ngx.req.get_uri_args().what
  local id = ngx.now() .. "-" .. math.random(1e9)
  local base, token_url = os.getenv("SOGET_BASE_URL"), os.getenv("SOGET_TOKEN_URL")
  if what == "api" or what == "iter" then base = fault_url(base, "delay:ms=1000:id=" .. id)
  elseif what == "wait" then base = fault_url(base, "429:n=1:retry-after=1:id=" .. id)
  elseif what == "token" then token_url = fault_url(token_url, "delay:ms=1000:id=" .. id) end
  local cache = sng.token_cache("soget_tokens", { key = "closed-" .. id })
  local c = soget.client{ timeout = 8, base_url = base, token_url = token_url }
  local opts = { token_cache = cache }
  local out = {}
  if what ~= "token" then
    -- the token in place (shared through the cache, fetched by a client
    -- whose requests meet no fault): the call's API request is the one out
    local warm = soget.client{ timeout = 8 }
    local p, e = sng.handling_units(warm, "CGMU2436601", opts)
    warm:close()
    assert(p, tostring(e))
  end
  if what == "after" then
    c:close()
    local ok, e = pcall(function()
      local p, err = sng.handling_units(c, "CGMU2436601", opts)
      return p, err
    end)
    return answer{ raised = not ok and tostring(e) or false }
  end
  local first = what == "iter" and assert(sng.handling_units(c, { reference = "MSCU", limit = 10 }, opts))
  local th = ngx.thread.spawn(function()
    if what == "iter" then
      local n = 0
      local ok, e = pcall(function()
        for _ in sng.iter(c, first, opts) do n = n + 1 end
      end)
      out.units = n
      return nil, ok and "no error" or e
    end
    return sng.handling_units(c, "CGMU2436601", opts)
  end)
  ngx.sleep(what == "wait" and 0.3 or 0.15)   -- the call waits on the network, or in ngx.sleep
  c:close()
  ngx.update_time()
  local t0 = ngx.now()
  local ok, page, err = ngx.thread.wait(th)
  ngx.update_time()
  out.seconds = ngx.now() - t0
  out.raised = not ok and tostring(page) or false
  out.page = ok and page and true or false
  out.error = ok and (type(err) == "table" and err_table(err) or tostring(err)) or false
  out.locked = cache.dict:get(cache.lock_key) ~= nil
  answer(out)
end

-- GET /t/lockrace: another worker's token lands in the dictionary just as
-- this call takes the renewal lock: the call uses it, and lets go of the
-- lock (else the next renewal waits out its lock_ttl).
function M.lockrace()
  local cache = sng.token_cache("soget_tokens", { key = "lockrace-" .. ngx.now() })
  local other = soget.client{ timeout = 8 }
  local tok, left = other:token()   -- "the other worker's" token (blocking: a test only)
  local c = soget.client{ timeout = 8 }
  local cred = soget._credentials(c)
  cache.lock = function(self)
    self:put(tok, left, left, cred)
    return getmetatable(self).lock(self)
  end
  local page, err = sng.handling_units(c, "CGMU2436601", { token_cache = cache })
  local held = cache.dict:get(cache.lock_key) ~= nil
  local st = c:stats()
  other:close()
  c:close()
  answer{ page = page and page.total or err_table(err), lock_held = held,
    token_requests = st.token_requests }
end

-- GET /t/lockown: a lock held past its lock_ttl is taken by another call;
-- the first holder letting go of it then leaves the second's alone.
function M.lockown()
  local cache = sng.token_cache("soget_tokens", { key = "lockown-" .. ngx.now(), lock_ttl = 0.05 })
  local first = cache:lock()
  local refused = cache:lock()          -- held: false
  ngx.sleep(0.1)                        -- past lock_ttl
  local second = cache:lock()
  cache:unlock(first)                   -- the first renewal, done late
  local kept = cache.dict:get(cache.lock_key) == second
  cache:unlock(second)
  answer{ first = type(first), refused = refused, second = type(second),
    distinct = first ~= second, kept = kept, gone = cache.dict:get(cache.lock_key) == nil }
end

-- GET /t/deadlocks: renewal locks left behind by a worker, then a call
-- (timeout 1 s): both locks of a worker gone (a process that ended), with
-- lock_wait 0.2 s; the first lock alone of a worker gone, with lock_wait
-- 5 s (past the call's timeout); the first of a live worker (pid 1, which
-- is there) and the second of a worker gone, lock_wait 0.2 s; both of a
-- live worker.
function M.deadlocks()
  local p = io.popen("sh -c 'echo $$'")   -- a process, ended and reaped once closed
  local gone = tonumber(p:read("*l"))
  p:close()
  local out = {}
  for _, case in ipairs {
    { "gone", gone, gone, 0.2 }, { "gone_first", gone, nil, 5 },
    { "gone_second", 1, gone, 0.2 }, { "alive", 1, 1, 0.2 },
  } do
    local name, lock_pid, late_pid, wait = case[1], case[2], case[3], case[4]
    local cache = sng.token_cache("soget_tokens", { key = "deadlocks-" .. name .. ngx.now(),
      lock_wait = wait, lock_ttl = 60 })
    local lock = cache.lock_key .. "|" .. lock_pid .. ":1"
    local late = late_pid and cache.late_key .. "|" .. late_pid .. ":2"
    cache.dict:set(cache.lock_key, lock, 60)
    if late then cache.dict:set(cache.late_key, late, 60) end
    local c = soget.client{ timeout = 1 }
    ngx.update_time()
    local t0 = ngx.now()
    local page, err = sng.handling_units(c, "CGMU2436601", { token_cache = cache })
    ngx.update_time()
    local now_lock, now_late = cache.dict:get(cache.lock_key), cache.dict:get(cache.late_key)
    out[name] = { page = page and page.total or err_table(err), seconds = ngx.now() - t0,
      token_requests = c:stats().token_requests,
      lock = now_lock == lock and "kept" or now_lock == nil and "none" or "other",
      late = late and now_late == late and "kept" or now_late == nil and "none" or "other" }
    c:close()
    cache.dict:delete(cache.lock_key)
    cache.dict:delete(cache.late_key)
  end
  answer(out)
end

-- GET /t/expiry: the token cache passes a token's expiry on with it: the
-- client that takes the token from the cache can go on with it past its
-- renewal time when its renewal fails, as the client that fetched it can.
function M.expiry()
  local cache = sng.token_cache("soget_tokens", { key = "expiry-" .. ngx.now() })
  local a, b = soget.client{ timeout = 8 }, soget.client{ timeout = 8 }
  local pa, ea = sng.handling_units(a, "CGMU2436601", { token_cache = cache })
  local pb, eb = sng.handling_units(b, "CGMU2436601", { token_cache = cache })
  local ta, la, xa = a:token{ fetch = false }
  local tb, lb, xb = b:token{ fetch = false }
  answer{ a = pa and pa.total or err_table(ea), b = pb and pb.total or err_table(eb),
    same = ta == tb, a_left = la, a_expires = xa, b_left = lb, b_expires = xb,
    b_token_requests = b:stats().token_requests }
  a:close()
  b:close()
end

-- GET /t/static: a client with a token of its own and no credentials
-- (made with the credentials out of the environment) calls while another
-- client of the same token cache key renews slowly: it does not wait.
function M.static()
  local ffi = require "ffi"
  pcall(ffi.cdef, "int setenv(const char *, const char *, int); int unsetenv(const char *);")
  local key = "static-" .. ngx.now()
  local cache = sng.token_cache("soget_tokens", { key = key })
  local fetcher = soget.client{ timeout = 8 }
  local tok = assert(fetcher:token())   -- (blocking: a test only)
  local id, secret = os.getenv("SOGET_CLIENT_ID"), os.getenv("SOGET_CLIENT_SECRET")
  ffi.C.unsetenv("SOGET_CLIENT_ID")
  ffi.C.unsetenv("SOGET_CLIENT_SECRET")
  local ok, static = pcall(soget.client, { access_token = tok, timeout = 8 })
  ffi.C.setenv("SOGET_CLIENT_ID", id, 1)
  ffi.C.setenv("SOGET_CLIENT_SECRET", secret, 1)
  assert(ok, static)
  local origin, path = os.getenv("SOGET_TOKEN_URL"):match("^(https?://[^/]+)(/.*)$")
  local renewing = soget.client{ timeout = 8,
    token_url = origin .. "/_fault/delay:ms=1500" .. path }
  local th = ngx.thread.spawn(sng.handling_units, renewing, "CGMU2436601", { token_cache = cache })
  ngx.sleep(0.1)   -- the renewal under way, its lock held
  ngx.update_time()
  local t0 = ngx.now()
  local page, err = sng.handling_units(static, "CGMU2436601", { token_cache = cache })
  ngx.update_time()
  local seconds = ngx.now() - t0
  local _, rpage, rerr = ngx.thread.wait(th)
  answer{ static = page and page.total or err_table(err), seconds = seconds,
    static_credentials = soget._credentials(static) or false,
    renewing = rpage and rpage.total or err_table(rerr) }
  fetcher:close()
  static:close()
  renewing:close()
end

-- GET /t/herd?n=N&ms=MS&wait=S: N calls at once, each with a client of its
-- own and one token cache (lock_wait S), the token URL answering after MS
-- ms: answers their totals (or errors).
function M.herd()
  local a = ngx.req.get_uri_args()
  local cache = sng.token_cache("soget_tokens", { key = "herd-" .. ngx.now(),
    lock_wait = tonumber(a.wait) or 0.3 })
  local origin, path = os.getenv("SOGET_TOKEN_URL"):match("^(https?://[^/]+)(/.*)$")
  local turl = origin .. "/_fault/delay:ms=" .. (tonumber(a.ms) or 1200) .. path
  local threads, clients_made = {}, {}
  for i = 1, tonumber(a.n) or 6 do
    clients_made[i] = soget.client{ timeout = 8, token_url = turl }
    threads[i] = ngx.thread.spawn(sng.handling_units, clients_made[i], "CGMU2436601",
      { token_cache = cache })
    ngx.sleep(0.01)
  end
  local out, tokens = {}, 0
  for i, th in ipairs(threads) do
    local _, page, err = ngx.thread.wait(th)
    out[i] = page and page.total or err_table(err)
    tokens = tokens + clients_made[i]:stats().token_requests
    clients_made[i]:close()
  end
  answer{ results = out, token_requests = tokens }
end

-- GET /t/abort: a lookup whose token request takes 1 s, in a location
-- with lua_check_client_abort on: the spec's client goes away meanwhile.
local abort_client
function M.abort()
  if not abort_client then
    local origin, path = os.getenv("SOGET_TOKEN_URL"):match("^(https?://[^/]+)(/.*)$")
    abort_client = soget.client{ timeout = 5, token_url = origin .. "/_fault/delay:ms=1000" .. path }
  end
  if ngx.req.get_uri_args().after then   -- the same client, once the aborted calls ended
    ngx.update_time()
    local t0 = ngx.now()
    local page, err = sng.handling_units(abort_client, "CGMU2436601",
      { token_cache = sng.token_cache("soget_tokens", { key = "abort" }) })
    ngx.update_time()
    return answer{ page = page and page.total or err_table(err), seconds = ngx.now() - t0 }
  end
  sng.handling_units(abort_client, "CGMU2436601",
    { token_cache = sng.token_cache("soget_tokens", { key = "abort" }) })
  ngx.say("done")
end

-- GET /t/keptalive[?port=P[&block=1]]: two lookups, with no retries of
-- the call's (retries = 0), over plain HTTP to this nginx's own
-- /odd/closing location, which answers the first request of a connection
-- and closes the next without an answer (code 444); or to the listener on
-- port P (spec/integration/relay.lua: idle-reset, says-close), the worker
-- blocked between the two with block (so that the pool does not see what
-- the server did to the idle connection meanwhile).
function M.keptalive()
  local a = ngx.req.get_uri_args()
  local base = a.port and ("http://127.0.0.1:" .. a.port)
    or ("http://127.0.0.1:" .. ngx.var.server_port .. "/odd/closing")
  local c = soget.client{ base_url = base .. "/api-tracing-code/v1", access_token = "tok-odd-0123456789",
    api_key = "key-odd-0123456789", retries = 0, timeout = 8 }
  local before = sng.stats()
  local p1, e1 = sng.handling_units(c, "CGMU2436601")
  if a.block then os.execute("sleep 0.6") else ngx.sleep(0.1) end
  ngx.update_time()
  local t0 = ngx.now()
  local p2, e2 = sng.handling_units(c, "CGMU2436601")
  ngx.update_time()
  local d = stats_delta(before)
  c:close()
  answer{ first = p1 and p1.total or err_table(e1), second = p2 and p2.total or err_table(e2),
    seconds = ngx.now() - t0, connections = d.connections, reused = d.reused }
end

-- Calls where nginx has no cosockets: init and init_worker (here), the
-- header filter and the log phase (/t/filter). /t/phases answers what they
-- got.
local init_result, init_worker_result
function M.init()
  local c = soget.client{}
  local page, err = sng.handling_units(c, "CGMU2436601")
  init_result = page and "a page" or err_table(err)
end

function M.init_worker()
  local c = soget.client{}
  local page, err = sng.handling_units(c, "CGMU2436601")
  init_worker_result = page and "a page" or err_table(err)
end

local function phase_call(name)
  local c = soget.client{}
  local ok, page, err = pcall(sng.handling_units, c, "CGMU2436601")
  local v = not ok and { raised = tostring(page) } or page and "a page" or err_table(err)
  ngx.shared.soget_spec:set("phase:" .. name, cjson.encode(v))
end

function M.in_filter() phase_call("header_filter") end
function M.in_client_hello() phase_call("ssl_client_hello") end
function M.in_log() phase_call("log") end

function M.phases()
  local dict = ngx.shared.soget_spec
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode{ init = init_result, init_worker = init_worker_result,
    header_filter = cjson.decode(dict:get("phase:header_filter") or "null"),
    ssl_client_hello = cjson.decode(dict:get("phase:ssl_client_hello") or "null"),
    log = cjson.decode(dict:get("phase:log") or "null") })
end

-- A lookup in the access phase: the content handler prints its total.
function M.in_access()
  local c = soget.client{}
  local page, err = sng.handling_units(c, "CGMU2436601")
  ngx.ctx.soget_total = page and page.total or tostring(err)
end

-- GET /t/iterfail?id=ID: a page of SOGU1000004 (12 units, 5 a page) from
-- a plain client, walked with sng.iter by a client without retries whose
-- first API request gets a 500 (fault 500:n=1 under ID): the iterator
-- raises that error, and called again fetches the page again, as
-- page:iter() does.
function M.iterfail()
  local a = ngx.req.get_uri_args()
  local base = os.getenv("SOGET_BASE_URL")
  local plain = soget.client{ base_url = base, timeout = 20 }
  local page = assert(sng.handling_units(plain, { reference = "SOGU1000004", limit = 5 }))
  local failing = soget.client{ base_url = fault_url(base, "500:n=1:id=" .. a.id), retries = 0,
    timeout = 20 }
  local it, pager = sng.iter(failing, page)
  local out = { total = page.total, units = 0, errors = {} }
  for _ = 1, 50 do   -- (bounded: each turn yields a unit, raises, or ends)
    local ok, hu = pcall(it)
    if not ok then
      out.errors[#out.errors + 1] = { kind = hu.kind, status = hu.status, retryable = hu.retryable }
    elseif hu == nil then
      break
    else
      out.units = out.units + 1
    end
  end
  local st = pager:stats()
  out.done, out.why, out.pages = st.done, st.why, st.pages
  plain:close()
  failing:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

return M
