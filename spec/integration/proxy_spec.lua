-- Behind a real forward proxy: tinyproxy on 127.0.0.1, started and stopped
-- by PID (spec/integration/proxy.lua). The environment's proxy variables
-- (read once per client) and the client's proxy and no_proxy options route
-- calls through it: CONNECT for HTTPS, with TLS still checked end to end
-- against the sandbox's CA; a proxy that refuses, dies or tampers fails the
-- call with a clear error; on HTTPS the proxy sees one CONNECT line and
-- then only TLS records, never a credential.
local soget = require "soget"
local S = require "support"
local P = require "integration.proxy"

local TLS_PORT = S.https:match(":(%d+)$")
local HTTP_PORT = S.http:match(":(%d+)$")
local ENV_VARS = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY", "no_proxy", "NO_PROXY" }

local function http_options(extra)
  local o = S.options(extra)
  o.base_url = o.base_url:gsub("^https://[^/]+", S.http)
  o.token_url = o.token_url:gsub("^https://[^/]+", S.http)
  return o
end

-- One lookup in a process of its own, with only the proxy variables in env
-- and the client options o: "ok", or the error's kind and message.
local function child(env, o)
  local cmd = { "env" }
  for _, v in ipairs(ENV_VARS) do cmd[#cmd + 1] = "-u " .. v end
  for k, v in pairs(env) do cmd[#cmd + 1] = k .. "=" .. S.shell_quote(v) end
  local opts = {}
  for k, v in pairs(o) do
    opts[#opts + 1] = k .. "=" .. (type(v) == "string" and ("%q"):format(v) or tostring(v))
  end
  cmd[#cmd + 1] = "timeout 60 " .. S.shell_quote(S.lua) .. " -e " .. S.shell_quote(
    "package.cpath=" .. ("%q"):format(package.cpath) .. ";" ..
    "local c=require'soget'.client{" .. table.concat(opts, ",") .. "};" ..
    "local p,e=c:handling_units('CGMU2436601');" ..
    "io.write(p and 'ok' or (e.kind..': '..e.message))")
  return S.popen_read(table.concat(cmd, " ") .. " 2>&1")
end

-- The request lines a proxy logged after the first n.
local function since(p, n)
  local t, out = p:requests(), {}
  for i = n + 1, #t do out[#out + 1] = t[i] end
  return out
end

local texts = {}
local function see(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    texts[#texts + 1] = tostring(v)
    if type(v) == "table" then
      for k, x in pairs(v) do texts[#texts + 1] = tostring(k) .. "=" .. tostring(x) end
    end
  end
  return ...
end

describe("behind a real proxy", function()
  if not P.available() then
    it("needs tinyproxy and LuaSocket (make deps)", function()
      pending("tinyproxy (tinyproxy-bin) or lua-socket is not installed: run make deps")
    end)
    return
  end

  local proxy
  setup(function() proxy = P.start() end)
  teardown(function() if proxy then proxy:stop() end end)
  before_each(function() S.reset() end)

  describe("from the environment", function()
    it("https_proxy tunnels HTTPS with CONNECT, the sandbox's certificate checked end to end", function()
      local n = #proxy:requests()
      assert.are.equal("ok", child({ https_proxy = proxy.url }, S.options{ retries = 0 }))
      local lines = since(proxy, n)
      assert.are.same({ "CONNECT 127.0.0.1:" .. TLS_PORT .. " HTTP/1.1" }, lines)
      local st = S.stats()
      assert.are.equal(1, st.token_requests)
      assert.are.equal(1, st.api_requests)
      assert.are.equal(1, st.tls_handshakes)
      -- the CA the client trusts is checked through the tunnel too
      local out = child({ https_proxy = proxy.url },
        S.options{ retries = 0, ca_file = "/etc/ssl/certs/ca-certificates.crt" })
      assert.truthy(out:find("^tls: "), out)
      assert.are.equal(1, #since(proxy, n + 1))
    end)

    it("http_proxy forwards plain HTTP, which the server sees come through the proxy", function()
      local n = #proxy:requests()
      assert.are.equal("ok", child({ http_proxy = proxy.url }, http_options{ retries = 0 }))
      local lines = since(proxy, n)
      assert.are.equal(2, #lines)
      assert.truthy(lines[1]:find("^POST http://127%.0%.0%.1:" .. HTTP_PORT .. "/soget%-connect/"), lines[1])
      assert.truthy(lines[2]:find("^GET http://127%.0%.0%.1:" .. HTTP_PORT
        .. "/api%-tracing%-code/v1/handling%-units%?reference=CGMU2436601"), lines[2])
      for _, r in ipairs(S.requests(2)) do
        assert.truthy((r.headers.via or ""):find("tinyproxy", 1, true), "no Via header from the proxy")
      end
    end)

    it("no_proxy and NO_PROXY let a listed host go direct", function()
      local n = #proxy:requests()
      assert.are.equal("ok", child({ https_proxy = proxy.url, no_proxy = "127.0.0.1" }, S.options()))
      assert.are.equal("ok", child({ https_proxy = proxy.url, NO_PROXY = "localhost,127.0.0.1" }, S.options()))
      assert.are.equal("ok", child({ http_proxy = proxy.url, no_proxy = "*" }, http_options()))
      assert.are.same({}, since(proxy, n))
      assert.are.equal(3, S.stats().api_requests)
    end)
  end)

  describe("the proxy and no_proxy options", function()
    it("route every call through the proxy, in place of the environment", function()
      local n = #proxy:requests()
      local c = S.client{ proxy = proxy.url }
      assert.are.equal(1, assert(c:handling_units("CGMU2436601")).total)
      assert(c:handling_units_search("HLCUEUR2002APIK9"))
      local results, counts = c:handling_units_many({ "CGMU2436601", "CSQU3054383", "MSCU" },
        { concurrency = 3 })
      assert.are.same({ ok = 3, failed = 0 }, counts)
      assert.are.equal(1, results[1].total)
      c:close()
      local lines = since(proxy, n)
      assert.truthy(#lines >= 2, "the easy handle's tunnel and at least one of the batch's")
      for _, l in ipairs(lines) do
        assert.are.equal("CONNECT 127.0.0.1:" .. TLS_PORT .. " HTTP/1.1", l)
      end
      assert.are.equal(5, S.stats().api_requests)

      -- the option wins over the variables, both ways
      local dead = "http://127.0.0.1:9"
      n = #proxy:requests()
      assert.are.equal("ok", child({ https_proxy = dead }, S.options{ proxy = proxy.url, retries = 0 }))
      assert.are.equal(1, #since(proxy, n))
      assert.are.equal("ok", child({ https_proxy = dead, all_proxy = dead }, S.options{ proxy = "" }))
      local out = child({}, S.options{ proxy = dead, retries = 0 })
      assert.truthy(out:find("^network: .*127%.0%.0%.1 port 9"), out)
    end)

    it("no_proxy lets listed hosts go direct, in place of no_proxy and NO_PROXY", function()
      local n = #proxy:requests()
      local c = S.client{ proxy = proxy.url, no_proxy = "example.com, 127.0.0.1" }
      assert(c:handling_units("CGMU2436601"))
      c:close()
      assert.are.same({}, since(proxy, n))
      -- an empty no_proxy lists no host, whatever the environment says
      assert.are.equal("ok", child({ no_proxy = "127.0.0.1", NO_PROXY = "127.0.0.1" },
        S.options{ proxy = proxy.url, no_proxy = "" }))
      assert.are.equal(1, #since(proxy, n))
    end)

    it("are checked when the client is made, and a proxy URL is never shown", function()
      local secret_proxy = "http://user:pa55-Secret-word@127.0.0.1:9"
      for _, bad in ipairs{ "https://127.0.0.1:3128", "socks5h://127.0.0.1:1080", "127.0.0.1:3128",
                            "http://user:pa55-Secret-word@127.0.0.1:9 x", "http://",
                            -- a path or a query: an '@' there would read as a password's end
                            "http://user:pa55-Secret-word@127.0.0.1:9/x@y",
                            "http://user:pa55-Secret-word@127.0.0.1:9/?a=b@c",
                            -- a user or password that decodes to a control character:
                            -- libcurl would leave the proxy out, saying nothing
                            "http://user:pa55-Secret%0Aword@127.0.0.1:9",
                            "http://us%00er:pa55-Secret-word@127.0.0.1:9" } do
        local ok, err = pcall(soget.client, S.options{ proxy = bad })
        assert.is_false(ok, bad)
        assert.truthy(tostring(err):find("proxy", 1, true), err)
        assert.is_nil(tostring(err):find("pa55", 1, true), err)
      end
      -- the environment's, which would go direct the same way
      local out = child({ https_proxy = "http://user:pa55-Secret%09word@127.0.0.1:9",
        http_proxy = "http://user:pa55-Secret%09word@127.0.0.1:9" }, S.options{})
      assert.truthy(out:find("soget.client: the proxy in https?_proxy has a user or password that "
        .. "decodes to a control character"), out)
      assert.is_nil(out:find("pa55", 1, true), out)
      local ok, err = pcall(soget.client, S.options{ no_proxy = "a\nb" })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("no_proxy contains a line break", 1, true), err)
      ok, err = pcall(soget.client, S.options{ proxy = 3128 })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("'proxy' must be a string", 1, true), err)
      local c = S.client{ proxy = secret_proxy, retries = 0 }
      local page, e = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("network", e.kind)
      for _, t in ipairs{ tostring(c), tostring(e), e.message } do
        assert.is_nil(t:find("pa55", 1, true), t)
      end
      c:close()
    end)
  end)

  describe("what the proxy sees", function()
    it("on HTTPS: one CONNECT line with the user agent, then TLS records, never a credential", function()
      local relay = P.relay("record", proxy.port)   -- in front of the proxy: its view
      local ok, err = pcall(function()
        local n = #proxy:requests()
        local c = S.client{ proxy = relay.url, user_agent = "acme-tracker/2.1 (+ops@example.com)" }
        assert(c:handling_units("CGMU2436601"))
        assert(c:handling_units_search("3714238101"))
        local token = assert(c:token())
        c:close()
        local bytes = relay:bytes()
        local head, rest = bytes:match("^(.-)\r\n\r\n(.*)$")
        local lines = {}
        for l in (head .. "\r\n"):gmatch("(.-)\r\n") do lines[#lines + 1] = l end
        assert.are.equal("CONNECT 127.0.0.1:" .. TLS_PORT .. " HTTP/1.1", lines[1])
        local headers = {}
        for i = 2, #lines do
          local k, v = lines[i]:match("^([%w-]+): (.*)$")
          assert.truthy(k, lines[i])
          headers[k:lower()] = v
        end
        assert.are.equal("127.0.0.1:" .. TLS_PORT, headers.host)
        assert.are.equal("acme-tracker/2.1 (+ops@example.com)", headers["user-agent"])
        headers.host, headers["user-agent"], headers["proxy-connection"] = nil, nil, nil
        assert.are.same({}, headers)   -- nothing else: no header of the server's
        -- then a TLS handshake record (content type 22, version 3.x), and
        -- no second request line: one tunnel carried all three requests
        assert.are.equal("\22\3", rest:sub(1, 2))
        assert.is_nil(rest:find("HTTP/1.1\r\n", 1, true))
        local check = S.secret_check{ ["the client's token"] = token }
        assert.is_nil(check(bytes), "a credential crossed the proxy")
        for _, word in ipairs{ "Bearer", "client_secret", "Ocp-Apim-Subscription-Key", "grant_type" } do
          assert.is_nil(bytes:find(word, 1, true), word .. " crossed the proxy in clear text")
        end
        -- and the proxy's own log holds the CONNECT line and no credential
        assert.are.same({ "CONNECT 127.0.0.1:" .. TLS_PORT .. " HTTP/1.1" }, since(proxy, n))
        assert.is_nil(check(proxy:log()), "a credential is in the proxy's log")
        local st = S.stats()
        assert.are.equal(1, st.token_requests)
        assert.are.equal(2, st.api_requests)
        assert.are.equal("acme-tracker/2.1 (+ops@example.com)", S.requests(1)[1].headers["user-agent"])
      end)
      relay:stop()
      assert(ok, err)
    end)

    it("a proxy that tampers with the tunnel cannot make a bad certificate pass", function()
      local dir = P.tmpdir()
      local helpers = {}
      local ok, err = pcall(function()
        local sandbox = os.getenv("SOGET_SANDBOX_DIR")
        -- a self-signed certificate for 127.0.0.1, and one the sandbox's
        -- own CA signed, for another name
        local impostors = {
          { P.certificate(dir, "self", "IP:127.0.0.1") },
          { P.certificate(dir, "other-name", "DNS:localhost", sandbox .. "/tls/ca.pem",
            sandbox .. "/tls/ca.key") },
        }
        for i, files in ipairs(impostors) do
          local server = P.impostor(files[1], files[2])
          helpers[#helpers + 1] = server
          local tamper = P.relay("tamper", server.port)
          helpers[#helpers + 1] = tamper
          local c = S.client{ proxy = tamper.url, retries = 1 }
          local page, e = see(c:handling_units("CGMU2436601"))
          c:close()
          assert.is_nil(page, "impostor " .. i)
          assert.are.equal("tls", e.kind, tostring(e))
          assert.is_false(e.retryable)
          -- the tunnel was asked for the sandbox and handed to the impostor
          assert.truthy(tamper:bytes():find("^CONNECT 127%.0%.0%.1:" .. TLS_PORT), "impostor " .. i)
          local check = S.secret_check()
          assert.is_nil(check(tamper:bytes()), "a credential reached the impostor")
        end
        assert.are.equal(0, S.stats().token_requests)
      end)
      for _, h in ipairs(helpers) do h:stop() end
      S.execute("rm -rf " .. S.shell_quote(dir))
      assert(ok, err)
    end)
  end)

  describe("a proxy that fails", function()
    it("refusing by its access rules or its filter: a network error, not retried", function()
      local refusing = {}
      local ok, err = pcall(function()
        refusing[1] = P.start{ allow = "10.0.0.0/8" }              -- 127.0.0.1 not allowed
        refusing[2] = P.start{ filter = { "^127\\.0\\.0\\.1$" } }  -- the server's host filtered
        for i, r in ipairs(refusing) do
          local c = S.client{ proxy = r.url }
          local t0 = S.now()
          local page, e = see(c:handling_units("CGMU2436601"))
          c:close()
          assert.is_nil(page)
          assert.are.equal("network", e.kind, "proxy " .. i)
          assert.is_false(e.retryable)
          assert.is_nil(e.status, "the proxy's status is not the API's")
          assert.are.equal("token request: the proxy refused the tunnel to the server (HTTP 403 to CONNECT)",
            e.message)
          assert.truthy(S.now() - t0 < 2, "not retried")
        end
        -- from the environment too
        local out = child({ https_proxy = refusing[1].url }, S.options())
        assert.are.equal("network: token request: the proxy refused the tunnel to the server "
          .. "(HTTP 403 to CONNECT)", out)
        local st = S.stats()
        assert.are.equal(0, st.token_requests + st.api_requests)
      end)
      for _, r in ipairs(refusing) do r:stop() end
      assert(ok, err)
    end)

    it("dying in the middle of a call: a network error at once, then connection refused", function()
      local dying = P.start()
      local ok, err = pcall(function()
        local c = S.client{ proxy = dying.url, retries = 0,
          base_url = S.fault_base("delay:ms=4000:id=" .. S.uid("proxy")) }
        assert(c:token())   -- the tunnel is up, the next request waits in the sandbox
        S.execute("(sleep 0.5; kill -KILL " .. dying.pid .. ") >/dev/null 2>&1 &")
        local t0 = S.now()
        local page, e = see(c:handling_units("CGMU2436601"))
        local took = S.now() - t0
        assert.is_nil(page)
        assert.are.equal("network", e.kind, tostring(e))
        assert.is_true(e.retryable)
        assert.truthy(took > 0.3 and took < 3, "ended when the proxy died: " .. took .. " s")
        -- the next call finds no proxy
        page, e = see(c:handling_units("CGMU2436601"))
        assert.is_nil(page)
        assert.are.equal("network", e.kind)
        assert.truthy(e.message:find("127.0.0.1 port " .. dying.port, 1, true), e.message)
        c:close()
      end)
      dying:stop()
      assert(ok, err)
    end)
  end)

  it("puts no secret in any error, tostring or message met here", function()
    assert.truthy(#texts >= 10)
    local check = S.secret_check()
    for i, t in ipairs(texts) do assert.is_nil(check(t), "text " .. i) end
  end)
end)
