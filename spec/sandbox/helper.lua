-- Shared tools for the sandbox specs: environment, curl over real loopback
-- connections, JSON, and the OpenAPI response validator.
local cjson = require("cjson")

local H = {}

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec/sandbox"
H.root = here .. "/../.."
H.null = cjson.null

local REQUIRED = {
  "SOGET_SANDBOX_DIR", "SOGET_SANDBOX_PID", "SOGET_SANDBOX_HTTP", "SOGET_SANDBOX_HTTPS",
  "SOGET_BASE_URL", "SOGET_TOKEN_URL", "SOGET_CLIENT_ID", "SOGET_CLIENT_SECRET",
  "SOGET_API_KEY", "SOGET_CA_FILE", "SOGET_SEARCH_BASE_URL", "SOGET_SANDBOX_SEARCH_KEY",
}

-- Fails (raises) with a clear message when the sandbox is not configured.
function H.env()
  local e, missing = {}, {}
  for _, k in ipairs(REQUIRED) do
    local v = os.getenv(k)
    if not v or v == "" then missing[#missing + 1] = k end
    e[k] = v
  end
  if #missing > 0 then
    error("the sandbox specs need a running sandbox, but " .. table.concat(missing, ", ") ..
      " is not set. Start one first: eval \"$(sandbox/run start)\"", 2)
  end
  H.E = e
  return e
end

local S = require "support"
H.q = S.shell_quote
local slurp = S.read_file
H.slurp = slurp

-- Runs a shell command; returns stdout, exit code.
function H.sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

local uid_n = 0
function H.uid()
  uid_n = uid_n + 1
  return string.format("t%d%04d%d", os.time(), math.random(0, 9999), uid_n)
end

-- curl(url, {method, headers = {name = value}, data, args = {...},
--            timeout, cacert = false}) ->
-- {status, exit, headers (lowercased, last response), body, time, http_version, stderr}
function H.curl(url, o)
  o = o or {}
  local hfile, bfile, efile = os.tmpname(), os.tmpname(), os.tmpname()
  local a = { "curl", "-sS", "-g", "--max-time", tostring(o.timeout or 15), "-D", hfile, "-o", bfile,
    "-w", "%{http_code} %{time_total} %{http_version}" }
  if o.cacert ~= false then
    a[#a + 1] = "--cacert"; a[#a + 1] = H.E.SOGET_CA_FILE
  end
  if o.method then a[#a + 1] = "-X"; a[#a + 1] = o.method end
  for k, v in pairs(o.headers or {}) do
    a[#a + 1] = "-H"; a[#a + 1] = k .. ": " .. v
  end
  if o.data then a[#a + 1] = "--data-binary"; a[#a + 1] = o.data end
  for _, x in ipairs(o.args or {}) do a[#a + 1] = x end
  a[#a + 1] = url
  local parts = {}
  for i, x in ipairs(a) do parts[i] = H.q(x) end
  local out, code = H.sh(table.concat(parts, " ") .. " 2>" .. H.q(efile))
  local status, time, ver = out:match("^(%d+) ([%d%.]+) (%S+)")
  local raw = slurp(hfile)
  local r = {
    status = tonumber(status), exit = code, time = tonumber(time), http_version = ver,
    body = slurp(bfile), stderr = slurp(efile), raw_headers = raw, headers = {},
  }
  -- keep the last response's header block
  local block = raw
  for b in raw:gmatch("HTTP/[^\r\n]*\r?\n.-\r?\n\r?\n") do block = b end
  for line in block:gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k and not line:match("^HTTP/") then r.headers[k:lower()] = v end
  end
  os.remove(hfile); os.remove(bfile); os.remove(efile)
  return r
end

-- cjson gives floats under Lua 5.4: turn integral numbers into integers
local function ints(v)
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = ints(x) end
  end
  return v
end

function H.json(s)
  local ok, v = pcall(cjson.decode, s)
  if ok then return ints(v) end
  return nil, v
end

function H.encode(v) return cjson.encode(v) end

-- URL of the API base with a fault prefix (origin defaults to HTTPS).
function H.fault_base(spec, origin)
  return (origin or H.E.SOGET_SANDBOX_HTTPS) .. "/_fault/" .. spec .. "/api-tracing-code/v1"
end

-- Base URL of the in-mass API with a fault prefix (origin defaults to HTTPS).
function H.fault_search_base(spec, origin)
  return (origin or H.E.SOGET_SANDBOX_HTTPS) .. "/_fault/" .. spec .. "/api-tracing-code-in-mass/v1"
end

function H.fault_token_url(spec, origin)
  return (origin or H.E.SOGET_SANDBOX_HTTPS) .. "/_fault/" .. spec .. "/soget-connect/v1/openid-connect/token"
end

-- POST the token endpoint; returns the curl result and the decoded body.
function H.token_request(o)
  o = o or {}
  local form = o.form or ("client_id=" .. H.E.SOGET_CLIENT_ID .. "&client_secret=" .. H.E.SOGET_CLIENT_SECRET)
  local r = H.curl(o.url or H.E.SOGET_TOKEN_URL, {
    method = "POST", data = form, headers = o.headers,
    args = not (o.headers and o.headers["Content-Type"])
      and { "-H", "Content-Type: application/x-www-form-urlencoded" } or nil,
  })
  return r, H.json(r.body)
end

function H.token(o)
  local r, j = H.token_request(o)
  assert(r.status == 200 and j and j.access_token, "token request failed: " .. tostring(r.status) .. " " .. r.body)
  return j.access_token, j
end

local cached_token
function H.cached_token()
  cached_token = cached_token or H.token()
  return cached_token
end

function H.auth_headers(tok)
  return { ["Authorization"] = "Bearer " .. (tok or H.cached_token()),
    ["Ocp-Apim-Subscription-Key"] = H.E.SOGET_API_KEY }
end

-- GET {base}/handling-units?query with both auth headers (o.headers replaces them)
function H.api(query, o)
  o = o or {}
  local url = (o.base or H.E.SOGET_BASE_URL) .. "/handling-units" .. (query and ("?" .. query) or "")
  local r = H.curl(url, { headers = o.headers or H.auth_headers(o.token), args = o.args,
    timeout = o.timeout, method = o.method })
  r.json = H.json(r.body)
  return r
end

-- GET {search base}/handling-units/search?query with both auth headers
-- (o.key replaces the API key, o.headers replaces both headers)
function H.search(query, o)
  o = o or {}
  local url = (o.base or H.E.SOGET_SEARCH_BASE_URL) .. "/handling-units/search" ..
    (query and ("?" .. query) or "")
  local headers = o.headers
  if not headers then
    headers = H.auth_headers(o.token)
    if o.key then headers["Ocp-Apim-Subscription-Key"] = o.key end
  end
  local r = H.curl(url, { headers = headers, args = o.args, timeout = o.timeout, method = o.method })
  r.json = H.json(r.body)
  return r
end

function H.control(path, method)
  local r = H.curl(H.E.SOGET_SANDBOX_HTTP .. path, { method = method })
  r.json = H.json(r.body)
  return r
end

-- Validates bodies against the OpenAPI document's response schemas.
-- cases: { {name=, status=, body=}, ... }; returns name -> result.
-- spec: the document's file name in sandbox/ (default openapi.json).
function H.validate(cases, spec)
  local vdir = H.root .. "/sandbox/validator"
  local f = io.open(vdir .. "/node_modules/ajv/package.json")
  if not f then
    error("the response validator is not installed: run (cd sandbox/validator && npm ci --no-audit --no-fund)")
  end
  f:close()
  local tmp = os.tmpname()
  f = assert(io.open(tmp, "wb"))
  f:write(cjson.encode(cases))
  f:close()
  local out, code = H.sh("node " .. H.q(vdir .. "/validate.js") .. " --spec " ..
    H.q(H.root .. "/sandbox/" .. (spec or "openapi.json")) .. " " .. H.q(tmp))
  os.remove(tmp)
  assert(code == 0, "validator failed: " .. out)
  local res = {}
  for _, r in ipairs(assert(cjson.decode(out))) do res[r.name] = r end
  return res
end

-- Seconds since the epoch of an ISO 8601 date-time with offset or Z.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

function H.epoch(s)
  local Y, Mo, D, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$")
  if not Y then return nil end
  local frac, tz = rest:match("^(%.?%d*)(.*)$")
  local off = 0
  if tz ~= "Z" then
    local sign, oh, om = tz:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil end
    off = (tonumber(oh) * 60 + tonumber(om)) * 60 * (sign == "-" and -1 or 1)
  end
  local t = days_from_civil(tonumber(Y), tonumber(Mo), tonumber(D)) * 86400 +
    tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec) - off
  return t + (tonumber(frac ~= "." and frac or "0") or 0)
end

-- Bounded polling helper: calls fn until it returns truthy, at most n times.
function H.sleep(s) os.execute("sleep " .. tostring(s)) end

return H
