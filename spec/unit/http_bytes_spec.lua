-- The core's HTTP/1.1 layer as Lua drivers see it, with no I/O:
-- call:request_bytes() (the call's request as bytes, where they go) and
-- soget.http_parser (responses fed in pieces), table-driven. The same
-- objects run in nginx under soget.ngx (spec/openresty/).
local soget = require "soget"

local SECRET, KEY = "unit-secret-Zq81", "unit-key-Wp37"
local function client(extra)
  local o = { client_id = "cid", client_secret = SECRET, api_key = KEY,
    base_url = "https://api.invalid/v1", token_url = "https://auth.invalid:8443/token" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return soget.client(o)
end

describe("call:request_bytes", function()
  it("answers the token request, then the GET, as the core's bytes", function()
    local c = client()
    local call = c:begin{ reference = "CGMU2436601" }
    local r = call:request_bytes("driver/1")
    assert.are.equal("token", r.kind)
    assert.are.equal("POST", r.method)
    assert.are.equal("https", r.scheme)
    assert.are.equal("auth.invalid", r.host)
    assert.are.equal("auth.invalid", r.server_name)
    assert.are.equal(8443, r.port)
    assert.is_true(r.tls)
    assert.is_true(r.verify_tls)
    assert.are.equal(os.getenv("SOGET_CA_FILE"), r.ca_file)   -- the suite's sandbox CA, or none
    assert.are.equal(8388608, r.max_response_size)
    assert.is_nil(r.headers)
    assert.is_nil(r.body)
    local form = "grant_type=client_credentials&client_id=cid&client_secret=" .. SECRET
    assert.are.equal("POST /token HTTP/1.1\r\nHost: auth.invalid:8443\r\n"
      .. "Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n"
      .. "User-Agent: driver/1\r\nAccept-Encoding: gzip\r\nContent-Length: " .. #form
      .. "\r\n\r\n" .. form, r.bytes)
    assert.is_nil(call:response(200, '{"access_token":"T0K","expires_in":3600}'))
    r = call:request_bytes("driver/1")
    assert.are.equal("api", r.kind)
    assert.are.equal("GET /v1/handling-units?reference=CGMU2436601 HTTP/1.1\r\nHost: api.invalid\r\n"
      .. "Authorization: Bearer T0K\r\nOcp-Apim-Subscription-Key: " .. KEY .. "\r\n"
      .. "Accept: application/json\r\nUser-Agent: driver/1\r\nAccept-Encoding: gzip\r\n\r\n", r.bytes)
    local page = call:response(200, '{"total":0,"returned":0,"first":0,"items":[]}')
    assert.are.equal(0, page.total)
    assert.has_error(function() call:request_bytes() end, "soget.Call: request_bytes() on a call that is over")
    c:close()
  end)

  it("sends the client's default User-Agent when neither the client nor the driver gives one", function()
    local c = client{ access_token = "STATIC" }
    local call = c:begin("CGMU2436601")
    local r = call:request_bytes()
    local ua = r.bytes:match("\r\nUser%-Agent: ([^\r]*)\r\n")
    assert.are.equal("soget/" .. soget._VERSION:match("([%d.]+)$") .. " libcurl/"
      .. soget.libcurl_version, ua)
    call:close()
    c:close()
  end)

  it("uses the client's User-Agent, gzip, verify_tls and ca_file options", function()
    local c = client{ user_agent = "mine/2", gzip = false, verify_tls = false,
      access_token = "STATIC", max_response_size = 2000, ca_file = "/nonexistent/ca.pem" }
    local call = c:begin("CGMU2436601")
    local r = call:request_bytes("driver/1")
    assert.truthy(r.bytes:find("\r\nUser-Agent: mine/2\r\n", 1, true))
    assert.truthy(r.bytes:find("\r\nAccept-Encoding: identity\r\n", 1, true))
    assert.is_false(r.verify_tls)
    assert.are.equal("/nonexistent/ca.pem", r.ca_file)
    assert.are.equal(2000, r.max_response_size)
    call:close()
    c:close()
  end)

  it("keeps a fully qualified name's trailing dot in Host, not in server_name (SNI), as libcurl", function()
    local c = client{ base_url = "https://API.Example.COM.:8443/v1", token_url = "https://auth.invalid./token" }
    local call = c:begin("CGMU2436601")
    local r = call:request_bytes()
    assert.are.equal("auth.invalid.", r.host)
    assert.are.equal("auth.invalid", r.server_name)
    assert.truthy(r.bytes:find("\r\nHost: auth.invalid.\r\n", 1, true), r.bytes)
    assert.is_nil(call:response(200, '{"access_token":"T0K","expires_in":3600}'))
    r = call:request_bytes()
    assert.are.equal("api.example.com.", r.host)
    assert.are.equal("api.example.com", r.server_name)
    assert.truthy(r.bytes:find("\r\nHost: api.example.com.:8443\r\n", 1, true), r.bytes)
    call:close()
    c:close()
  end)

  it("answers nil, nil, wait while another call of the client fetches the token", function()
    local c = client()
    local a, b = c:begin("CGMU2436601"), c:begin("CGMU2436601")
    assert.are.equal("token", a:request_bytes().kind)
    local r, err, wait = b:request_bytes()
    assert.is_nil(r)
    assert.is_nil(err)
    assert.truthy(wait > 0)
    a:close(); b:close(); c:close()
  end)
end)

describe("soget.http_parser", function()
  local OK = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
  local cases = {
    { "whole", { OK }, "done", 200, "hello", true },
    { "byte by byte", (function() local t = {} for i = 1, #OK do t[i] = OK:sub(i, i) end return t end)(),
      "done", 200, "hello", true },
    { "chunked, Connection: close, Retry-After, Location",
      { "HTTP/1.1 503 No\r\nConnection: close\r\nRetry-After: 2\r\nLocation: /x\r\n",
        "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n" },
      "done", 503, "ab", false, "2", "/x" },
    -- every WWW-Authenticate, joined (at 9)
    { "WWW-Authenticate on two lines", {
      "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"a\"\r\nContent-Length: 0\r\n",
      "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n\r\n" },
      "done", 401, "", true, nil, nil, 'Basic realm="a", Bearer error="invalid_token"' },
    { "not ended", { "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc" }, "more" },
    -- 204 and 304 have no body, whatever Content-Length says (RFC 9112 6.3)
    { "304 with a Content-Length", { "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n" },
      "done", 304, "", true },
    { "204 with a Content-Length: the bytes after are not its body", {
      "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/" }, "done", 204, "", false },
    { "a Content-Encoding too long to read", {
      "HTTP/1.1 200 OK\r\nContent-Encoding: " .. ("x"):rep(80) .. "\r\nContent-Length: 5\r\n\r\nhello" },
      "bad", nil, nil, nil, nil, nil, nil, "network",
      "the response body has a Content-Encoding soget cannot decode" },
    -- bad: kind at 10, message at 11; the cap at 12
    { "not HTTP", { "hello\r\n" }, "bad", nil, nil, nil, nil, nil, nil, "network",
      "not a valid HTTP/1.1 response" },
    { "over the cap", { "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", ("x"):rep(20) }, "bad",
      nil, nil, nil, nil, nil, nil, "http",
      "response body is larger than max_response_size (10 bytes)", 10 },
  }
  for _, t in ipairs(cases) do
    it(t[1], function()
      local p = soget.http_parser(t[12] or 100)
      local st
      for _, piece in ipairs(t[2]) do st = p:feed(piece) end
      assert.are.equal(t[3], st)
      assert.are.equal(t[3], p:state())
      if st == "done" then
        local status, body, ra, loc, ka, www = p:response()
        assert.are.equal(6, select("#", p:response()))
        assert.are.equal(t[9], www)
        assert.are.equal(t[4], status)
        assert.are.equal(t[5], body)
        assert.are.equal(t[6], ka)
        assert.are.equal(t[7], ra)
        assert.are.equal(t[8], loc)
        assert.has_error(function() p:error() end)
      elseif st == "bad" then
        local msg, kind, retryable, status = p:error()
        assert.are.equal(t[10], kind)
        assert.is_false(retryable)
        -- the status of the answer a size limit stopped, for call:failed
        assert.are.equal(t[12] and 200 or nil, status)
        assert.truthy(msg:find(t[11], 1, true), msg)
        assert.has_error(function() p:response() end)
      else
        assert.has_error(function() p:response() end)
        assert.are.equal("bad", p:eof())
        local msg, kind, retryable = p:error()
        assert.are.equal("network", kind)
        assert.is_true(retryable)
        assert.truthy(msg:find("cut short", 1, true), msg)
      end
      assert.truthy(tostring(p):find("^soget.HttpParser %("))
      p:close()
      p:close()
      assert.are.equal("soget.HttpParser (closed)", tostring(p))
      assert.has_error(function() p:feed("x") end, "soget.HttpParser: used after close()")
    end)
  end

  it("counts the bytes fed and the body's bytes once undone", function()
    -- 72 bytes of gzip: '{"items":[]}' and 20,000 spaces
    local gz = "\31\139\8\0\0\0\0\0\2\3\237\193\177\17\0\16\16\0\176\85\220\143\97\21"
      .. "\167\84\40\190\162\115\118\183\134\34\201\137\185\71\174\168\173\223\2\0\0\0\0"
      .. "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\192\23\30\78\45\236\19\44\78\0\0"
    assert.are.equal(72, #gz)
    local head = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 72\r\n\r\n"
    local p = soget.http_parser(100000)
    assert.are.equal(0, p:decoded())
    assert.are.equal("more", p:feed(head .. gz:sub(1, 40)))
    assert.are.equal(#head + 40, p:received())
    local part = p:decoded()
    assert.truthy(part < 20012, part)
    assert.are.equal("done", p:feed(gz:sub(41)))
    assert.are.equal(#head + 72, p:received())
    assert.are.equal(20012, p:decoded())
    assert.are.equal('{"items":[]}' .. (" "):rep(20000), select(2, p:response()))
    p:close()
    assert.has_error(function() p:decoded() end, "soget.HttpParser: used after close()")
  end)

  it("refuses a cap that is not a whole, positive number of bytes", function()
    for _, bad in ipairs { 0, 0 / 0, 1 / 0, -1, 1.5, 1023.9, 2 ^ 53 + 2 } do
      local ok, err = pcall(soget.http_parser, bad)
      assert.is_false(ok, tostring(bad))
      assert.truthy(tostring(err):find("must be a whole, positive number of bytes", 1, true),
        tostring(err))
    end
    -- a number, not a string that converts to one, nor another type
    for _, bad in ipairs { "x", "4096", {}, true } do
      local ok, err = pcall(soget.http_parser, bad)
      assert.is_false(ok, tostring(bad))
      assert.truthy(tostring(err):find("number expected, got " .. type(bad), 1, true),
        tostring(err))
    end
    assert.are.equal("soget.HttpParser (more)", tostring(soget.http_parser(1)))
    assert.are.equal("soget.HttpParser (more)", tostring(soget.http_parser(4096.0)))
    assert.are.equal("soget.HttpParser (more)", tostring(soget.http_parser(nil)))
  end)
end)
