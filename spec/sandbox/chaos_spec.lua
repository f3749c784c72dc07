-- What the soak needs from the sandbox: faults drawn at random
-- (/_control/chaos), the revoke-token fault, the request log read by
-- sequence number and User-Agent (/_control/log), and a longer log
-- (SOGET_SANDBOX_LOG_KEEP).
package.path = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/sandbox") .. "/?.lua;" .. package.path
local H = require("helper")
local E = H.env()

local Q = "reference=MSCU&limit=2"

local function chaos(args)
  return H.control("/_control/chaos" .. (args and ("?" .. args) or ""), args and "POST" or nil)
end

-- the last n log entries
local function last(n)
  return H.control("/_control/requests?n=" .. (n or 1)).json
end

describe("sandbox chaos", function()
  before_each(function()
    H.cached_token()
    assert.equal(200, H.control("/_control/reset?faults=1", "POST").status)
  end)
  after_each(function()
    assert.equal(200, chaos("rate=0").status)
  end)

  it("is off until set, and says how it is set", function()
    local j = chaos().json
    assert.equal(0, j.rate)
    assert.equal("500,503,429,reset,truncate,delay,revoke-token", j.mix)
    assert.equal(200, H.api(Q).status)
    j = chaos("rate=0.25&mix=500,delay&delay=10-20&retry_after=2&seed=7").json
    assert.equal(0.25, j.rate)
    assert.equal("500,delay", j.mix)
    assert.same({ 10, 20 }, j.delay_ms)
    assert.equal(2, j.retry_after)
  end)

  it("refuses settings it cannot apply", function()
    for _, args in ipairs({ "rate=2", "rate=-1", "rate=x", "rate=0.1&mix=500,nope",
      "rate=0.1&mix=500,", "rate=0.1&delay=5", "rate=0.1&delay=9-3",
      "rate=0.1&retry_after=1.5", "rate=0.1&seed=abc", "" }) do
      local r = H.control("/_control/chaos?" .. args, "POST")
      assert.equal(400, r.status, args)
      assert.truthy(r.json.message:match("^sandbox: "), args)
    end
    assert.equal(0, chaos().json.rate)
  end)

  it("fails every API request at rate 1 with the fault drawn, logged and counted", function()
    chaos("rate=1&mix=500")
    local r = H.api(Q)
    assert.equal(500, r.status)
    assert.equal("InternalServerError", r.json.status)
    local e = last()[1]
    assert.equal("500", e.chaos)
    assert.equal(500, e.status)
    r = H.search("documentReference=3714238101")
    assert.equal(500, r.status)
    local j = chaos().json
    assert.equal(2, j.injected["500"])
    assert.equal(2, j.requests)
  end)

  it("leaves the token URL and requests with a fault of their own alone", function()
    chaos("rate=1&mix=500")
    assert.truthy(H.token())
    local r = H.api(Q, { base = H.fault_base("delay:ms=1") })
    assert.equal(200, r.status)
    assert.is_nil(last()[1].chaos)
    assert.equal(0, chaos().json.requests)
  end)

  it("503 fails that request alone: the next one is answered", function()
    chaos("rate=1&mix=503")
    assert.equal(503, H.api(Q).status)
    chaos("rate=0")
    assert.equal(200, H.api(Q).status)
  end)

  it("429 sends the Retry-After it was given", function()
    chaos("rate=1&mix=429&retry_after=3")
    local r = H.api(Q)
    assert.equal(429, r.status)
    assert.equal("3", r.headers["retry-after"])
    assert.equal("429:retry-after=3", last()[1].chaos)
  end)

  it("delay answers normally after a wait drawn within the range", function()
    chaos("rate=1&mix=delay&delay=250-300")
    local r = H.api(Q)
    assert.equal(200, r.status)
    assert.is_true(r.time >= 0.25)
    local ms = tonumber(last()[1].chaos:match("^delay:ms=(%d+)$"))
    assert.is_true(ms >= 250 and ms <= 300)
  end)

  it("reset and truncate cut the answer", function()
    chaos("rate=1&mix=reset")
    local r = H.api(Q, { args = { "--http1.1" } })
    assert.equal(52, r.exit)
    chaos("rate=1&mix=truncate")
    r = H.api(Q, { args = { "--http1.1" } })
    assert.equal(18, r.exit)
    local e = last()[1]
    assert.equal("truncate", e.chaos)
  end)

  it("revoke-token answers 401 and the token stays refused; a new one works", function()
    local tok = H.token()
    chaos("rate=1&mix=revoke-token")
    local r = H.api(Q, { token = tok })
    assert.equal(401, r.status)
    assert.truthy(r.headers["www-authenticate"]:match('error="invalid_token"'))
    assert.truthy(r.json.message:match("revoked"))
    chaos("rate=0")
    r = H.api(Q, { token = tok })
    assert.equal(401, r.status)
    assert.truthy(r.json.message:match("invalid"))
    assert.equal(200, H.api(Q, { token = H.token() }).status)
  end)

  it("draws about `rate` of the requests, in the seed's order with one worker", function()
    local function draw()
      chaos("rate=0.5&mix=500&seed=11")
      local out = {}
      for i = 1, 40 do out[i] = H.api(Q).status end
      return table.concat(out, " ")
    end
    local a = draw()
    local _, n = a:gsub("500", "")
    assert.is_true(n >= 8 and n <= 32, a)
    assert.equal(a, draw())
  end)
end)

