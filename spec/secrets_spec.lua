-- No secret (client secret, API key, any token) in an error, a tostring or
-- a message, across every failure the client can meet.
local soget = require "soget"
local S = require "support"

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
      collect(c:token())
      collect(pcall(c.handling_units, c, { reference = S.api_key .. "\n" }))
      c:close()
      collect(c)
    end
    collect(pcall(soget.client, S.options{ api_key = S.api_key .. "\r\n" }))
    collect(pcall(soget.client, S.options{ access_token = S.client_secret .. "\n" }))
    assert.truthy(#texts > 50)
    for _, t in ipairs(texts) do
      for _, secret in ipairs{ S.client_secret, S.api_key, token } do
        assert.is_nil(t:find(secret, 1, true), "a secret leaked into: " .. t)
      end
    end
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
end)
