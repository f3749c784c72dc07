-- Fuzz driver: token-response and error-body parsing through the steps of
-- one soget.Call, without network. The input chooses the HTTP status of the
-- token answer and of the API answer, a Retry-After, a Location and a
-- WWW-Authenticate, and holds both bodies. Every call must end within a few steps with a page or
-- a soget.Error of a known kind that contains no secret. A step asked for
-- out of turn (the input chooses one, and every step after the end is
-- tried) must raise the Call's own error, change nothing, and never be
-- taken for a crash or for a failure of the call.
local soget = require "soget"

-- Portable Lua: spec/unit/fuzz_inputs_spec.lua replays the inputs on every
-- runtime.
local floor = math.floor

local SECRET, KEY = "fz-client-secret-Q7w2", "fz-api-key-K9x4"
local STATUS = { 200, 200, 200, 400, 401, 403, 404, 408, 429, 500, 502, 503,
  504, 301, 302, 307, 308, 204, 418, 100, 599, 999, 102, 300 }
local RETRY_AFTER = { false, "0", "1", "-5", "120", "Wed, 21 Oct 2015 07:28:00 GMT",
  "99999999999999999999", "1.5", "", " 3 " }
local LOCATION = { false, "https://api.invalid/v1/handling-units?reference=X",
  "https://api.invalid:443/v2/x", "https://elsewhere.invalid/v1/handling-units",
  "http://api.invalid/v1/handling-units", "/relative", "", "https://api.invalid@evil.invalid/",
  "https://API.INVALID/v1/handling-units", ("https://api.invalid/" .. ("x"):rep(3000)) }
local WWW = { false, 'Bearer error="invalid_token"', 'Bearer realm="x"', "Basic realm=\"a",
  "Bearer error=invalid_token, Basic", ",,,", 'Negotiate YWJj==, Bearer error="invalid_token"' }
local KINDS = { network = true, timeout = true, tls = true, auth = true, http = true,
  api = true, decode = true }
local MAX_STEPS = 16

local function check_err(err, where)
  assert(type(err) == "table" and KINDS[err.kind], where .. ": not a soget.Error: " .. tostring(err))
  assert(type(err.message) == "string", where .. ": no message")
  assert(type(err.retryable) == "boolean", where .. ": retryable is not a boolean")
  -- a code is 15 bytes at most as sent, up to 4 times that made printable
  assert(err.code == nil or (type(err.code) == "string" and #err.code < 64), where .. ": code")
  assert(not err.message:find("[%c\127]") and not (err.code or ""):find("[%c\127]"),
    where .. ": a control character in the error")
  local text = tostring(err) .. "\0" .. (err.code or "")
  for _, secret in ipairs{ SECRET, KEY } do
    assert(not text:find(secret, 1, true), where .. ": a secret leaked into " .. text)
  end
end

-- fn(call, ...) must raise soget.Call's misuse error.
local function misuse(where, fn, ...)
  local ok, msg = pcall(fn, ...)
  assert(not ok, where .. ": a step out of turn did not raise")
  assert(type(msg) == "string" and msg:find("^soget%.Call: %a+%(%) "),
    where .. ": not the misuse error: " .. tostring(msg))
end

return function(data)
  local b1, b2, b3 = data:byte(1, 3)
  if not b3 then return end
  local rest = data:sub(4)
  local tbody, abody = rest, rest
  local cut = rest:find("\n--\n", 1, true)
  if cut then tbody, abody = rest:sub(1, cut - 1), rest:sub(cut + 4) end
  local tstatus = STATUS[b1 % #STATUS + 1]
  local astatus = STATUS[b2 % #STATUS + 1]
  local ra = RETRY_AFTER[b3 % #RETRY_AFTER + 1] or nil
  local loc = LOCATION[floor(b3 / #RETRY_AFTER) % #LOCATION + 1] or nil
  local www = WWW[floor(b2 / #STATUS) % #WWW + 1] or nil
  -- 0: no probe; 1: an answer before the first request; 2: a second
  -- request while one is out; 3: both
  local probe = floor(b1 / #STATUS) % 4

  local c = soget.client{
    client_id = "fz-id", client_secret = SECRET, api_key = KEY,
    base_url = "https://api.invalid/v1", token_url = "https://auth.invalid/token",
    retries = 2, timeout = 3600,
  }
  local call = c:begin{ reference = "CGMU2436601", limit = 10 }
  if probe % 2 == 1 then
    misuse("response first", call.response, call, tstatus, tbody)
    misuse("failed first", call.failed, call, "refused")
  end
  local ended = false
  for _ = 1, MAX_STEPS do
    local req, err = call:request()
    if not req then check_err(err, "request"); ended = true; break end
    if probe >= 2 then misuse("second request", call.request, call) end
    for name, v in pairs(req.headers) do
      assert(not v:find("[%z\r\n]"), "header " .. name .. " holds a line break or NUL")
    end
    local page, wait
    if req.kind == "token" then
      page, err, wait = call:response(tstatus, tbody, ra, loc, www)
    else
      assert(req.headers.Authorization:find("^Bearer .+"), "no bearer token")
      page, err, wait = call:response(astatus, abody, ra, loc, www)
    end
    if page then
      assert(type(page.items) == "table", "a page without items")
      ended = true
      break
    end
    if err then check_err(err, req.kind); ended = true; break end
    assert(type(wait) == "number" and wait >= 0 and wait <= 60, "wait " .. tostring(wait))
  end
  assert(ended, "the call did not end within " .. MAX_STEPS .. " steps")
  misuse("request after the end", call.request, call)
  misuse("response after the end", call.response, call, astatus, abody, ra, loc)
  misuse("failed after the end", call.failed, call, "refused", "timeout")
  call:close()
  c:close()
end
