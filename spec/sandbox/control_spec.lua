-- The control endpoint: counters, the request log and reset.
package.path = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/sandbox") .. "/?.lua;" .. package.path
local H = require("helper")
local E = H.env()

-- n GETs of the same URL over one connection (one curl process)
local function same_connection(n, url, extra)
  local h = H.auth_headers()
  local a = { "curl", "-s", "-g", "--max-time", "15", "--cacert", H.q(E.SOGET_CA_FILE),
    "-H", H.q("Authorization: " .. h.Authorization),
    "-H", H.q("Ocp-Apim-Subscription-Key: " .. E.SOGET_API_KEY),
    "-w", H.q("%{http_code} %{num_connects}\\n"), extra or "" }
  for _ = 1, n do
    a[#a + 1] = "-o /dev/null"
    a[#a + 1] = H.q(url)
  end
  local out, code = H.sh(table.concat(a, " "))
  assert.equal(0, code)
  local connects = 0
  for status, c in out:gmatch("(%d+) (%d+)") do
    assert.equal("200", status)
    connects = connects + tonumber(c)
  end
  return connects
end

describe("sandbox control endpoint", function()
  local url = E.SOGET_BASE_URL .. "/handling-units?reference=MSCU&limit=10"

  before_each(function()
    H.cached_token()
    assert.equal(200, H.control("/_control/reset", "POST").status)
  end)

  it("reset clears the counters and the request log", function()
    H.api("reference=MSCU")
    local s = H.control("/_control/stats").json
    assert.equal(1, s.api_requests)
    assert.equal(200, H.control("/_control/reset", "POST").status)
    s = H.control("/_control/stats").json
    assert.equal(0, s.api_requests)
    assert.equal(0, s.token_requests)
    assert.equal(0, s.connections)
    assert.equal(0, s.faults)
    assert.equal(0, s.requests_per_connection.max)
    assert.same({}, H.control("/_control/requests?n=10").json)
    assert.equal(405, H.control("/_control/reset").status)
  end)

  it("counts API requests, connections and requests per connection over keep-alive", function()
    assert.equal(1, same_connection(7, url, "--http1.1"))
    local s = H.control("/_control/stats").json
    assert.equal(7, s.api_requests)
    assert.equal(1, s.connections)
    assert.equal(7, s.requests_per_connection.max)
    assert.equal(7, s.requests_per_connection.last)
    assert.equal(0, s.token_requests)
    assert.equal(7, s.statuses["200"])
  end)

  it("counts HTTP/2 streams on one connection as one connection", function()
    assert.equal(1, same_connection(4, url, "--http2"))
    local s = H.control("/_control/stats").json
    assert.equal(4, s.api_requests)
    assert.equal(1, s.connections)
  end)

  it("counts token requests, 401s and faulted requests; not control requests", function()
    H.token()
    H.api("reference=MSCU", { headers = {} })
    H.api("reference=MSCU", { base = H.fault_base("500") })
    H.control("/_control/info")
    H.control("/_control/units?reference=CGMU2436601")
    local s = H.control("/_control/stats").json
    assert.equal(1, s.token_requests)
    assert.equal(2, s.api_requests)
    assert.equal(1, s.faults)
    assert.equal(3, s.connections)
    assert.equal(1, s.tokens_issued)
    assert.equal(1, s.statuses["401"])
    assert.equal(1, s.statuses["500"])
  end)

  it("logs the last requests with method, path, query, headers, body and connection", function()
    H.token_request()
    H.api("reference=STL+0&limit=2&spi=MAR&spi=MAR0&x=%C3%A9", { args = { "--http1.1", "-H", "X-Test: yes" } })
    H.api("reference=MSCU", { base = H.fault_base("503-then-ok:n=1:id=" .. H.uid(), E.SOGET_SANDBOX_HTTP) })
    local log = H.control("/_control/requests?n=5").json
    assert.equal(3, #log)
    local t, a, f = log[1], log[2], log[3]

    assert.equal("POST", t.method)
    assert.equal("/soget-connect/v1/openid-connect/token", t.path)
    assert.truthy(t.body:find("client_id=" .. E.SOGET_CLIENT_ID, 1, true))
    assert.equal(200, t.status)

    assert.equal("GET", a.method)
    assert.equal("/api-tracing-code/v1/handling-units", a.path)
    assert.equal("reference=STL+0&limit=2&spi=MAR&spi=MAR0&x=%C3%A9", a.raw_query)
    assert.equal("STL 0", a.args.reference)
    assert.same({ "MAR", "MAR0" }, a.args.spi)
    assert.equal("é", a.args.x)
    assert.equal(E.SOGET_API_KEY, a.headers["ocp-apim-subscription-key"])
    assert.equal("yes", a.headers["x-test"])
    assert.truthy(a.headers.authorization:match("^Bearer "))
    assert.is_nil(a.body)
    assert.equal("https", a.scheme)
    assert.equal("1.1", a.http_version)
    assert.equal(1, a.connection_requests)
    assert.is_number(a.connection)
    assert.equal(200, a.status)

    assert.equal("http", f.scheme)
    assert.equal(503, f.status)
    assert.truthy(f.path:match("^/_fault/503%-then%-ok"))
    assert.truthy(f.fault:match("^503%-then%-ok"))
    assert.truthy(t.seq < a.seq and a.seq < f.seq)
  end)

  it("keeps at most 200 requests and returns the last N, oldest first", function()
    same_connection(5, url, "--http1.1")
    local log = H.control("/_control/requests?n=3").json
    assert.equal(3, #log)
    assert.equal(3, log[1].connection_requests)
    assert.equal(5, log[3].connection_requests)
    assert.equal(log[1].connection, log[3].connection)
    local many = H.control("/_control/requests?n=1000").json
    assert.equal(5, #many)
  end)

  it("keeps its counters when large bodies fill the log, which then says what it lost", function()
    for _ = 1, 3 do assert.equal(200, H.api("reference=MSCU&limit=1").status) end
    -- 200 token requests of 1 MB (the most a body may be): more than the
    -- log's dictionary holds, over one connection
    local body = os.tmpname()
    local f = assert(io.open(body, "wb"))
    f:write("client_id=", E.SOGET_CLIENT_ID, "&client_secret=", E.SOGET_CLIENT_SECRET,
      "&grant_type=client_credentials&pad=", string.rep("x", 1048576 - 200))
    f:close()
    local a = { "curl", "-s", "--max-time", "120", "--http1.1", "--data-binary", H.q("@" .. body),
      "-w", H.q("%{http_code}\n") }
    for _ = 1, 200 do a[#a + 1] = "-o /dev/null " .. H.q(E.SOGET_SANDBOX_HTTP .. "/soget-connect/v1/openid-connect/token") end
    local out, code = H.sh(table.concat(a, " "))
    os.remove(body)
    assert.equal(0, code)
    local _, ok = out:gsub("200\n", "")
    assert.equal(200, ok)
    local s = H.control("/_control/stats").json
    assert.equal(3, s.api_requests)
    assert.equal(200, s.token_requests)
    local log = H.control("/_control/log?since=0").json
    assert.equal(203, log.seq)
    assert.is_true(log.lost)
    assert.is_true(log.oldest > 4, log.oldest)
    -- what it keeps is every request from the oldest on, in order
    assert.equal(log.seq - log.oldest + 1, #log.entries)
    for i, e in ipairs(log.entries) do assert.equal(log.oldest + i - 1, e.seq) end
    assert.equal(#log.entries, s.logged)
    assert.is_false(H.control("/_control/log?since=" .. (log.oldest - 1)).json.lost)
  end)

  it("keeps every token it issued in its token log, through resets", function()
    local before = H.control("/_control/tokens").json
    assert.is_true(before.complete)
    assert.equal(before.issued, #before.tokens)
    local t1, t2 = H.token(), H.token()
    assert.equal(200, H.control("/_control/reset", "POST").status)
    local t3 = H.token()
    local log = H.control("/_control/tokens?after=" .. before.issued).json
    assert.same({ t1, t2, t3 }, log.tokens)
    assert.equal(before.issued + 3, log.issued)
    assert.is_true(log.complete)
    assert.equal(1, H.control("/_control/stats").json.tokens_issued)   -- the counter was reset
    assert.same({}, H.control("/_control/tokens?after=" .. (before.issued + 3)).json.tokens)
    assert.equal(before.issued + 3, #H.control("/_control/tokens?after=-5").json.tokens)
  end)

  it("counts TLS handshakes, and those that resumed a session", function()
    -- one curl process, two HTTPS connections (the second offers the
    -- first one's session), then a plain HTTP one
    local h = H.auth_headers()
    local a = { "curl", "-s", "-g", "--max-time", "15", "--http1.1", "--cacert", H.q(E.SOGET_CA_FILE),
      "-H", H.q("Authorization: " .. h.Authorization), "-H", H.q("Connection: close"),
      "-H", H.q("Ocp-Apim-Subscription-Key: " .. E.SOGET_API_KEY),
      "-w", H.q("%{http_code} %{num_connects}\\n"), "-o /dev/null", H.q(url), "-o /dev/null", H.q(url) }
    local out, code = H.sh(table.concat(a, " "))
    assert.equal(0, code)
    assert.equal("200 1\n200 1\n", out)
    assert.equal(200, H.api("reference=MSCU", { base = E.SOGET_SANDBOX_HTTP .. "/api-tracing-code/v1" }).status)
    local s = H.control("/_control/stats").json
    assert.equal(3, s.connections)
    assert.equal(2, s.tls_handshakes)
    assert.equal(1, s.tls_resumed)
  end)

  it("lists full unit records for a prefix", function()
    local r = H.control("/_control/units?reference=cgmu2436601")
    assert.equal(1, r.json.total)
    assert.equal("CNI0000063978", r.json.items[1].pswId)
    local info = H.control("/_control/info").json
    assert.equal("MSCU", info.big_prefix)
    assert.is_number(info.seed)
    assert.is_number(info.units)
  end)
end)
