-- No secret (client secret, API keys, any token) in an error, a tostring
-- or a message, across every failure the client can meet; and none, in any
-- form soget sends it, in what the whole suite printed. spec/run runs this
-- file last, so that its final check covers every token the sandbox issued
-- during the run (from the sandbox's token log) and the output of every
-- spec before it (SOGET_SUITE_LOG).
local soget = require "soget"
local S = require "support"

-- Fails naming the secret and where, never showing it.
local function assert_no_secret(check, text, where)
  local what = check(text)
  if what then error(what .. " leaked into " .. where, 2) end
end

describe("secrets", function()
  local texts = {}
  local function collect(...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      texts[#texts + 1] = tostring(v)
      if type(v) == "table" then
        for k, x in pairs(v) do texts[#texts + 1] = tostring(k) .. "=" .. tostring(x) end
      end
    end
  end

  local token
  setup(function()
    local c = S.client()
    token = assert(c:token())
    c:close()
  end)

  it("are found by the check in every form soget sends them", function()
    local check, tokens = S.secret_check()
    assert.truthy(tokens >= 1)
    local forms = { S.client_secret, S.api_key, S.search_key, token, "ab" .. token .. "ff" }
    -- spec/run gives the sandbox a client secret that the token request's
    -- form percent-encodes (a sandbox started by hand has a hex one)
    for _, fmt in ipairs{ "%%%02X", "%%%02x" } do
      local enc = S.client_secret:gsub("[^%w%-._~]", function(ch) return fmt:format(ch:byte()) end)
      if enc ~= S.client_secret then forms[#forms + 1] = enc end
    end
    for i, f in ipairs(forms) do
      assert.truthy(check("before " .. f .. " after"), "form " .. i .. " not found")
    end
    assert.is_nil(check("a part of a token is no token: " .. token:sub(2) .. " " .. token:sub(1, -2)))
  end)

  it("never appear in errors, tostring or raised messages", function()
    local scenarios = {
      { client_secret = "wrong-" .. S.client_secret },
      { api_key = "bad-" .. S.api_key },
      { base_url = S.fault_base("403") },
      { base_url = S.fault_base("500") },
      { base_url = S.fault_base("malformed") },
      { base_url = S.fault_base("wrong-types") },
      { base_url = S.fault_base("reset"), retries = 0 },
      { base_url = S.fault_base("delay:ms=2000"), timeout = 0.3 },
      { ca_file = "/etc/ssl/certs/ca-certificates.crt" },
      { token_url = S.fault_token("bad-token-json") },
      { access_token = token .. "-expired", client_id = S.client_id, client_secret = "nope" },
      { base_url = "http://127.0.0.1:9/api", retries = 0 },
    }
    for _, o in ipairs(scenarios) do
      local c = S.client(o)
      collect(c)
      collect(c:handling_units{ reference = "MSCU", limit = 5 })
      collect(c:handling_units{ spi = "BAD-SPI" })
      collect(select(2, c:token()))   -- its error: the token itself is the caller's to keep
      collect(pcall(c.handling_units, c, { reference = S.api_key .. "\n" }))
      c:close()
      collect(c)
    end
    collect(pcall(soget.client, S.options{ api_key = S.api_key .. "\r\n" }))
    collect(pcall(soget.client, S.options{ access_token = S.client_secret .. "\n" }))
    assert.truthy(#texts > 50)
    local check = S.secret_check{ ["the token held"] = token }
    for i, t in ipairs(texts) do assert_no_secret(check, t, "text " .. i) end
  end)

  it("are scrubbed from what a server echoes back", function()
    local c = S.client()
    c:set_token(token, 60)
    local call = c:begin("CGMU2436601")
    assert(call:request())
    local body = '{"status":"BadRequest","code":"R003","message":"bad key ' .. S.api_key ..
      ' and token ' .. token .. '"}'
    local page, err = call:response(400, body)
    assert.is_nil(page)
    assert.are.equal("api", err.kind)
    assert.is_nil(err.message:find(S.api_key, 1, true))
    assert.is_nil(err.message:find(token, 1, true))
    assert.truthy(err.message:find("bad key ***", 1, true), err.message)
    -- a secret cut where the message is cut leaves no part of itself
    call = c:begin("CGMU2436601")
    assert(call:request())
    local long = '{"code":"R003","message":"' .. string.rep("x", 248) .. S.api_key .. '"}'
    page, err = call:response(400, long)
    assert.is_nil(page)
    assert.truthy(err.message:find("***", 1, true), err.message)
    assert.is_nil(err.message:find(S.api_key:sub(1, 4), 1, true), err.message)
    c:close()
  end)

  it("include a proxy's user and password, in every form libcurl sends them", function()
    -- a proxy (or a server behind a proxy that forwards its headers) may
    -- echo the Basic credentials libcurl sent it, or quote them decoded
    local user, pass = "proxyuser", "Pr0xy Pw0rd:x"
    local enc = "Pr0xy%20Pw0rd%3ax"
    local basic = "cHJveHl1c2VyOlByMHh5IFB3MHJkOng="   -- base64 of user:pass
    -- (an '@' in the path of the environment's proxy is no end of its
    -- password: libcurl's parser says where the user and password are)
    for _, how in ipairs({ "option", "environment", "environment, a path with an @" }) do
      local url = "http://" .. user .. ":" .. enc .. "@127.0.0.1:1" .. (how:find("@") and "/x@y" or "")
      local lua = ("local c = require'soget'.client{access_token='t-1234',api_key='k-1234',"
        .. "base_url='http://127.0.0.1:1/v1'%s}\n"):format(how == "option" and (",proxy=%q"):format(url) or "")
        .. [[
        local call = c:begin("CGMU2436601")
        assert(call:request())
        local page, err = call:response(403, '{"code":"P1","message":"denied: Basic ]] .. basic
          .. " = " .. user .. ":" .. pass .. " via " .. user .. ":" .. enc .. [[ and Pr0xy%20Pw0rd%3Ax"}')
        io.write(err.message, "\n", tostring(err), "\n")
      ]]
      local env = how ~= "option" and ("http_proxy=" .. S.shell_quote(url) .. " ") or ""
      local out = S.popen_read("env -u http_proxy -u all_proxy -u ALL_PROXY " .. env
        .. S.shell_quote(S.lua) .. " -e " .. S.shell_quote("package.cpath=" .. ("%q"):format(package.cpath) .. "\n" .. lua) .. " 2>&1")
      assert.truthy(out:find("denied: Basic *** = ***:*** via ***", 1, true), how .. ": " .. out)
      for _, s in ipairs({ basic, basic:sub(1, 12), pass, enc, "Pr0xy", user }) do
        assert.is_nil(out:find(s, 1, true), how .. ": " .. out)
      end
    end
  end)

  it("never appear in what the suite printed or the sandbox logged, for any token it issued", function()
    local check, tokens = S.secret_check()
    -- the suite issued tokens before this file (or this file did)
    assert.truthy(tokens >= 1)
    local log = os.getenv("SOGET_SUITE_LOG")
    local sandbox = os.getenv("SOGET_SANDBOX_DIR")
    local logs = { { "the sandbox's error log", S.read_file(sandbox .. "/error.log") } }
    if log and log ~= "" then
      local out = S.read_file(log)
      -- busted's report of every spec so far: at least its first line
      assert.truthy(out:find("spec/run:", 1, true), "the suite's output is not in " .. log)
      logs[#logs + 1] = { "the suite's output", out }
    end
    for _, t in ipairs(logs) do assert_no_secret(check, t[2], t[1]) end
  end)
end)
