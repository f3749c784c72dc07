-- soget.Call: the decisions of a call (token, request, retries, renewal,
-- decoding) without soget doing any I/O. Here the curl command line plays
-- the driver, as nginx cosockets do in OpenResty.
local S = require "support"

local function tmpname()
  local n = os.tmpname()
  return n
end

-- Sends req with the curl CLI: status, lowercased headers, body.
local function send(req)
  local hfile, bfile, dfile = tmpname(), tmpname(), tmpname()
  local cmd = { "curl -sS --max-time 10 --cacert", S.shell_quote(S.ca_file), "-X", req.method,
    "-D", hfile, "-o", bfile, "-w '%{http_code}'" }
  for k, v in pairs(req.headers) do cmd[#cmd + 1] = "-H " .. S.shell_quote(k .. ": " .. v) end
  if req.body then
    local f = assert(io.open(dfile, "wb")); f:write(req.body); f:close()
    cmd[#cmd + 1] = "--data-binary @" .. dfile
  end
  cmd[#cmd + 1] = S.shell_quote(req.url)
  local p = io.popen(table.concat(cmd, " ") .. " 2>/dev/null")
  local status = tonumber(p:read("*a"))
  p:close()
  local headers = {}
  for line in io.lines(hfile) do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k then headers[k:lower()] = v end
  end
  local f = assert(io.open(bfile, "rb")); local body = f:read("*a"); f:close()
  os.remove(hfile); os.remove(bfile); os.remove(dfile)
  return status, headers, body
end

-- A complete driver: returns page | nil, err, plus the kinds sent.
local function drive(call)
  local kinds, waits = {}, {}
  for _ = 1, 20 do
    local req, err = call:request()
    if not req then return nil, err, kinds, waits end
    kinds[#kinds + 1] = req.kind
    local status, headers, body = send(req)
    local page, e, wait
    if status and status > 0 then
      page, e, wait = call:response(status, body, headers["retry-after"], headers["location"])
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

  it("raises when its client is closed", function()
    local c = S.client()
    local call = c:begin("CGMU2436601")
    c:close()
    assert.has_error(function() call:request() end)
  end)
end)
