-- Every fault the sandbox can inject behaves as documented in sandbox/README.md.
package.path = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/sandbox") .. "/?.lua;" .. package.path
local H = require("helper")
local E = H.env()

local Q = "reference=MSCU&limit=5"

local function fault(spec, query, o)
  o = o or {}
  o.base = H.fault_base(spec, o.origin)
  return H.api(query or Q, o)
end

local function id() return "id=" .. H.uid() end

describe("sandbox faults", function()
  local normal

  setup(function()
    normal = H.api(Q)
    assert.equal(200, normal.status)
  end)

  describe("status faults", function()
    it("500 every time", function()
      for _ = 1, 2 do
        local r = fault("500")
        assert.equal(500, r.status)
        assert.equal("InternalServerError", r.json.status)
        assert.equal("application/json; charset=utf-8", r.headers["content-type"])
      end
    end)

    it("503-then-ok: the first n requests get 503, then success (default n=1)", function()
      local spec = "503-then-ok:n=2:" .. id()
      assert.equal(503, fault(spec).status)
      local r = fault(spec)
      assert.equal(503, r.status)
      assert.equal("ServiceUnavailable", r.json.status)
      local ok = fault(spec)
      assert.equal(200, ok.status)
      assert.equal(normal.body, ok.body)
      local spec1 = "503-then-ok:" .. id()
      assert.equal(503, fault(spec1).status)
      assert.equal(200, fault(spec1).status)
    end)

    it("keeps the state of an id or a spec of any length (a digest past 250 bytes)", function()
      -- (over plain HTTP/1.1: libcurl sends no HTTP/2 header block past 64 KB)
      local plain = { origin = E.SOGET_SANDBOX_HTTP }
      for _, spec in ipairs({ "503-then-ok:id=" .. H.uid() .. ("a"):rep(70000),
                              "503-then-ok:salt=" .. H.uid() .. ("b"):rep(70000) }) do
        local r = fault(spec, Q, plain)
        assert.equal(503, r.status, r.body:sub(1, 200))
        assert.equal("ServiceUnavailable", r.json.status)
        assert.equal(200, fault(spec, Q, plain).status)
      end
      local spec = "inconsistent:mode=total-grows:id=" .. H.uid() .. ("c"):rep(70000)
      local a, b = fault(spec, Q, plain), fault(spec, Q, plain)
      assert.equal(200, a.status)
      assert.equal(200, b.status)
      assert.truthy(b.json.total > a.json.total)
    end)

    it("takes n=nan, and a retry-date that is no number, for the default", function()
      assert.equal(500, fault("500:n=nan:" .. id()).status)
      assert.equal(500, fault("500:n=inf:" .. id()).status)
      local spec = "503-then-ok:n=nan:" .. id()
      assert.equal(503, fault(spec).status)
      assert.equal(200, fault(spec).status)
      for _, v in ipairs({ "nan", "1e300", "-1e11", "x" }) do
        local r = fault("429:retry-date=" .. v)
        assert.equal(429, r.status)
        assert.falsy(r.headers["retry-after"]:find("1970", 1, true), v .. ": " .. r.headers["retry-after"])
      end
    end)

    it("keys state by the whole spec when there is no id", function()
      local spec = "503-then-ok:n=1:salt=" .. H.uid()
      assert.equal(503, fault(spec).status)
      assert.equal(200, fault(spec).status)
    end)

    it("429 with Retry-After in seconds", function()
      local spec = "429:n=1:retry-after=7:" .. id()
      local r = fault(spec)
      assert.equal(429, r.status)
      assert.equal("7", r.headers["retry-after"])
      assert.equal("TooManyRequests", r.json.status)
      assert.equal(200, fault(spec).status)
    end)

    it("429 with a second Retry-After line (again)", function()
      local r = fault("429:retry-after=1:again=3")
      assert.equal(429, r.status)
      local lines = {}
      for v in r.raw_headers:gmatch("\n[Rr]etry%-[Aa]fter: *([^\r\n]*)") do lines[#lines + 1] = v end
      assert.are.same({ "1", "3" }, lines)
    end)

    it("429 with Retry-After as an HTTP-date", function()
      local r = fault("429:n=1:retry-date=30:" .. id())
      assert.equal(429, r.status)
      local ra = r.headers["retry-after"]
      assert.truthy(ra:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$"), ra)
      local function secs(d)
        local hh, mm, ss = d:match("(%d%d):(%d%d):(%d%d) GMT$")
        return hh * 3600 + mm * 60 + ss
      end
      local diff = (secs(ra) - secs(r.headers["date"])) % 86400
      assert.truthy(diff >= 29 and diff <= 31, "Retry-After " .. ra .. " vs Date " .. r.headers["date"])
    end)

    it("429 without n answers 429 every time with a default Retry-After", function()
      local r = fault("429")
      assert.equal(429, r.status)
      assert.equal("1", r.headers["retry-after"])
      assert.equal(429, fault("429").status)
    end)

    it("502, 504 and 408 with n", function()
      for _, code in ipairs({ 502, 504, 408 }) do
        local spec = code .. ":n=1:" .. id()
        assert.equal(code, fault(spec).status)
        assert.equal(200, fault(spec).status)
      end
    end)

    it("403 with valid credentials", function()
      local r = fault("403")
      assert.equal(403, r.status)
      assert.equal("Forbidden", r.json.status)
    end)

    it("still checks credentials before a status fault", function()
      local r = fault("500", Q, { headers = { ["Ocp-Apim-Subscription-Key"] = E.SOGET_API_KEY } })
      assert.equal(401, r.status)
    end)

    it("works the same from the X-Sandbox-Fault header and on plain HTTP", function()
      local h = H.auth_headers()
      h["X-Sandbox-Fault"] = "503-then-ok:n=1:" .. id()
      assert.equal(503, H.api(Q, { headers = h }).status)
      assert.equal(200, H.api(Q, { headers = h }).status)
      assert.equal(500, fault("500", Q, { origin = E.SOGET_SANDBOX_HTTP }).status)
    end)

    it("combines faults joined by commas", function()
      local spec = "503-then-ok:n=1:" .. id() .. ",delay:ms=200"
      local r = fault(spec)
      assert.equal(503, r.status)
      assert.truthy(r.time >= 0.19)
      r = fault(spec)
      assert.equal(200, r.status)
      assert.truthy(r.time >= 0.19)
    end)

    it("rejects an unknown fault name with 400", function()
      local r = fault("no-such-fault")
      assert.equal(400, r.status)
      assert.truthy(r.json.message:find("no-such-fault", 1, true))
    end)
  end)

  describe("timing and connection faults", function()
    it("delay waits without blocking the server", function()
      local r = fault("delay:ms=400")
      assert.equal(200, r.status)
      assert.truthy(r.time >= 0.39, tostring(r.time))
      -- a long delayed request in the background does not hold up another one
      local url = H.fault_base("delay:ms=2000") .. "/handling-units?" .. Q
      local h = H.auth_headers()
      local bg = table.concat({ "curl", "-s", "-o", "/dev/null", "--max-time", "5", "--cacert",
        H.q(E.SOGET_CA_FILE), "-H", H.q("Authorization: " .. h.Authorization), "-H",
        H.q("Ocp-Apim-Subscription-Key: " .. E.SOGET_API_KEY), H.q(url) }, " ")
      H.sh("(" .. bg .. " >/dev/null 2>&1 &)")
      H.sleep(0.2)
      local quick = H.api(Q)
      assert.equal(200, quick.status)
      assert.truthy(quick.time < 1.0, "request waited for the delayed one: " .. quick.time)
    end)

    it("trickle sends the body slowly but completely", function()
      local r = fault("trickle:bps=8000", "reference=CGMU2436601")
      assert.equal(200, r.status)
      assert.equal(#r.body, tonumber(r.headers["content-length"]))
      assert.truthy(r.time >= 0.2, tostring(r.time))
      assert.equal(1, r.json.returned)
    end)

    it("reset closes the connection without a response (curl exit 52)", function()
      local r = fault("reset", Q, { args = { "--http1.1" } })
      assert.equal(52, r.exit)
      r = fault("reset", Q, { origin = E.SOGET_SANDBOX_HTTP })
      assert.equal(52, r.exit)
    end)

    it("truncate sends about half of the announced body (curl exit 18)", function()
      local r = fault("truncate", Q, { args = { "--http1.1" } })
      assert.equal(18, r.exit)
      assert.equal(200, r.status)
      local announced = tonumber(r.headers["content-length"])
      assert.truthy(announced > 1000)
      assert.truthy(#r.body >= announced / 2 - 1 and #r.body < announced, #r.body .. " of " .. announced)
      -- even when the client accepts gzip
      r = fault("truncate", Q, { origin = E.SOGET_SANDBOX_HTTP, args = { "--compressed" } })
      assert.equal(18, r.exit)
    end)

    it("redirect answers 307 to the given URL", function()
      local target = E.SOGET_BASE_URL .. "/handling-units?" .. Q
      local enc = target:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end)
      local r = fault("redirect:to=" .. enc)
      assert.equal(307, r.status)
      assert.equal(target, r.headers["location"])
      local followed = fault("redirect:to=" .. enc, Q, { args = { "-L" } })
      assert.equal(200, followed.status)
      assert.equal(normal.body, followed.body)
      -- keep=path appends the path after the fault prefix and the query
      local origin = E.SOGET_SANDBOX_HTTPS:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end)
      local k = fault("redirect:to=" .. origin .. ":keep=path")
      assert.equal(307, k.status)
      assert.equal(E.SOGET_BASE_URL .. "/handling-units?" .. Q, k.headers["location"])
    end)
  end)

  describe("body faults", function()
    it("malformed answers 200 with invalid JSON", function()
      local r = fault("malformed")
      assert.equal(200, r.status)
      assert.is_nil(H.json(r.body))
      assert.equal(#r.body, tonumber(r.headers["content-length"]))
    end)

    it("wrong-types changes one field's JSON type (default items[2].events[1].eventDate)", function()
      local r = fault("wrong-types")
      assert.equal(200, r.status)
      assert.is_number(r.json.items[2].events[1].eventDate)
      assert.is_string(r.json.items[1].events[1].eventDate)
      local t = fault("wrong-types:field=total")
      assert.is_string(t.json.total)
      local i = fault("wrong-types:field=items")
      assert.is_nil(i.json.items[1])
      local b = fault("wrong-types:field=items[1].indicators.hazardous")
      assert.is_string(b.json.items[1].indicators.hazardous)
      local missing = fault("wrong-types:field=items[10].reference")
      assert.equal(400, missing.status)
    end)

    it("nulls sets every nullable field to null and keeps the rest", function()
      local r = fault("nulls")
      assert.equal(200, r.status)
      local u = r.json.items[1]
      for _, k in ipairs({ "reference", "pswId", "sizeType", "packagingCode", "references",
        "shipments", "events", "hazardousItems" }) do
        assert.equal(H.null, u[k], k)
      end
      assert.equal("Container", u.freightFamily)
      assert.equal(H.null, u.measures.quantity)
      assert.equal(H.null, u.measures.weight.tare.value)
      assert.equal(H.null, u.transport.meansName)
      assert.equal(H.null, u.transport.voyageDates.eta)
      assert.equal(H.null, u.huLocation.place)
      assert.is_boolean(u.indicators.hazardous)
      assert.equal(5, #r.json.items)
      local items = fault("nulls:items=null")
      assert.equal(H.null, items.json.items)
      local err = fault("nulls", "reference=ZZZZ")
      assert.equal(404, err.status)
      assert.equal(H.null, err.json.code)
      assert.is_string(err.json.timestamp)
    end)

    it("extra-fields adds unknown fields at every object level", function()
      local r = fault("extra-fields", "reference=CGMU2436601")
      assert.equal(200, r.status)
      local j = r.json
      assert.is_table(j.sandboxExtra)
      local u = j.items[1]
      for _, o in ipairs({ u, u.measures, u.measures.weight, u.measures.weight.tare, u.indicators,
        u.huLocation, u.transport, u.transport.voyageDates, u.transport.meansId[1], u.events[1],
        u.shipments[1], u.hazardousItems[1], u.emptyReturn, u.references[1] }) do
        assert.is_table(o.sandboxExtra)
      end
      assert.equal("CGMU2436601", u.reference)
    end)

    it("large gives every unit N events in time order", function()
      local r = fault("large:events=300", "reference=MSCU&limit=3")
      assert.equal(200, r.status)
      for _, u in ipairs(r.json.items) do
        assert.equal(300, #u.events)
        for k = 2, #u.events do
          assert.truthy(H.epoch(u.events[k].eventDate) >= H.epoch(u.events[k - 1].eventDate))
        end
      end
    end)

    it("huge pads a valid JSON body to N bytes", function()
      local r = fault("huge:bytes=3000000")
      assert.equal(200, r.status)
      assert.equal(3000000, #r.body)
      assert.equal(5, r.json.returned)
      assert.is_string(r.json.sandboxPadding)
    end)

    it("no-total leaves the total out of a page, and nothing else", function()
      local r = fault("no-total", "reference=MSCU&limit=3")
      assert.equal(200, r.status)
      assert.is_nil(r.json.total)
      assert.equal(3, r.json.returned)
      assert.equal(0, r.json.first)
      assert.equal(3, #r.json.items)
    end)

    it("many-items puts N empty units before the page's own, whatever the limit", function()
      local r = fault("many-items:n=25", "reference=MSCU&limit=3")
      assert.equal(200, r.status)
      assert.equal(28, #r.json.items)
      for i = 1, 25 do assert.same({}, r.json.items[i]) end
      assert.equal("table", type(r.json.items[26]))
      assert.truthy(r.json.items[26].reference:find("^MSCU"))
      assert.equal(3, r.json.returned)
      -- a page with no units of its own (past a listing's end): only the N
      local none = fault("many-items:n=2", "reference=CGMU2436601&offset=5")
      assert.equal(200, none.status)
      assert.equal(2, #none.json.items)
      assert.equal(0, none.json.returned)
    end)

    it("deep nests JSON N levels in an unknown field", function()
      local r = fault("deep:depth=5000")
      assert.equal(200, r.status)
      assert.truthy(r.body:find(string.rep("[", 5000) .. string.rep("]", 5000) .. "}", 1, true))
      local small = fault("deep:depth=100")
      local d, v = 0, small.json.sandboxDeep
      while type(v) == "table" and d < 1000 do d = d + 1; v = v[1] end
      assert.equal(100, d)
    end)
  end)

  describe("paging faults", function()
    local Q10 = "reference=MSCU&limit=10"

    it("inconsistent:mode=first answers first != offset", function()
      local r = fault("inconsistent:mode=first", Q10 .. "&offset=20")
      assert.equal(21, r.json.first)
      assert.equal(10, r.json.returned)
    end)

    it("inconsistent:mode=returned answers returned != number of items", function()
      local r = fault("inconsistent:mode=returned", Q10)
      assert.equal(11, r.json.returned)
      assert.equal(10, #r.json.items)
    end)

    it("inconsistent:mode=total-grows increases total on every request", function()
      local spec = "inconsistent:mode=total-grows:" .. id()
      local a = fault(spec, Q10).json.total
      local b = fault(spec, Q10 .. "&offset=10").json.total
      local c = fault(spec, Q10 .. "&offset=20").json.total
      assert.truthy(a < b and b < c)
    end)

    it("inconsistent:mode=stuck answers the first page whatever the offset", function()
      local first = H.api(Q10).json
      local r = fault("inconsistent:mode=stuck", Q10 .. "&offset=30").json
      assert.equal(30, r.first)
      assert.same(first.items, r.items)
    end)

    it("inconsistent:mode=short answers returned 0 with total > offset", function()
      local r = fault("inconsistent:mode=short", Q10 .. "&offset=10").json
      assert.equal(0, r.returned)
      assert.same({}, r.items)
      assert.truthy(r.total > 10)
    end)

    it("shift makes units of the previous page re-appear", function()
      local p1 = H.api(Q10).json
      local r = fault("shift:n=3", Q10 .. "&offset=10").json
      assert.equal(p1.total + 3, r.total)
      assert.equal(10, r.first)
      for k = 1, 3 do assert.equal(p1.items[7 + k].pswId, r.items[k].pswId) end
      local f = fault("shift:n=3", Q10).json
      assert.same(p1, f)
    end)

    it("repeat-unit puts the listing's first unit on every page", function()
      local p1 = H.api(Q10).json
      local u = p1.items[1].pswId
      local r = fault("repeat-unit", Q10 .. "&offset=20").json
      assert.equal(20, r.first)
      assert.equal(10, r.returned)
      assert.equal(10, #r.items)
      assert.equal(p1.total, r.total)
      assert.equal(u, r.items[1].pswId)
      local p3 = H.api(Q10 .. "&offset=20").json
      for k = 2, 10 do assert.equal(p3.items[k - 1].pswId, r.items[k].pswId) end
      assert.same(p1, fault("repeat-unit", Q10).json)        -- already the first unit
      local d = H.api(Q10 .. "&desc=true").json.items[1].pswId
      assert.equal(d, fault("repeat-unit", Q10 .. "&desc=true&offset=30").json.items[1].pswId)
      for _, off in ipairs{ 0, 1, 57, p1.total, 200 } do   -- keep=0: only that unit, past the end too
        local o = fault("repeat-unit:keep=0:total=201", Q10 .. "&offset=" .. off).json
        assert.equal(201, o.total)
        assert.equal(off, o.first)
        assert.equal(1, o.returned)
        assert.equal(1, #o.items)
        assert.equal(u, o.items[1].pswId)
      end
      local k3 = fault("repeat-unit:keep=3", Q10 .. "&offset=10").json
      assert.equal(4, k3.returned)
      assert.equal(4, #k3.items)
    end)

    it("takes a numeric parameter as a whole number in range, and nan as none", function()
      local p1 = H.api(Q10).json
      local r = fault("shift:n=nan", Q10 .. "&offset=10")          -- the default, 1
      assert.equal(200, r.status)
      assert.equal(p1.total + 1, r.json.total)
      r = fault("shift:n=2.7", Q10 .. "&offset=10")
      assert.equal(p1.total + 2, r.json.total)
      r = fault("shift:n=inf", Q10 .. "&offset=10")                -- at most 2^31 - 1
      assert.equal(200, r.status)
      assert.is_number(r.json.total)
      r = fault("repeat-unit:total=nan", Q10)
      assert.equal(p1.total, r.json.total)
      r = fault("delay:ms=nan:id=" .. H.uid(), Q10)                 -- the default, 1 s
      assert.equal(200, r.status)
      assert.truthy(r.time >= 0.9, r.time)
    end)

    it("expire-token makes the bearer token invalid after N requests", function()
      local tok = H.token()
      local spec = "expire-token:after=2:" .. id()
      assert.equal(200, fault(spec, Q, { token = tok }).status)
      assert.equal(200, fault(spec, Q, { token = tok }).status)
      local r = fault(spec, Q, { token = tok })
      assert.equal(401, r.status)
      assert.truthy(r.headers["www-authenticate"]:match('error="invalid_token"'))
      assert.equal(401, H.api(Q, { token = tok }).status)
      local fresh = H.token()
      assert.equal(200, fault(spec, Q, { token = fresh }).status)
    end)
  end)

  it("big-header sends a response header of the size asked for", function()
    local r = fault("big-header:bytes=5000")
    assert.equal(200, r.status)
    assert.equal(5000, #r.headers["x-sandbox-big"])
  end)

  describe("token endpoint faults", function()
    it("token-ttl issues a token with the given lifetime", function()
      local _, j = H.token({ url = H.fault_token_url("token-ttl:s=42") })
      assert.equal(42, j.expires_in)
    end)

    it("bad-token-json answers 200 with a malformed body", function()
      local r = H.token_request({ url = H.fault_token_url("bad-token-json") })
      assert.equal(200, r.status)
      assert.is_nil(H.json(r.body))
    end)

    it("token-type sets the answer's token_type", function()
      local _, j = H.token({ url = H.fault_token_url("token-type") })
      assert.equal("mac", j.token_type)
      _, j = H.token({ url = H.fault_token_url("token-type:type=DPoP") })
      assert.equal("DPoP", j.token_type)
      _, j = H.token()
      assert.equal("Bearer", j.token_type)
    end)

    it("big-token pads the access_token to the size asked for", function()
      local r, j = H.token_request({ url = H.fault_token_url("big-token:bytes=100000") })
      assert.equal(200, r.status)
      assert.equal(100000, #j.access_token)
    end)

    it("status faults apply to the token URL with OAuth-style bodies", function()
      local url = H.fault_token_url("503-then-ok:n=1:" .. id())
      local r, j = H.token_request({ url = url })
      assert.equal(503, r.status)
      assert.equal("temporarily_unavailable", j.error)
      local ok, j2 = H.token_request({ url = url })
      assert.equal(200, ok.status)
      assert.is_string(j2.access_token)
      local t = H.token_request({ url = H.fault_token_url("429:retry-after=3") })
      assert.equal(429, t.status)
      assert.equal("3", t.headers["retry-after"])
    end)

    it("wrong-types on the token URL makes expires_in a string", function()
      local _, j = H.token_request({ url = H.fault_token_url("wrong-types") })
      assert.is_string(j.expires_in)
    end)

    it("reset and truncate apply to the token URL", function()
      assert.equal(52, H.token_request({ url = H.fault_token_url("reset", E.SOGET_SANDBOX_HTTP) }).exit)
      assert.equal(18, H.token_request({ url = H.fault_token_url("truncate", E.SOGET_SANDBOX_HTTP) }).exit)
    end)
  end)
end)
