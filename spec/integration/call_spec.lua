-- soget.Call: the decisions of a call (token, request, retries, renewal,
-- decoding) without soget doing any I/O. Here the curl command line plays
-- the driver, as nginx cosockets do in OpenResty.
local S = require "support"

local send = S.curl_send

-- A complete driver: returns page | nil, err, plus the kinds sent.
local function drive(call, no_challenge)
  local kinds, waits = {}, {}
  for _ = 1, 20 do
    local req, err = call:request()
    if not req then return nil, err, kinds, waits end
    kinds[#kinds + 1] = req.kind
    local status, headers, body = send(req)
    local page, e, wait
    if status and status > 0 then
      page, e, wait = call:response(status, body, headers["retry-after"], headers["location"],
        not no_challenge and headers["www-authenticate"] or nil)
    else
      page, e, wait = call:failed("no answer")
    end
    if page then return page, nil, kinds, waits end
    if e then return nil, e, kinds, waits end
    waits[#waits + 1] = wait
    if wait > 0 then os.execute("sleep " .. wait) end
  end
  error("the call did not end")
end

describe("soget.Call", function()
  before_each(function() S.reset() end)

  it("asks for a token, then the API request, and decodes the answer", function()
    local c = S.client()
    local call = c:begin{ reference = "CGMU2436601" }
    assert.truthy(tostring(call):find("^soget%.Call"))
    local page, err, kinds = drive(call)
    assert.is_nil(err)
    assert.are.same({ "token", "api" }, kinds)
    assert.are.equal("CNI0000063978", page.items[1].pswId)
    -- soget itself sent nothing: every request came from curl
    for _, r in ipairs(S.requests(10)) do
      assert.truthy(r.headers["user-agent"]:find("^curl/"), r.headers["user-agent"])
    end
    -- the token is now cached in the client: a second call needs no token
    local _, _, kinds2 = drive(c:begin("CGMU2436601"))
    assert.are.same({ "api" }, kinds2)
    assert.are.equal(1, S.stats().token_requests)
    c:close()
  end)

  it("builds the request with both credentials and the encoded query", function()
    local c = S.client()
    c:set_token("tok-123", 60)
    local req = assert(c:begin({ reference = "A B&C", limit = 3 }, 20):request())
    assert.are.equal("api", req.kind)
    assert.are.equal("GET", req.method)
    assert.are.equal(S.base_url .. "/handling-units?reference=A%20B%26C&limit=3&offset=20", req.url)
    assert.are.equal("Bearer tok-123", req.headers.Authorization)
    assert.are.equal(S.api_key, req.headers["Ocp-Apim-Subscription-Key"])
    assert.truthy(req.timeout > 0)
    c:close()
  end)

  it("asks the driver to wait and retry on a 503", function()
    local c = S.client{ base_url = S.fault_base("503-then-ok:n=2:id=" .. S.uid()) }
    local page, err, kinds, waits = drive(c:begin("CGMU2436601"))
    assert.is_nil(err)
    assert.are.equal(1, page.total)
    assert.are.same({ "token", "api", "api", "api" }, kinds)
    assert.are.equal(0, waits[1])            -- token stored: request again at once
    assert.are.equal(3, #waits)
    for i = 2, 3 do assert.truthy(waits[i] > 0 and waits[i] <= 2) end
    c:close()
  end)

  it("renews the token once on a 401", function()
    local c = S.client{ base_url = S.fault_base("expire-token:after=1") }
    assert(drive(c:begin("CGMU2436601")))
    local page, err, kinds = drive(c:begin("CGMU2436601"))
    assert.is_nil(err)
    assert.are.equal(1, page.total)
    assert.are.same({ "api", "token", "api" }, kinds)
    c:close()
  end)

  it("renews a token the API says is invalid (WWW-Authenticate), even after a refused renewal",
    function()
    -- revoke-token: every token refused at its first use, the 401 saying so
    local c = S.client{ base_url = S.fault_base("revoke-token") }
    local function kinds_of(no_challenge)
      local page, err, kinds = drive(c:begin("CGMU2436601"), no_challenge)
      assert.is_nil(page)
      assert.are.equal("auth", err.kind)
      return kinds
    end
    assert.are.same({ "token", "api", "token", "api" }, kinds_of())
    assert.are.same({ "api", "token", "api" }, kinds_of())
    -- the same 401s, the driver leaving the header out: a renewal refused
    -- so is not renewed again for a while (it may be the API key's)
    assert.are.same({ "api", "token", "api" }, kinds_of(true))
    assert.are.same({ "api" }, kinds_of(true))
    -- a 401 that says the token is invalid renews whatever came before
    assert.are.same({ "api", "token", "api" }, kinds_of())
    c:close()
  end)

  it("takes WWW-Authenticate as a string, and nothing else", function()
    local c = S.client()
    local call = c:begin("CGMU2436601")
    assert.are.equal("token", assert(call:request()).kind)
    for _, v in ipairs({ {}, true }) do
      local ok, msg = pcall(function() return call:response(401, "{}", nil, nil, v) end)
      assert.is_false(ok)
      -- (#5 to 'response'; LuaJIT counts the call itself: #6 to '?')
      assert.truthy(tostring(msg):find("bad argument #[56] to") and msg:find("string expected", 1, true), msg)
    end
    c:close()
  end)

  it("does not drop a token that was replaced after the request left", function()
    local c = S.client()
    c:set_token("old-token", 60)
    local call = c:begin("CGMU2436601")
    local req = assert(call:request())
    assert.are.equal("Bearer old-token", req.headers.Authorization)
    c:set_token("new-token", 60)     -- another call on this client renewed it
    local p, e, wait = call:response(401, '{"status":"Unauthorized"}')
    assert.is_nil(p); assert.is_nil(e)
    assert.are.equal(0, wait)
    req = assert(call:request())
    assert.are.equal("api", req.kind)
    assert.are.equal("Bearer new-token", req.headers.Authorization)
    -- the current token refused: dropped and renewed, once
    p, e, wait = call:response(401, '{}')
    assert.is_nil(p); assert.is_nil(e)
    assert.are.equal(0, wait)
    assert.are.equal("token", assert(call:request()).kind)
    c:close()
  end)

  it("retries a transport failure the driver reports, then gives up", function()
    local c = S.client{ retries = 1 }
    c:set_token("tok", 60)
    local call = c:begin("CGMU2436601")
    assert(call:request())
    local p, e, wait = call:failed("connection refused")
    assert.is_nil(p); assert.is_nil(e)
    assert.truthy(wait > 0)
    assert(call:request())
    p, e = call:failed("connection refused")
    assert.is_nil(p)
    assert.are.equal("network", e.kind)
    assert.are.equal("connection refused", e.message)
    assert.has_error(function() call:failed("x", "bogus") end)
    c:close()
  end)

  it("takes retryable, when the driver leaves it out, as the blocking client says it of the kind", function()
    local c = S.client{ retries = 0 }
    c:set_token("tok", 60)
    for kind, retryable in pairs { network = true, timeout = true, tls = false, http = false } do
      local call = c:begin("CGMU2436601")
      assert(call:request())
      local p, e = call:failed("it failed", kind)
      assert.is_nil(p)
      assert.are.same({ kind, retryable }, { e.kind, e.retryable })
      -- and as told
      call = c:begin("CGMU2436601")
      assert(call:request())
      p, e = call:failed("it failed", kind, not retryable)
      assert.is_nil(p)
      assert.are.same({ kind, not retryable }, { e.kind, e.retryable })
    end
    c:close()
  end)

  it("raises when its client is closed", function()
    local c = S.client()
    local call = c:begin("CGMU2436601")
    c:close()
    assert.has_error(function() call:request() end)
  end)

  -- A soget.Call whose token request is out holds the client's token
  -- lease; a blocking call or a batch of the same client runs alone, so
  -- that holder cannot answer meanwhile: they fetch a token of their own
  -- rather than wait for the lease until the deadline. In a child bounded
  -- by timeout(1) far below the client's 60 s timeout (a wait would be
  -- killed there).
  it("leaves a blocking call and a batch to fetch their own token while it holds the lease", function()
    local script = os.tmpname()
    S.write_file(script, ([[
package.cpath = %q .. "/?.so;" .. package.cpath
package.path = "spec/?.lua;" .. package.path
local S = require "support"
local c = S.client{ timeout = 60 }
local call = c:begin("CGMU2436601")
local req = assert(call:request())
assert(req.kind == "token")                     -- the lease is the call's
local page = assert(c:handling_units("CGMU2436601"))
io.write("lookup ", #page.items, "\n")
assert(c:token())                               -- taken: due for nothing
call:close()
local d = S.client{ timeout = 60 }
local other = d:begin("CGMU2436601")
assert(assert(other:request()).kind == "token")
local results, counts = d:handling_units_many({ "CGMU2436601", "CSQU3054383" })
io.write("batch ", counts.ok, " ", d:stats().token_requests, "\n")
other:close()
c:close(); d:close()
]]):format(os.getenv("SOGET_MODULE_DIR") or "build/lua5.4"))
    local out = S.popen_read("timeout 20 " .. S.shell_quote(S.lua) .. " " .. S.shell_quote(script)
      .. " 2>&1; echo \"exit=$?\"")
    os.remove(script)
    assert.are.equal("lookup 1\nbatch 2 2\nexit=0\n", out)
  end)
end)

-- A step asked for out of turn is a bug in the driver: it raises, as
-- Lua's own libraries raise on a closed file, and never reads as a
-- failure of the call (nil, err).
describe("soget.Call used out of turn", function()
  before_each(function() S.reset() end)

  -- The message of the error fn raises (it must raise).
  local function raised(fn, ...)
    local ok, msg = pcall(fn, ...)
    assert.is_false(ok, "did not raise")
    assert.are.equal("string", type(msg))
    return msg
  end

  local function finished(c)
    c:set_token("tok", 60)
    local call = c:begin("CGMU2436601")
    assert.are.equal("api", assert(call:request()).kind)
    local page = call:response(200, '{"total":0,"returned":0,"first":0,"items":[]}')
    assert.are.equal(0, page.total)
    return call
  end

  it("raises on every step after a page", function()
    local c = S.client()
    local call = finished(c)
    assert.truthy(tostring(call):find("(done)", 1, true))
    local msg = raised(call.request, call)
    assert.truthy(msg:find("soget.Call: request() on a call that is over", 1, true), msg)
    msg = raised(call.response, call, 200, "{}")
    assert.truthy(msg:find("soget.Call: response() on a call that is over", 1, true), msg)
    msg = raised(call.failed, call, "connection refused")
    assert.truthy(msg:find("soget.Call: failed() on a call that is over", 1, true), msg)
    c:close()
  end)

  it("raises on every step after a failure, whose error it returned once", function()
    local c = S.client{ retries = 0 }
    c:set_token("tok", 60)
    local call = c:begin("CGMU2436601")
    assert(call:request())
    local page, err = call:response(400, '{"code":"R003","message":"bad"}')
    assert.is_nil(page)
    assert.are.equal("api", err.kind)
    raised(call.request, call)
    raised(call.response, call, 400, "{}")
    raised(call.failed, call, "x")
    c:close()
  end)

  it("raises after a runtime failure request() itself returned (the deadline)", function()
    local c = S.client{ timeout = 0.001 }
    c:set_token("tok", 60)
    local call = c:begin("CGMU2436601")
    os.execute("sleep 0.05")
    local req, err = call:request()
    assert.is_nil(req)
    assert.are.equal("timeout", err.kind)
    local msg = raised(call.request, call)
    assert.truthy(msg:find("on a call that is over", 1, true), msg)
    c:close()
  end)

  it("raises on an answer when no request is out, and leaves the call usable", function()
    local c = S.client()
    c:set_token("tok", 60)
    local call = c:begin("CGMU2436601")
    local msg = raised(call.response, call, 200, "{}")
    assert.truthy(msg:find("soget.Call: response() with no request out", 1, true), msg)
    msg = raised(call.failed, call, "refused")
    assert.truthy(msg:find("soget.Call: failed() with no request out", 1, true), msg)
    assert.truthy(tostring(call):find("(pending)", 1, true))
    -- nothing changed: the call goes on as if the misuse never happened
    local req = assert(call:request())
    assert.are.equal("api", req.kind)
    assert.are.equal(0, S.stats().api_requests)   -- and nothing was sent
    c:close()
  end)

  it("raises on a second request() while the first waits for its answer", function()
    local c = S.client()
    c:set_token("tok", 60)
    local call = c:begin("CGMU2436601")
    assert(call:request())
    local msg = raised(call.request, call)
    assert.truthy(msg:find("soget.Call: request() while its request waits for response() "
      .. "or failed()", 1, true), msg)
    assert.are.equal(1, c:stats().api_requests)   -- the refused one was not counted
    local page = call:response(200, '{"total":0,"returned":0,"first":0,"items":[]}')
    assert.are.equal(0, page.total)
    c:close()
  end)

  it("raises on every step once closed", function()
    local c = S.client()
    c:set_token("tok", 60)
    local call = c:begin("CGMU2436601")
    assert(call:request())
    call:close()
    call:close()   -- idempotent
    assert.truthy(tostring(call):find("(done)", 1, true))
    raised(call.request, call)
    raised(call.response, call, 200, "{}")
    raised(call.failed, call, "x")
    c:close()
  end)
end)