describe("sandbox revoke-token fault", function()
  it("revokes the token it is sent with", function()
    local tok = H.token()
    local r = H.api(Q, { token = tok, base = H.fault_base("revoke-token") })
    assert.equal(401, r.status)
    assert.equal(401, H.api(Q, { token = tok }).status)
  end)
end)

describe("sandbox request log by sequence and User-Agent", function()
  before_each(function()
    H.cached_token()
    assert.equal(200, H.control("/_control/reset", "POST").status)
  end)

  it("gives the requests after a sequence number, of one User-Agent, oldest first", function()
    local seq = H.control("/_control/log?n=0").json.seq
    H.api(Q, { args = { "-A", "agent-a" } })
    H.api("reference=CGMU", { args = { "-A", "agent-b" } })
    H.api("reference=MAEU", { args = { "-A", "agent-a" } })
    local j = H.control("/_control/log?since=" .. seq .. "&agent=agent-a").json
    assert.equal(seq + 3, j.seq)
    assert.equal(false, j.lost)
    assert.equal(2, #j.entries)
    assert.equal("MSCU", j.entries[1].args.reference)
    assert.equal("MAEU", j.entries[2].args.reference)
    assert.is_true(j.entries[1].seq < j.entries[2].seq)
    j = H.control("/_control/log?since=" .. seq).json
    assert.equal(3, #j.entries)
    j = H.control("/_control/log?since=" .. (seq + 3) .. "&agent=agent-a").json
    assert.equal(0, #j.entries)
    j = H.control("/_control/log?since=" .. seq .. "&n=1").json
    assert.equal(1, #j.entries)
  end)

  it("says when requests after `since` are no longer kept", function()
    -- 205 requests over one connection: the default log keeps 200
    local h = H.auth_headers()
    local a = { "curl", "-s", "-g", "--max-time", "60", "--cacert", H.q(E.SOGET_CA_FILE),
      "-A", "many", "-H", H.q("Authorization: " .. h.Authorization),
      "-H", H.q("Ocp-Apim-Subscription-Key: " .. E.SOGET_API_KEY) }
    for _ = 1, 205 do
      a[#a + 1] = "-o /dev/null " .. H.q(E.SOGET_BASE_URL .. "/handling-units?reference=CGMU2436601")
    end
    H.sh(table.concat(a, " "))
    local j = H.control("/_control/log?since=0&agent=many").json
    assert.equal(205, j.seq)
    assert.equal(6, j.oldest)
    assert.equal(true, j.lost)
    assert.equal(200, #j.entries)
    assert.equal(false, H.control("/_control/log?since=5&agent=many").json.lost)
  end)
end)
