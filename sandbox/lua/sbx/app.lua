-- Request handling for the sandbox (runs inside nginx's Lua module).
local J = require("sbx.json")
local D = require("sbx.data")

local ngx = ngx
local floor, min, max = math.floor, math.min, math.max
local concat = table.concat
local obj, null = J.obj, J.null

local M = {}

local API_PATH = "/api-tracing-code/v1/handling-units"
local SEARCH_PATH = "/api-tracing-code-in-mass/v1/handling-units/search"
local TOKEN_PATH = "/soget-connect/v1/openid-connect/token"
local LOG_KEEP = 200
local JSON_TYPE = "application/json; charset=utf-8"

local CFG, DS, SPEC_TEXT, SEARCH_SPEC_TEXT, SCHEMAS, INFO_JSON
local STATS, TOKENS, FAULTS, ISSUED, LOG
local URANDOM
local CJSON = require("cjson").new()
local match_cache, match_cache_n = {}, 0

---------------------------------------------------------------------------
-- init (master, before the workers fork): configuration and dataset
function M.init()
  local env = os.getenv
  CFG = {
    client_id = env("SOGET_CLIENT_ID"),
    client_secret = env("SOGET_CLIENT_SECRET"),
    api_key = env("SOGET_API_KEY"),
    search_key = env("SOGET_SANDBOX_SEARCH_KEY"),
    units = tonumber(env("SOGET_SANDBOX_UNITS") or "") or 3000,
    seed = tonumber(env("SOGET_SANDBOX_SEED") or "") or 6346,
    token_ttl = tonumber(env("SOGET_SANDBOX_TOKEN_TTL") or "") or 3600,
    spec_file = env("SOGET_SANDBOX_SPEC"),
  }
  -- how many requests the log keeps (the soak keeps thousands)
  LOG_KEEP = min(max(floor(tonumber(env("SOGET_SANDBOX_LOG_KEEP") or "") or 200), 1), 100000)
  assert(CFG.client_id and CFG.client_secret and CFG.api_key and CFG.search_key,
    "SOGET_CLIENT_ID, SOGET_CLIENT_SECRET, SOGET_API_KEY and SOGET_SANDBOX_SEARCH_KEY must be set")
  assert(CFG.spec_file, "SOGET_SANDBOX_SPEC must be set")
  CFG.units = min(max(floor(CFG.units), 1), 200000)

  local f = assert(io.open(CFG.spec_file, "rb"))
  SPEC_TEXT = f:read("*a")
  f:close()
  SCHEMAS = require("cjson").decode(SPEC_TEXT).components.schemas
  -- the in-mass document sits next to the tracing one (same schemas)
  f = assert(io.open((CFG.spec_file:gsub("openapi%.json$", "openapi-in-mass.json")), "rb"))
  SEARCH_SPEC_TEXT = f:read("*a")
  f:close()

  DS = D.generate({ units = CFG.units, seed = CFG.seed })
  local info = J.map({})
  for k, v in pairs(DS.info) do info[k] = v end
  info.token_ttl = CFG.token_ttl
  INFO_JSON = J.encode(info)
end

function M.init_worker()
  STATS = ngx.shared.sbx_stats
  TOKENS = ngx.shared.sbx_tokens
  FAULTS = ngx.shared.sbx_faults
  ISSUED = ngx.shared.sbx_issued
  LOG = ngx.shared.sbx_log
  URANDOM = assert(io.open("/dev/urandom", "rb"))
end

---------------------------------------------------------------------------
-- helpers
local function random_hex(n)
  local b = URANDOM:read(n)
  return (b:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- (seven digits, as the API's framework writes them; ngx.now() counts
-- milliseconds, whose float would give .4279999)
local function now_iso()
  local ms = floor(ngx.now() * 1000 + 0.5)
  local s = floor(ms / 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%03d0000Z", ms - s * 1000)
end

-- s as UTF-8: each byte that begins no valid sequence (a stray
-- continuation byte, an overlong form, a surrogate, past U+10FFFF, a cut
-- sequence) becomes U+FFFD, as the API's framework decodes a query: what
-- is echoed into a JSON answer stays UTF-8, and lengths count characters.
local REPLACEMENT = "\239\191\189"
local function utf8_valid(s)
  if not s:find("[\128-\255]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or (c >= 0xC2 and c <= 0xDF) and 2 or (c >= 0xE0 and c <= 0xEF) and 3
      or (c >= 0xF0 and c <= 0xF4) and 4 or 0
    local ok = len > 0 and i + len - 1 <= n
    if ok and len > 1 then
      for j = i + 1, i + len - 1 do
        local d = s:byte(j)
        if d < 0x80 or d > 0xBF then ok = false break end
      end
      local d = s:byte(i + 1)
      if (c == 0xE0 and d < 0xA0) or (c == 0xED and d > 0x9F) or (c == 0xF0 and d < 0x90)
          or (c == 0xF4 and d > 0x8F) then
        ok = false
      end
    end
    if ok then
      out[#out + 1] = s:sub(i, i + len - 1)
      i = i + len
    else
      out[#out + 1] = REPLACEMENT
      i = i + 1
    end
  end
  return table.concat(out)
end

-- A query or form parameter's value: the first when repeated, nil when
-- absent or given without "=", as UTF-8 (utf8_valid)
local function one(v)
  if type(v) == "table" then v = v[1] end
  if v == true or v == nil then return nil end
  return utf8_valid(v)
end

-- A connection's first token or API request counts it, and its TLS
-- handshake when it has one: resumed (an abbreviated handshake reusing a
-- session the client kept) or full.
local function track_connection()
  local n = STATS:incr("conn:" .. ngx.var.connection, 1, 0, 900)
  if n == 1 then
    STATS:incr("connections", 1, 0)
    if ngx.var.https == "on" then
      STATS:incr("tls_handshakes", 1, 0)
      if ngx.var.ssl_session_reused == "r" then STATS:incr("tls_resumed", 1, 0) end
    end
  end
  if n > (STATS:get("rpc_max") or 0) then STATS:set("rpc_max", n) end
  STATS:set("rpc_last", n)
end

---------------------------------------------------------------------------
-- faults
local KNOWN = {}
for name in ([[500 502 503-then-ok 504 408 429 403 delay trickle reset truncate
  malformed wrong-types nulls inconsistent expire-token extra-fields large huge
  deep shift repeat-unit redirect token-ttl bad-token-json big-header
  big-token revoke-token token-type many-items no-total order]]):gmatch("%S+") do
  KNOWN[name] = true
end

-- name -> status, HttpBusinessError status, OAuth error, default n (nil: always)
local STATUS_FAULTS = {
  ["500"] = { 500, "InternalServerError", "server_error" },
  ["502"] = { 502, "BadGateway", "server_error" },
  ["503-then-ok"] = { 503, "ServiceUnavailable", "temporarily_unavailable", 1 },
  ["504"] = { 504, "GatewayTimeout", "server_error" },
  ["408"] = { 408, "RequestTimeout", "server_error" },
  ["429"] = { 429, "TooManyRequests", "too_many_requests" },
  ["403"] = { 403, "Forbidden", "access_denied" },
}

local function parse_faults(spec)
  local F = { list = {}, by = {}, spec = spec }
  for part in spec:gmatch("[^,]+") do
    local fields = {}
    for x in part:gmatch("[^:]+") do fields[#fields + 1] = x end
    local name = ngx.unescape_uri(fields[1] or "")
    if not KNOWN[name] then return nil, "unknown fault '" .. name .. "'" end
    local p = {}
    for i = 2, #fields do
      local k, v = fields[i]:match("^([^=]*)=(.*)$")
      if k then p[ngx.unescape_uri(k)] = ngx.unescape_uri(v)
      else p[ngx.unescape_uri(fields[i])] = "" end
    end
    local key = name .. "|" .. (p.id or spec)
    -- (a shared dict's keys are at most 64 KB: a longer one by its digest)
    if #key > 250 then key = name .. "|#" .. ngx.md5(key) end
    local f = { name = name, p = p, key = key }
    F.list[#F.list + 1] = f
    F.by[name] = F.by[name] or f
  end
  if #F.list == 0 then return nil, "empty fault spec" end
  return F
end

-- A fault's numeric parameter: between lo and hi (hi at most 2^31 - 1),
-- whole unless frac, the default when it is not a number (nor "nan",
-- which LuaJIT's tonumber reads).
local function pnum(f, key, default, lo, hi, frac)
  local v = tonumber(f and f.p[key] or nil)
  if not v or v ~= v then v = default end
  if not frac then v = floor(v) end
  hi = min(hi or 2147483647, 2147483647)
  if lo and v < lo then v = lo end
  if v > hi then v = hi end
  return v
end

---------------------------------------------------------------------------
-- chaos: faults drawn at random on API requests that name none
-- (POST /_control/chaos sets it up; the token URL is left alone)
local CHAOS = {
  ["500"] = "500", ["502"] = "502", ["503"] = "503-then-ok", ["504"] = "504",
  ["408"] = "408", ["429"] = "429", reset = "reset", truncate = "truncate",
  delay = "delay", ["revoke-token"] = "revoke-token",
}
local CHAOS_MIX = "500,503,429,reset,truncate,delay,revoke-token"

-- A fault set (as parse_faults makes) for this request, or nil. Status
-- faults drawn so apply to this request alone (no state is kept).
local function chaos_pick()
  local rate = FAULTS:get("chaos:rate")
  if not rate or rate <= 0 then return nil end
  STATS:incr("chaos_seen", 1, 0)
  if math.random() >= rate then return nil end
  local kinds = {}
  for k in (FAULTS:get("chaos:mix") or CHAOS_MIX):gmatch("[^,]+") do kinds[#kinds + 1] = k end
  local kind = kinds[math.random(#kinds)]
  local p, spec = {}, kind
  if kind == "delay" then
    local lo, hi = FAULTS:get("chaos:delay_lo") or 100, FAULTS:get("chaos:delay_hi") or 1000
    p.ms = tostring(lo + math.random(0, hi - lo))
    spec = "delay:ms=" .. p.ms
  elseif kind == "429" then
    p["retry-after"] = tostring(FAULTS:get("chaos:retry_after") or 1)
    spec = "429:retry-after=" .. p["retry-after"]
  end
  local f = { name = CHAOS[kind], p = p, key = "chaos", chaos = true }
  STATS:incr("chaos:" .. kind, 1, 0)
  return { list = { f }, by = { [f.name] = f }, spec = spec, chaos = spec }
end

-- POST /_control/chaos?rate=R&mix=K,K&delay=LO-HI&retry_after=S&seed=N
local function chaos_set(a)
  local rate = tonumber(one(a.rate) or "")
  if not rate or rate ~= rate or rate < 0 or rate > 1 then
    return nil, "rate must be a number from 0 to 1"
  end
  local mix = one(a.mix) or CHAOS_MIX
  for k in (mix .. ","):gmatch("([^,]*),") do
    if not CHAOS[k] then return nil, "unknown chaos fault '" .. k .. "'" end
  end
  local lo, hi = 100, 1000
  if one(a.delay) then
    lo, hi = one(a.delay):match("^(%d+)%-(%d+)$")
    lo, hi = tonumber(lo), tonumber(hi)
    if not lo or lo > hi or hi > 600000 then return nil, "delay must be LO-HI milliseconds" end
  end
  local ra = tonumber(one(a.retry_after) or "1")
  if not ra or ra < 0 or ra > 3600 or ra ~= floor(ra) then
    return nil, "retry_after must be whole seconds from 0 to 3600"
  end
  local seed = one(a.seed)
  if seed then
    seed = tonumber(seed)
    if not seed or seed ~= floor(seed) then return nil, "seed must be a whole number" end
    math.randomseed(seed)
  end
  FAULTS:set("chaos:mix", mix)
  FAULTS:set("chaos:delay_lo", lo)
  FAULTS:set("chaos:delay_hi", hi)
  FAULTS:set("chaos:retry_after", ra)
  FAULTS:set("chaos:rate", rate)
  return true
end

local function chaos_json()
  local injected = J.map({})
  for _, k in ipairs(STATS:get_keys(0)) do
    local kind = k:match("^chaos:(.+)$")
    if kind then injected[kind] = STATS:get(k) end
  end
  return J.encode(J.map({
    rate = FAULTS:get("chaos:rate") or 0,
    mix = FAULTS:get("chaos:mix") or CHAOS_MIX,
    delay_ms = { FAULTS:get("chaos:delay_lo") or 100, FAULTS:get("chaos:delay_hi") or 1000 },
    retry_after = FAULTS:get("chaos:retry_after") or 1,
    requests = STATS:get("chaos_seen") or 0,
    injected = injected,
  }))
end

---------------------------------------------------------------------------
-- body transformations driven by the OpenAPI schemas
local function nullify(o)
  if not J.is_obj(o) then return end
  local sch = SCHEMAS[J.schema(o) or ""]
  if not sch or not sch.properties then return end
  local props = sch.properties
  local function visit(name)
    local p = props[name]
    if not p then return end
    local v = o[name]
    if p.nullable then
      J.set(o, name, null)
    elseif p["$ref"] and J.is_obj(v) then
      nullify(v)
    elseif p.type == "array" and type(v) == "table" and v ~= null then
      for i = 1, #v do nullify(v[i]) end
    end
  end
  local present = {}
  for i, k in ipairs(J.keys(o)) do present[i] = k end
  local seen = {}
  for _, k in ipairs(present) do seen[k] = true; visit(k) end
  local missing = {}
  for k in pairs(props) do if not seen[k] then missing[#missing + 1] = k end end
  table.sort(missing)
  for _, k in ipairs(missing) do visit(k) end
end

local function wrong_value(v)
  local t = type(v)
  if t == "string" then
    if v:match("^%d%d%d%d%-%d%d%-%d%dT") then
      return tonumber((v:gsub("%D", "")):sub(1, 14))
    end
    return tonumber(v) or 12345
  elseif t == "number" then
    return tostring(v)
  elseif t == "boolean" then
    return v and "true" or "false"
  elseif v == null then
    return 0
  elseif J.is_obj(v) then
    return { v }
  elseif t == "table" then
    return obj(nil, "0", v[1] or null)
  end
  return 0
end

-- path like items[2].events[1].eventDate (1-based indexes, as Lua counts)
local function wrong_types(tree, path)
  local steps = {}
  for s in (path:gsub("%[(%d+)%]", ".#%1")):gmatch("[^%.]+") do steps[#steps + 1] = s end
  local parent, key = nil, nil
  local cur = tree
  for i, s in ipairs(steps) do
    local k = s
    local idx = s:match("^#(%d+)$")
    if idx then k = tonumber(idx) end
    if type(cur) ~= "table" or cur == null or cur[k] == nil then return false end
    parent, key = cur, k
    cur = cur[k]
    if i == #steps then break end
  end
  if parent == nil then return false end
  parent[key] = wrong_value(cur)
  return true
end

local EXTRA = '"sandboxExtra":{"note":"unknown field","n":1,"list":[1,"two",null,true]}'

---------------------------------------------------------------------------
-- output
local function send(status, body, F, headers)
  ngx.status = status
  ngx.header["Content-Type"] = JSON_TYPE
  if headers then
    for k, v in pairs(headers) do ngx.header[k] = v end
  end
  local by = F and F.by or {}
  if by["big-header"] then
    ngx.header["X-Sandbox-Big"] =
      string.rep("a", pnum(by["big-header"], "bytes", 2097152, 1, 8 * 1048576))
  end
  if by.malformed then
    local b, n = body:gsub('"items":%[', '"items":[,', 1)
    if n == 0 then b = body:sub(1, -2) .. ',}' end
    body = b
  end
  if by["no-total"] then
    -- a page without its total, which the document does not require
    body = body:gsub('^{"total":%-?%d+,', "{", 1)
  end
  if by["many-items"] then
    -- N empty units `{}` before the page's own, past the limit asked for
    -- (totals unchanged): a body gzip makes a few KB of
    local n = pnum(by["many-items"], "n", 1000000, 1, 4000000)
    local units = string.rep("{},", n - 1) .. "{}"
    local b, k = body:gsub('"items":%[%]', function() return '"items":[' .. units .. "]" end, 1)
    if k == 0 then
      b = body:gsub('"items":%[', function() return '"items":[' .. units .. "," end, 1)
    end
    body = b
  end
  if by.huge then
    local want = pnum(by.huge, "bytes", 1048576, 0, 256 * 1048576)
    local pad = want - #body - #',"sandboxPadding":""'
    if pad > 0 and body:sub(-1) == "}" then
      body = body:sub(1, -2) .. ',"sandboxPadding":"' .. string.rep("x", pad) .. '"}'
    end
  end
  if by.deep then
    local d = pnum(by.deep, "depth", 1000, 1, 10000000)
    if body:sub(-1) == "}" then
      body = body:sub(1, -2) .. ',"sandboxDeep":' .. string.rep("[", d) .. string.rep("]", d) .. "}"
    end
  end
  if by.truncate or by.trickle then
    ngx.req.clear_header("Accept-Encoding")
  end
  ngx.header["Content-Length"] = #body
  if by.truncate then
    ngx.print(body:sub(1, floor(#body / 2)))
    ngx.flush(true)
    return ngx.exit(444)
  end
  if by.trickle then
    local bps = pnum(by.trickle, "bps", 1000, 1, 1e9)
    local chunk = max(1, floor(bps / 10))
    local pos = 1
    while pos <= #body do
      ngx.print(body:sub(pos, pos + chunk - 1))
      ngx.flush(true)
      pos = pos + chunk
      if pos <= #body then ngx.sleep(chunk / bps) end
    end
    return
  end
  ngx.print(body)
end

local function encode_tree(tree, F)
  local by = F and F.by or {}
  if by.nulls then nullify(tree) end
  return J.encode(tree, by["extra-fields"] and { extra = EXTRA } or nil)
end

local function send_error(status, st, code, message, F, headers)
  local tree = obj("HttpBusinessError",
    "status", st, "timestamp", now_iso(), "code", code or null, "message", message or null)
  return send(status, encode_tree(tree, F), F, headers)
end

local function send_oauth_error(status, err, desc, F, headers)
  local tree = obj("OAuthError", "error", err, "error_description", desc)
  return send(status, encode_tree(tree, F), F, headers)
end

-- phase A: faults applied before anything else; returns true when answered
local function early_faults(F)
  if not F then return false end
  local by = F.by
  if by.delay then ngx.sleep(pnum(by.delay, "ms", 1000, 0, 600000, true) / 1000) end
  if by.reset then
    ngx.exit(444)
    return true
  end
  if by.redirect then
    local to = by.redirect.p.to
    if not to or to == "" then
      send_error(400, "BadRequest", nil, "sandbox: redirect needs to=URL", nil)
      return true
    end
    if by.redirect.p.keep == "path" then
      to = to .. ngx.ctx.rest_path .. (ngx.var.is_args or "") .. (ngx.var.args or "")
    end
    send(307, '{"redirect":' .. J.quote(to) .. '}', nil, { Location = to })
    return true
  end
  return false
end

-- phase C: status faults; returns true when answered
local function status_faults(F, oauth)
  if not F then return false end
  for _, f in ipairs(F.list) do
    local sf = STATUS_FAULTS[f.name]
    if sf then
      -- n: how many times (whole, within range); absent or not a number
      -- (nan too), the fault's default: every time, or once
      local limit = tonumber(f.p.n)
      if limit and limit == limit then limit = pnum(f, "n", 0, 0) else limit = sf[4] end
      local active = true
      if limit and not f.chaos then active = FAULTS:incr(f.key, 1, 0, 86400) <= limit end
      if active then
        local h = {}
        if f.p["retry-after"] then
          h["Retry-After"] = f.p["retry-after"]
        elseif f.p["retry-date"] then
          h["Retry-After"] = ngx.http_time(ngx.time() + pnum(f, "retry-date", 1, -31536000))   -- (a year back at most)
        elseif f.name == "429" then
          h["Retry-After"] = "1"
        end
        -- a second Retry-After line after the first (nginx sends a list
        -- as one line each)
        if f.p.again and h["Retry-After"] then h["Retry-After"] = { h["Retry-After"], f.p.again } end
        local msg = "sandbox fault " .. f.name
        if oauth then
          send_oauth_error(sf[1], sf[3], msg, F, h)
        else
          send_error(sf[1], sf[2], nil, msg, F, h)
        end
        return true
      end
    end
  end
  return false
end

---------------------------------------------------------------------------
-- GET handling-units
local function bad_param(name, value, rule, F)
  return send_error(400, "BadRequest", nil,
    string.format("The value '%s' is not valid for %s. %s", value, name, rule), F)
end

local function find(uref, upsw)
  local key = uref .. "\0" .. upsw
  local m = match_cache[key]
  if not m then
    if match_cache_n >= 2000 then match_cache, match_cache_n = {}, 0 end
    m = D.find(DS, uref, upsw)
    match_cache[key] = m
    match_cache_n = match_cache_n + 1
  end
  return m
end

-- Subscription key (the search also takes its own key), then the bearer
-- token; answers the 401 and returns true when they do not pass.
local function authenticate(F, search)
  local key = ngx.var.http_ocp_apim_subscription_key
  if not key or key == "" then
    send_error(401, "Unauthorized", nil,
      "Access denied due to missing subscription key. " ..
      "Make sure to include subscription key when making requests to an API.", F)
    return true
  elseif key ~= CFG.api_key and not (search and key == CFG.search_key) then
    send_error(401, "Unauthorized", nil,
      "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.", F)
    return true
  end
  local auth = ngx.var.http_authorization
  local tok = auth and auth:match("^[Bb][Ee][Aa][Rr][Ee][Rr] +([^%s]+)%s*$")
  if not tok then
    send_error(401, "Unauthorized", nil, "Missing bearer token.", F,
      { ["WWW-Authenticate"] = 'Bearer realm="soget-sandbox"' })
    return true
  end
  local exp = TOKENS:get(tok)
  local expired = exp and exp <= ngx.now()
  local revoke = exp and not expired and F and F.by["revoke-token"]
  if revoke and revoke.p.n and not revoke.chaos then
    -- n=K: the first K live tokens used (counted under the fault's id)
    revoke = FAULTS:incr(revoke.key, 1, 0, 86400) <= pnum(revoke, "n", 1, 0)
  end
  if revoke then
    -- revoked now: unknown from here on, as if never issued
    TOKENS:delete(tok)
    local why = "The access token was revoked"
    send_error(401, "Unauthorized", nil, why .. ".", F,
      { ["WWW-Authenticate"] = string.format(
        'Bearer realm="soget-sandbox", error="invalid_token", error_description="%s"', why) })
    return true
  end
  if exp and not expired and F and F.by["expire-token"] then
    local f = F.by["expire-token"]
    local n = FAULTS:incr(f.key .. "|" .. ngx.md5(tok), 1, 0, 86400)
    if n > pnum(f, "after", 1, 0) then
      TOKENS:set(tok, 0, 300)
      expired = true
    end
  end
  if not exp or expired then
    local why = expired and "The access token expired" or "The access token is invalid"
    send_error(401, "Unauthorized", nil, why .. ".", F,
      { ["WWW-Authenticate"] = string.format(
        'Bearer realm="soget-sandbox", error="invalid_token", error_description="%s"', why) })
    return true
  end
  ngx.ctx.token_ok = true
  return false
end

-- desc, limit and offset as both paths read them; answers the 400 and
-- returns nil when one is bad.
local function paging_params(args, F)
  local desc_s, limit_s, offset_s = one(args.desc), one(args.limit), one(args.offset)
  local desc = false
  if desc_s and desc_s ~= "" then
    local l = desc_s:lower()
    if l == "true" then desc = true
    elseif l ~= "false" then
      bad_param("desc", desc_s, "It must be true or false.", F)
      return nil
    end
  end
  -- an integer within [lo, hi] (a sign, digits, leading zeros as any
  -- integer parser takes them: "-0", "007"), or nil
  local function whole(v, lo, hi)
    local sign, digits = v:match("^([+-]?)0*(%d-)$")
    if not sign or not v:find("%d") then return nil end
    local n = #digits <= 10 and tonumber(digits ~= "" and digits or "0")
    if n and sign == "-" then n = 0 - n end   -- (-0 is 0)
    return n and n >= lo and n <= hi and n or nil
  end
  local limit = 5
  if limit_s and limit_s ~= "" then
    limit = whole(limit_s, 1, 10)
    if not limit then
      bad_param("limit", limit_s, "It must be an integer between 1 and 10.", F)
      return nil
    end
  end
  local offset = 0
  if offset_s and offset_s ~= "" then
    offset = whole(offset_s, 0, 2147483647)
    if not offset then
      bad_param("offset", offset_s, "It must be an integer between 0 and 2147483647.", F)
      return nil
    end
  end
  return { desc = desc, limit = limit, offset = offset }
end

-- Answers the page of the matches m (unit indexes in ascending order) that
-- P (desc, limit, offset) asks for, with the paging and body faults; an
-- empty m is R001.
local function send_page(m, P, F)
  local desc, limit, offset = P.desc, P.limit, P.offset
  local total = #m
  if total == 0 then
    return send_error(404, "NotFound", "R001", "No handling unit was found", F)
  end

  -- page selection (with the paging faults)
  local by = F and F.by or {}
  if by.order then
    -- another order the document allows (it names no sort key): the S)ONE
    -- ids', the order of a listing in the order its passages came
    local units, o = DS.units, {}
    for i = 1, total do o[i] = m[i] end
    table.sort(o, function(a, b)
      local pa, pb = units[a].psw or "", units[b].psw or ""
      if pa ~= pb then return pa < pb end
      return a < b
    end)
    m = o
  end
  local start = offset             -- 0-based position in the sorted list
  local first = offset
  local rep_total = total
  if by.shift and offset > 0 then
    local k = pnum(by.shift, "n", 1, 0)
    rep_total = total + k
    start = max(0, offset - k)
  end
  local mode = by.inconsistent and (by.inconsistent.p.mode or "first")
  if mode == "stuck" then start = 0 end
  local idx = {}
  if mode ~= "short" then
    for p = start, min(start + limit, total) - 1 do
      idx[#idx + 1] = desc and m[total - p] or m[p + 1]
    end
  end
  local rep = by["repeat-unit"]
  if rep then
    -- the listing's first unit (in the order asked for) on every page, then
    -- at most `keep` of the page's own other units
    local u = desc and m[total] or m[1]
    local keep = floor(pnum(rep, "keep", limit - 1, 0, limit - 1))
    local out = { u }
    for i = 1, #idx do
      if #out > keep then break end
      if idx[i] ~= u then out[#out + 1] = idx[i] end
    end
    idx = out
    if rep.p.total then rep_total = floor(pnum(rep, "total", total, 0, 2147483647)) end
  end
  local returned = #idx
  if mode == "first" then first = offset + 1
  elseif mode == "returned" then returned = #idx + 1
  elseif mode == "total-grows" then
    rep_total = rep_total + FAULTS:incr(by.inconsistent.key, 1, 0, 86400)
  end

  local units = DS.units
  local body
  if by.nulls or by["extra-fields"] or by["wrong-types"] or by.large then
    local items = {}
    local n_events = by.large and pnum(by.large, "events", 1000, 0, 20000)
    for i = 1, #idx do
      local t = J.copy(units[idx[i]].tree)
      if n_events then J.set(t, "events", D.many_events(t, n_events)) end
      items[i] = t
    end
    local tree = obj("HandlingUnitItemsResponseModel",
      "total", rep_total, "returned", returned, "first", first, "items", items)
    if by.nulls then
      for i = 1, #items do nullify(items[i]) end
      if by.nulls.p.items == "null" then tree.items = null end
    end
    if by["wrong-types"] then
      local path = by["wrong-types"].p.field or "items[2].events[1].eventDate"
      if not wrong_types(tree, path) then
        return send_error(400, "BadRequest", nil,
          "sandbox: wrong-types field '" .. path .. "' is not in this response", nil)
      end
    end
    body = J.encode(tree, by["extra-fields"] and { extra = EXTRA } or nil)
  else
    local parts = { '{"total":', rep_total, ',"returned":', returned, ',"first":', first, ',"items":[' }
    local n = #parts
    for i = 1, #idx do
      if i > 1 then n = n + 1; parts[n] = "," end
      n = n + 1; parts[n] = units[idx[i]].json
    end
    n = n + 1; parts[n] = "]}"
    body = concat(parts, "", 1, n)
  end
  return send(200, body, F)
end

-- The document describes GET only (HEAD, GET without a body, comes with it).
local function not_get(F)
  local m = ngx.req.get_method()
  if m == "GET" or m == "HEAD" then return false end
  send_error(405, "MethodNotAllowed", nil, "The method " .. m .. " is not allowed; use GET", F,
    { Allow = "GET, HEAD" })
  return true
end

---------------------------------------------------------------------------
-- the request log: entries seq - LOG_KEEP + 1 .. seq, in a dictionary of
-- its own (the counters cannot be pushed out by it); when it is full (large
-- bodies), the oldest entries go first and log_first says so, so that a
-- reader is told what was lost instead of finding holes.
local function log_oldest(seq)
  return max(1, seq - LOG_KEEP + 1, STATS:get("log_first") or 1)
end

local function log_put(seq, entry, agent)
  for _ = 1, LOG_KEEP + 1 do
    local ok, err = LOG:safe_set("log:" .. seq, entry)
    if ok then ok, err = LOG:safe_set("logua:" .. seq, agent) end
    if ok or err ~= "no memory" then break end
    local first = log_oldest(seq)
    if first >= seq then   -- alone, it does not fit: kept without its body
      LOG:delete("log:" .. seq)
      entry = string.format('{"seq":%d,"dropped":"the entry is larger than the log"}', seq)
    else
      LOG:delete("log:" .. first)
      LOG:delete("logua:" .. first)
      STATS:set("log_first", first + 1)
    end
  end
  if seq > LOG_KEEP then
    LOG:delete("log:" .. (seq - LOG_KEEP))
    LOG:delete("logua:" .. (seq - LOG_KEEP))
  end
end

-- Characters of UTF-8 text, as the document's maxLength counts them
local function chars(s)
  local _, continuation = s:gsub("[\128-\191]", "")
  return #s - continuation
end

local function handling_units(F)
  STATS:incr("api_requests", 1, 0)
  track_connection()
  if early_faults(F) then return end
  if not_get(F) then return end
  if authenticate(F, false) then return end
  if status_faults(F, false) then return end

  local args = ngx.req.get_uri_args(0)
  local reference = one(args.reference) or ""
  local spi = one(args.spi) or ""
  local P = paging_params(args, F)
  if not P then return end
  if reference == "" and spi == "" then
    return send_error(400, "BadRequest", "R002", "The handling unit is null", F)
  end
  if chars(reference) > 17 or #spi > 13 or (spi ~= "" and not spi:match("^[%a%d]+$")) then
    return send_error(400, "BadRequest", "R003", "The handling unit is not correctly formated", F)
  end
  return send_page(find(reference:upper(), spi:upper()), P, F)
end

---------------------------------------------------------------------------
-- GET handling-units/search (the in-mass API): exact matches, AND
local CUSTOMS = {}
for _, v in ipairs({ "Unknown", "Import", "Export", "Transhipment", "Transit" }) do
  CUSTOMS[v:lower()] = v
end

local function search(F)
  STATS:incr("api_requests", 1, 0)
  STATS:incr("search_requests", 1, 0)
  track_connection()
  if early_faults(F) then return end
  if not_get(F) then return end
  if authenticate(F, true) then return end
  if status_faults(F, false) then return end

  local args = ngx.req.get_uri_args(0)
  local q = {}
  for _, k in ipairs({ "documentReference", "voyageAgentReference", "voyageAgentId",
    "customsFlag", "freightAgent" }) do
    local v = one(args[k])
    if v and v ~= "" then q[k] = v end
  end
  local P = paging_params(args, F)
  if not P then return end
  if q.customsFlag then
    local flag = CUSTOMS[q.customsFlag:lower()]
    if not flag then
      return send_error(400, "BadRequest", "R003", string.format(
        "The value '%s' is not valid for customsFlag. It must be one of Unknown, Import, Export, " ..
        "Transhipment, Transit.", q.customsFlag), F)
    end
    q.customsFlag = flag
  end
  if not (q.documentReference or q.voyageAgentReference or q.voyageAgentId) then
    return send_error(400, "BadRequest", "R002",
      "One of documentReference, voyageAgentReference or voyageAgentId is required", F)
  end
  return send_page(D.search(DS, q), P, F)
end

---------------------------------------------------------------------------
-- POST token
local function read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    local file = ngx.req.get_body_file()
    if file then
      local f = io.open(file, "rb")
      if f then body = f:read("*a"); f:close() end
    end
  end
  return body or ""
end

local function token(F)
  local ctx = ngx.ctx
  STATS:incr("token_requests", 1, 0)
  track_connection()
  local body = read_body()
  ctx.body = body
  if early_faults(F) then return end
  if ngx.req.get_method() ~= "POST" then
    return send_oauth_error(405, "invalid_request", "Use POST.", F, { Allow = "POST" })
  end
  -- RFC 6749: the parameters in a form body (4.4.2), each at most once
  -- (3.2), the client authenticated one way (2.3): HTTP Basic or the
  -- form's client_secret, not both
  local ctype = (ngx.var.http_content_type or ""):match("^%s*([^;%s]+)")
  if not ctype or ctype:lower() ~= "application/x-www-form-urlencoded" then
    return send_oauth_error(400, "invalid_request",
      "The parameters must be sent as application/x-www-form-urlencoded.", F)
  end
  local args = ngx.decode_args(body, 0)
  for k, v in pairs(args) do
    if type(v) == "table" then
      return send_oauth_error(400, "invalid_request", "Parameter '" .. k .. "' is repeated.", F)
    end
  end
  local id, secret = one(args.client_id), one(args.client_secret)
  -- (3.1: a parameter sent without a value is as if it were omitted)
  if id == "" then id = nil end
  if secret == "" then secret = nil end
  local auth = ngx.var.http_authorization
  local b64 = auth and auth:match("^[Bb][Aa][Ss][Ii][Cc] +([^%s]+)")
  if b64 then
    if secret then
      return send_oauth_error(400, "invalid_request",
        "The client authenticated in more than one way (HTTP Basic and client_secret).", F)
    end
    local dec = ngx.decode_base64(b64) or ""
    local u, s = dec:match("^([^:]*):(.*)$")
    if u then
      u = ngx.unescape_uri(u)
      if id and id ~= u then
        return send_oauth_error(400, "invalid_request",
          "client_id is not the client of the HTTP Basic credentials.", F)
      end
      id, secret = u, ngx.unescape_uri(s)
    end
  end
  if id ~= CFG.client_id or secret ~= CFG.client_secret then
    -- (5.2: a client that tried the Authorization header is told how)
    return send_oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials", F,
      auth and { ["WWW-Authenticate"] = 'Basic realm="soget-sandbox"' } or nil)
  end
  local grant = one(args.grant_type)
  if grant and grant ~= "" and grant ~= "client_credentials" then
    return send_oauth_error(400, "unsupported_grant_type",
      "Unsupported grant_type '" .. grant .. "'", F)
  end
  if status_faults(F, true) then return end

  local by = F and F.by or {}
  local ttl = CFG.token_ttl
  if by["token-ttl"] then ttl = pnum(by["token-ttl"], "s", ttl, 0, nil, true) end
  local tok = random_hex(24)
  TOKENS:set(tok, ngx.now() + ttl, ttl + 600)
  STATS:incr("tokens_issued", 1, 0)
  -- The token log: every token since the start, never reset nor evicted
  -- (when the dict is full, the log says it is incomplete).
  local n = ISSUED:incr("n", 1, 0)
  if not ISSUED:safe_set("t:" .. n, tok) then ISSUED:set("incomplete", true) end
  local h = { ["Cache-Control"] = "no-store", Pragma = "no-cache" }
  if by["bad-token-json"] then
    return send(200, '{"access_token":"' .. tok .. '",,"expires_in":' .. ttl .. ',"token_type":"Bearer"', F, h)
  end
  if by["big-token"] then   -- the padded token is not a valid one
    tok = tok .. string.rep("a", pnum(by["big-token"], "bytes", 5242880, 1, 64 * 1048576) - #tok)
  end
  local tree = obj("TokenResponse",
    "access_token", tok,
    "expires_in", ttl,
    "refresh_expires_in", 0,
    "token_type", by["token-type"] and (by["token-type"].p.type or "mac") or "Bearer",
    "not-before-policy", 0,
    "scope", "profile email")
  if by["wrong-types"] then
    wrong_types(tree, by["wrong-types"].p.field or "expires_in")
  end
  return send(200, encode_tree(tree, F), F, h)
end

---------------------------------------------------------------------------
-- control endpoint
local function control(path)
  local method = ngx.req.get_method()
  ngx.header["Cache-Control"] = "no-store"
  if path == "/_control/ping" then
    return send(200, '{"ok":true}')
  elseif path == "/_control/chaos" then
    if method == "POST" then
      local ok, err = chaos_set(ngx.req.get_uri_args())
      if not ok then return send_error(400, "BadRequest", nil, "sandbox: " .. err) end
    elseif method ~= "GET" then
      return send(405, '{"error":"use GET or POST"}', nil, { Allow = "GET, POST" })
    end
    return send(200, chaos_json())
  elseif path == "/_control/log" then
    -- the requests after seq `since` (of one User-Agent), oldest first
    local a = ngx.req.get_uri_args()
    local seq = STATS:get("log_seq") or 0
    local oldest = log_oldest(seq)
    local since = max(floor(tonumber(one(a.since) or "") or 0), 0)
    local n = min(max(floor(tonumber(one(a.n) or "") or LOG_KEEP), 0), LOG_KEEP)
    local agent = one(a.agent)
    local parts = {}
    for s = max(since + 1, oldest), seq do
      if #parts >= n then break end
      if not agent or LOG:get("logua:" .. s) == agent then
        local e = LOG:get("log:" .. s)
        if e then parts[#parts + 1] = e end
      end
    end
    return send(200, '{"seq":' .. seq .. ',"oldest":' .. oldest .. ',"lost":'
      .. tostring(since + 1 < oldest) .. ',"entries":[' .. concat(parts, ",") .. "]}")
  elseif path == "/_control/info" then
    return send(200, INFO_JSON)
  elseif path == "/_control/stats" then
    local statuses = J.map({})
    for _, k in ipairs(STATS:get_keys(0)) do
      local s = k:match("^status:(%d+)$")
      if s then statuses[s] = STATS:get(k) end
    end
    local seq = STATS:get("log_seq") or 0
    return send(200, J.encode(J.map({
      token_requests = STATS:get("token_requests") or 0,
      api_requests = STATS:get("api_requests") or 0,
      search_requests = STATS:get("search_requests") or 0,
      connections = STATS:get("connections") or 0,
      requests_per_connection = J.map({ max = STATS:get("rpc_max") or 0, last = STATS:get("rpc_last") or 0 }),
      faults = STATS:get("faults") or 0,
      tokens_issued = STATS:get("tokens_issued") or 0,
      tls_handshakes = STATS:get("tls_handshakes") or 0,
      tls_resumed = STATS:get("tls_resumed") or 0,
      statuses = statuses,
      logged = seq - log_oldest(seq) + 1,
    })))
  elseif path == "/_control/requests" then
    local n = tonumber(one(ngx.req.get_uri_args().n) or "") or 20
    n = min(max(floor(n), 0), LOG_KEEP)
    local seq = STATS:get("log_seq") or 0
    local parts = {}
    for s = max(log_oldest(seq), seq - n + 1), seq do
      local e = LOG:get("log:" .. s)
      if e then parts[#parts + 1] = e end
    end
    return send(200, "[" .. concat(parts, ",") .. "]")
  elseif path == "/_control/tokens" then
    local n = ISSUED:get("n") or 0
    local after = min(max(floor(tonumber(one(ngx.req.get_uri_args().after) or "") or 0), 0), n)
    local parts, complete = {}, not ISSUED:get("incomplete")
    for i = after + 1, n do
      local t = ISSUED:get("t:" .. i)
      if t then parts[#parts + 1] = J.quote(t) else complete = false end
    end
    return send(200, '{"issued":' .. n .. ',"complete":' .. tostring(complete)
      .. ',"tokens":[' .. concat(parts, ",") .. "]}")
  elseif path == "/_control/reset" then
    if method ~= "POST" then
      return send(405, '{"error":"use POST"}', nil, { Allow = "POST" })
    end
    local a = ngx.req.get_uri_args()
    STATS:flush_all()
    LOG:flush_all()
    -- requests that started before the reset and end after it (a slow
    -- fault) are not logged: the log starts clean
    ngx.update_time()
    STATS:set("reset_at", ngx.now())
    if a.faults then FAULTS:flush_all() end
    if a.tokens then TOKENS:flush_all() end
    return send(200, '{"reset":true}')
  elseif path == "/_control/units" then
    local a = ngx.req.get_uri_args()
    local m = D.find(DS, (one(a.reference) or ""):upper(), (one(a.spi) or ""):upper())
    local parts = {}
    for i = 1, #m do parts[i] = DS.units[m[i]].json end
    return send(200, '{"total":' .. #m .. ',"items":[' .. concat(parts, ",") .. "]}")
  elseif path == "/_control/search" then
    local a = ngx.req.get_uri_args()
    local q = {}
    for _, k in ipairs({ "documentReference", "voyageAgentReference", "voyageAgentId",
      "customsFlag", "freightAgent" }) do
      local v = one(a[k])
      if v and v ~= "" then q[k] = v end
    end
    -- the flag in any case, as the search itself reads it (an unknown
    -- one matches nothing)
    if q.customsFlag then q.customsFlag = CUSTOMS[q.customsFlag:lower()] or q.customsFlag end
    local m = D.search(DS, q)
    local parts = {}
    for i = 1, #m do parts[i] = DS.units[m[i]].json end
    return send(200, '{"total":' .. #m .. ',"items":[' .. concat(parts, ",") .. "]}")
  end
  return send_error(404, "NotFound", nil, "Unknown control path " .. path)
end

---------------------------------------------------------------------------
function M.content()
  local ctx = ngx.ctx
  local raw = ngx.var.request_uri
  local path = raw:match("^[^?]*")
  local spec
  local fspec, rest = path:match("^/_fault/([^/]*)(/.*)$")
  if fspec then spec, path = fspec, rest end
  ctx.rest_path = path
  local hdr = ngx.var.http_x_sandbox_fault
  if hdr and hdr ~= "" then spec = spec and (spec .. "," .. hdr) or hdr end
  path = ngx.unescape_uri(path)

  local is_search = path == SEARCH_PATH
  local is_api, is_token = path == API_PATH or is_search, path == TOKEN_PATH
  if is_api or is_token then
    ctx.kind = is_api and "api" or "token"
    ctx.raw_path = raw:match("^[^?]*")
    local F
    if spec then
      ctx.fault = spec
      STATS:incr("faults", 1, 0)
      local err
      F, err = parse_faults(spec)
      if not F then
        STATS:incr(is_api and "api_requests" or "token_requests", 1, 0)
        if is_search then STATS:incr("search_requests", 1, 0) end
        return send_error(400, "BadRequest", nil, "sandbox: " .. err)
      end
    end
    if is_api and not F then
      F = chaos_pick()
      ctx.chaos = F and F.chaos
    end
    if is_search then return search(F) end
    if is_api then return handling_units(F) end
    return token(F)
  end
  if spec then
    return send_error(404, "NotFound", nil,
      "Faults apply to the token, handling-units and handling-units/search paths only")
  end
  if path:sub(1, 10) == "/_control/" then return control(path) end
  if path == "/openapi.json" then return send(200, SPEC_TEXT) end
  if path == "/openapi-in-mass.json" then return send(200, SEARCH_SPEC_TEXT) end
  if path == "/" then
    return send(200, J.encode(obj("Index",
      "api", API_PATH, "search", SEARCH_PATH, "token", TOKEN_PATH, "openapi", "/openapi.json",
      "openapi_in_mass", "/openapi-in-mass.json",
      "control", { "/_control/stats", "/_control/requests", "/_control/tokens", "/_control/reset",
        "/_control/units", "/_control/search", "/_control/info" })))
  end
  return send_error(404, "NotFound", nil, "Resource not found")
end

---------------------------------------------------------------------------
function M.log()
  local ctx = ngx.ctx
  if not ctx.kind then return end
  local reset_at = STATS:get("reset_at")
  if reset_at and ngx.req.start_time() < reset_at then return end
  local seq = STATS:incr("log_seq", 1, 0)
  -- Logged on every request, so kept cheap: lua-cjson (C) encodes what
  -- repeats from one request to the next; key order does not matter to a
  -- reader of the log. What changes at every request is written after it,
  -- the sequence number last: LuaJIT hashes a long string from a few of
  -- its bytes (its first, last, middle and quarter four), and entries that
  -- differ only elsewhere would all share one chain of its string table,
  -- which every new one is compared along (a sandbox that had served a
  -- few hundred thousand requests spent most of its time there).
  local fixed = CJSON.encode({
    kind = ctx.kind,
    method = ngx.req.get_method(),
    path = ctx.raw_path,
    raw_query = ngx.var.args or "",
    args = ngx.req.get_uri_args(0),
    headers = ngx.req.get_headers(0),
    body = ctx.body,
    status = ngx.status,
    scheme = ngx.var.scheme,
    http_version = string.format("%.1f", ngx.req.http_version() or 0),
    fault = ctx.fault,
    chaos = ctx.chaos,
  })
  log_put(seq, string.format(
    '%s,"time":%.3f,"connection":%d,"connection_requests":%d,"seq":%d}',
    fixed:sub(1, -2), ngx.req.start_time(), tonumber(ngx.var.connection) or 0,
    tonumber(ngx.var.connection_requests) or 0, seq), ngx.var.http_user_agent or "")
  STATS:incr("status:" .. ngx.status, 1, 0)
end

return M
