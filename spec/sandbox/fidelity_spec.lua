-- The sandbox behaves like the API in the OpenAPI document, and what it
-- sends validates against the document's response schemas.
package.path = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/sandbox") .. "/?.lua;" .. package.path
local H = require("helper")
local E = H.env()

-- ISO 6346 check digit, written out here on purpose (not shared with the
-- sandbox code).
local function iso6346_ok(ref)
  local owner, serial, check = ref:match("^(%u%u%u[UJZ])(%d%d%d%d%d%d)(%d)$")
  if not owner then return false end
  local code = owner .. serial
  local values, v = {}, 10
  for c in ("ABCDEFGHIJKLMNOPQRSTUVWXYZ"):gmatch(".") do
    if v % 11 == 0 then v = v + 1 end
    values[c] = v
    v = v + 1
  end
  local sum = 0
  for i = 1, 10 do
    local c = code:sub(i, i)
    sum = sum + (values[c] or tonumber(c)) * 2 ^ (i - 1)
  end
  return math.floor(sum) % 11 % 10 == tonumber(check)
end

local ISO_DT = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%+%-]%d%d:%d%d$"

local function is_locode(s) return type(s) == "string" and s:match("^%u%u[%u2-9][%u2-9][%u2-9]$") ~= nil end

describe("sandbox fidelity", function()
  local big_total

  it("serves the OpenAPI document at /openapi.json on both origins", function()
    local want = H.slurp(H.root .. "/sandbox/openapi.json")
    for _, origin in ipairs({ E.SOGET_SANDBOX_HTTP, E.SOGET_SANDBOX_HTTPS }) do
      local r = H.curl(origin .. "/openapi.json")
      assert.equal(200, r.status)
      assert.equal(want, r.body)
      assert.equal("application/json; charset=utf-8", r.headers["content-type"])
    end
  end)

  describe("token endpoint", function()
    it("issues a bearer token for form credentials", function()
      local r, j = H.token_request()
      assert.equal(200, r.status)
      assert.equal("application/json; charset=utf-8", r.headers["content-type"])
      assert.is_string(j.access_token)
      assert.truthy(#j.access_token >= 32)
      assert.equal("Bearer", j.token_type)
      assert.equal(3600, j.expires_in)
    end)

    it("accepts grant_type=client_credentials and HTTP Basic credentials", function()
      local r = H.token_request({ form = "grant_type=client_credentials&client_id=" ..
        E.SOGET_CLIENT_ID .. "&client_secret=" .. E.SOGET_CLIENT_SECRET })
      assert.equal(200, r.status)
      local basic = H.sh("printf '%s' " .. H.q(E.SOGET_CLIENT_ID .. ":" .. E.SOGET_CLIENT_SECRET) .. " | base64 -w0")
      local r2, j2 = H.token_request({ form = "grant_type=client_credentials",
        headers = { Authorization = "Basic " .. basic } })
      assert.equal(200, r2.status)
      assert.is_string(j2.access_token)
    end)

    it("takes a parameter sent without a value as omitted (RFC 6749 3.1)", function()
      local basic = H.sh("printf '%s' " .. H.q(E.SOGET_CLIENT_ID .. ":" .. E.SOGET_CLIENT_SECRET) .. " | base64 -w0")
      for _, form in ipairs({ "grant_type=client_credentials&client_secret=",
                              "grant_type=client_credentials&client_id=", "grant_type=" }) do
        local r, j = H.token_request({ form = form, headers = { Authorization = "Basic " .. basic } })
        assert.equal(200, r.status, form .. ": " .. r.body)
        assert.is_string(j.access_token)
      end
      local r = H.token_request({ form = "client_id=" .. E.SOGET_CLIENT_ID .. "&client_secret=" })
      assert.equal(401, r.status)
    end)

    it("answers 401 invalid_client for wrong credentials", function()
      local r, j = H.token_request({ form = "client_id=" .. E.SOGET_CLIENT_ID .. "&client_secret=wrong" })
      assert.equal(401, r.status)
      assert.equal("invalid_client", j.error)
      assert.is_string(j.error_description)
      r, j = H.token_request({ form = "client_id=nobody&client_secret=" .. E.SOGET_CLIENT_SECRET })
      assert.equal(401, r.status)
      assert.equal("invalid_client", j.error)
      r, j = H.token_request({ form = "" })
      assert.equal(401, r.status)
      assert.equal("invalid_client", j.error)
    end)

    it("answers 400 invalid_request for what RFC 6749 forbids", function()
      local creds = "client_id=" .. E.SOGET_CLIENT_ID .. "&client_secret=" .. E.SOGET_CLIENT_SECRET
      local basic = H.sh("printf '%s' " .. H.q(E.SOGET_CLIENT_ID .. ":" .. E.SOGET_CLIENT_SECRET) .. " | base64 -w0")
      for _, c in ipairs {
        { "a parameter twice", { form = "grant_type=client_credentials&grant_type=password&" .. creds },
          "Parameter 'grant_type' is repeated." },
        { "the secret twice", { form = creds .. "&client_secret=zzz" }, "Parameter 'client_secret' is repeated." },
        { "two ways of authenticating", { form = "grant_type=client_credentials&" .. creds,
          headers = { Authorization = "Basic " .. basic } },
          "The client authenticated in more than one way (HTTP Basic and client_secret)." },
        { "a client_id not Basic's", { form = "grant_type=client_credentials&client_id=other",
          headers = { Authorization = "Basic " .. basic } },
          "client_id is not the client of the HTTP Basic credentials." },
        { "a body that is not a form", { form = creds, headers = { ["Content-Type"] = "application/json" } },
          "The parameters must be sent as application/x-www-form-urlencoded." },
      } do
        local r, j = H.token_request(c[2])
        assert.equal(400, r.status, c[1])
        assert.equal("invalid_request", j.error, c[1])
        assert.equal(c[3], j.error_description, c[1])
      end
      -- the form's content type with a charset is a form
      local r = H.token_request { form = creds, headers = { ["Content-Type"] =
        "application/x-www-form-urlencoded; charset=UTF-8" } }
      assert.equal(200, r.status)
    end)

    it("tells a client that tried the Authorization header how to authenticate", function()
      for _, auth in ipairs { "Basic Zm9v", "Basic " .. H.sh("printf 'x:y' | base64 -w0"), "Bearer abc" } do
        local r, j = H.token_request { form = "grant_type=client_credentials",
          headers = { Authorization = auth } }
        assert.equal(401, r.status, auth)
        assert.equal("invalid_client", j.error)
        assert.equal('Basic realm="soget-sandbox"', r.headers["www-authenticate"], auth)
      end
      local r = H.token_request { form = "client_id=nobody&client_secret=x" }
      assert.equal(401, r.status)
      assert.is_nil(r.headers["www-authenticate"])
    end)

    it("answers 400 unsupported_grant_type for another grant", function()
      local r, j = H.token_request({ form = "grant_type=password&client_id=" .. E.SOGET_CLIENT_ID ..
        "&client_secret=" .. E.SOGET_CLIENT_SECRET })
      assert.equal(400, r.status)
      assert.equal("unsupported_grant_type", j.error)
    end)

    it("issues distinct tokens", function()
      assert.are_not.equal(H.token(), H.token())
    end)
  end)

  describe("authentication of handling-units", function()
    local q = "reference=CGMU2436601"

    local function assert_401(r, bearer_problem)
      assert.equal(401, r.status)
      assert.equal("Unauthorized", r.json.status)
      assert.equal(H.null, r.json.code)
      assert.is_string(r.json.message)
      if bearer_problem then
        assert.truthy((r.headers["www-authenticate"] or ""):match("^Bearer"))
      end
    end

    it("requires both the bearer token and the subscription key", function()
      local tok = H.cached_token()
      assert_401(H.api(q, { headers = {} }))
      assert_401(H.api(q, { headers = { Authorization = "Bearer " .. tok } }))
      assert_401(H.api(q, { headers = { ["Ocp-Apim-Subscription-Key"] = E.SOGET_API_KEY } }), true)
      assert_401(H.api(q, { headers = { Authorization = "Bearer " .. tok, ["Ocp-Apim-Subscription-Key"] = "nope" } }))
      local key = E.SOGET_API_KEY
      assert_401(H.api(q, { headers = { Authorization = "Bearer bad-token",
        ["Ocp-Apim-Subscription-Key"] = key } }), true)
      assert_401(H.api(q, { headers = { Authorization = "Basic " .. tok, ["Ocp-Apim-Subscription-Key"] = key } }), true)
      local ok = H.api(q)
      assert.equal(200, ok.status)
    end)

    it("rejects a token once it has expired", function()
      local tok, j = H.token({ url = H.fault_token_url("token-ttl:s=1") })
      assert.equal(1, j.expires_in)
      assert.equal(200, H.api(q, { token = tok }).status)
      H.sleep(2.2)
      local r = H.api(q, { token = tok })
      assert_401(r, true)
      assert.truthy(r.headers["www-authenticate"]:match('error="invalid_token"'))
      assert.equal(200, H.api(q).status)
    end)

    it("refuses a long unknown bearer token as any other (401), not as a too large header", function()
      -- (over HTTP/1.1: curl's nghttp2 sends no HTTP/2 header block past 64 KB)
      local r = H.api("reference=CGMU2436601&limit=1", { token = string.rep("a", 65536),
        base = E.SOGET_SANDBOX_HTTP .. "/api-tracing-code/v1" })
      assert_401(r, true)
      assert.truthy(r.headers["www-authenticate"]:match('error="invalid_token"'))
    end)
  end)

  describe("query", function()
    it("applies the spec's defaults (limit 5, offset 0, ascending)", function()
      local r = H.api("reference=MSCU")
      assert.equal(200, r.status)
      assert.equal(5, r.json.returned)
      assert.equal(0, r.json.first)
      assert.equal(5, #r.json.items)
      assert.truthy(r.json.total > 100)
      big_total = r.json.total
    end)

    it("pages through a prefix with more than 100 units: numbers right, no duplicates, sorted", function()
      local total = H.api("reference=MSCU&limit=1").json.total
      assert.truthy(total > 100)
      local seen, order, offset, pages = {}, {}, 0, 0
      local deadline = os.time() + 60
      while offset < total and pages < 100 and os.time() < deadline do
        local r = H.api("reference=MSCU&limit=10&offset=" .. offset)
        assert.equal(200, r.status)
        local j = r.json
        assert.equal(total, j.total)
        assert.equal(offset, j.first)
        assert.equal(math.min(10, total - offset), j.returned)
        assert.equal(j.returned, #j.items)
        for _, u in ipairs(j.items) do
          assert.equal("MSCU", u.reference:sub(1, 4))
          assert.is_nil(seen[u.pswId])
          seen[u.pswId] = true
          order[#order + 1] = u
        end
        offset = offset + j.returned
        pages = pages + 1
      end
      assert.equal(total, #order)
      for i = 2, #order do
        local a, b = order[i - 1], order[i]
        assert.truthy(a.reference < b.reference or (a.reference == b.reference and a.pswId < b.pswId))
      end
      local all = H.control("/_control/units?reference=MSCU")
      assert.equal(total, all.json.total)
    end)

    it("answers an empty page past the end", function()
      local total = H.api("reference=MSCU&limit=1").json.total
      local r = H.api("reference=MSCU&offset=" .. total)
      assert.equal(200, r.status)
      assert.equal(0, r.json.returned)
      assert.equal(total, r.json.first)
      assert.same({}, r.json.items)
    end)

    it("reverses the order with desc=true (case-insensitive)", function()
      local total = H.api("reference=MSCU&limit=1").json.total
      local asc = H.api("reference=MSCU&limit=10&offset=" .. (total - 10)).json.items
      local desc = H.api("reference=MSCU&limit=10&desc=TRUE").json.items
      assert.equal(10, #desc)
      for i = 1, 10 do assert.equal(asc[11 - i].pswId, desc[i].pswId) end
      assert.equal(H.api("reference=MSCU&limit=3").body, H.api("reference=MSCU&limit=3&desc=False").body)
    end)

    it("filters by reference and spi prefixes, case-insensitively", function()
      local r = H.api("reference=cgmu2436601")
      assert.equal(1, r.json.total)
      assert.equal("CGMU2436601", r.json.items[1].reference)
      assert.equal("CNI0000063978", r.json.items[1].pswId)
      r = H.api("spi=cni0000063978")
      assert.equal(1, r.json.total)
      assert.equal("CGMU2436601", r.json.items[1].reference)
      r = H.api("reference=CGMU&spi=CNI0000063")
      assert.equal(1, r.json.total)
      r = H.api("spi=MAR&limit=10")
      assert.equal(200, r.status)
      for _, u in ipairs(r.json.items) do assert.equal("MAR", u.pswId:sub(1, 3)) end
      -- the spec's sample request
      r = H.api("reference=CGMU2436601&spi=CNI0000063978&limit=5&offset=0&desc=true")
      assert.equal(200, r.status)
      assert.equal(1, r.json.returned)
    end)

    it("decodes + in the query string as a space", function()
      local plus = H.api("reference=STL+0&limit=10")
      local pct = H.api("reference=STL%200&limit=10")
      assert.equal(200, plus.status)
      assert.truthy(plus.json.total > 0)
      assert.equal(pct.json.total, plus.json.total)
      for _, u in ipairs(plus.json.items) do assert.equal("STL 0", u.reference:sub(1, 5)) end
    end)
  end)

  describe("errors", function()
    local function assert_error(r, status, st, code, word)
      assert.equal(status, r.status)
      assert.equal("application/json; charset=utf-8", r.headers["content-type"])
      assert.equal(st, r.json.status)
      assert.equal(code or H.null, r.json.code)
      -- seven digits of a second, as the API writes them; milliseconds
      -- known (never a float's .4279999)
      assert.truthy(r.json.timestamp:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d0000Z$"),
        r.json.timestamp)
      if word then assert.truthy(r.json.message:find(word, 1, true), r.json.message) end
    end

    it("R001 when nothing matches", function()
      assert_error(H.api("reference=ZZZZ0000000"), 404, "NotFound", "R001")
      assert_error(H.api("spi=XYZ9"), 404, "NotFound", "R001")
    end)

    it("R002 when neither reference nor spi is given", function()
      assert_error(H.api(nil), 400, "BadRequest", "R002")
      assert_error(H.api("reference=&spi="), 400, "BadRequest", "R002")
      assert_error(H.api("limit=3"), 400, "BadRequest", "R002")
    end)

    it("R003 when the reference or spi is badly formatted", function()
      assert_error(H.api("reference=" .. string.rep("A", 18)), 400, "BadRequest", "R003")
      assert_error(H.api("spi=" .. string.rep("A", 14)), 400, "BadRequest", "R003")
      assert_error(H.api("spi=CNI-000"), 400, "BadRequest", "R003")
      assert.equal(404, H.api("reference=" .. string.rep("A", 17)).status)
      -- 17 characters as the document's maxLength counts them, not bytes
      assert.equal(404, H.api("reference=" .. string.rep("%C3%89", 17)).status)
      assert_error(H.api("reference=" .. string.rep("%C3%89", 18)), 400, "BadRequest", "R003")
    end)

    it("405 for a method the document does not describe", function()
      -- (TRACE: nginx refuses it before any location; the API's 405 still)
      for _, m in ipairs({ "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE" }) do
        local r = H.api("reference=CGMU2436601&limit=1", { method = m })
        assert_error(r, 405, "MethodNotAllowed", nil, m)
        assert.equal("GET, HEAD", r.headers["allow"])
        r = H.search("documentReference=3714238101&limit=1", { method = m })
        assert_error(r, 405, "MethodNotAllowed", nil, m)
      end
      assert.equal(200, H.api("reference=CGMU2436601&limit=1", { method = "GET" }).status)
    end)

    it("reads every parameter, however many come before the ones it knows", function()
      local pad = {}
      for i = 1, 150 do pad[i] = "x" .. i .. "=1" end
      pad = table.concat(pad, "&")
      local r = H.api(pad .. "&reference=CGMU2436601&limit=1")
      assert.equal(200, r.status)
      assert.equal("CGMU2436601", r.json.items[1].reference)
      assert_error(H.api("reference=MSCU&" .. pad .. "&limit=abc"), 400, "BadRequest", nil, "limit")
      -- the token URL's form body too
      local r2, j = H.token_request({ form = pad .. "&grant_type=client_credentials&client_id="
        .. E.SOGET_CLIENT_ID .. "&client_secret=" .. E.SOGET_CLIENT_SECRET })
      assert.equal(200, r2.status)
      assert.truthy(j.access_token)
      r2 = H.token_request({ form = pad .. "&grant_type=password&client_id="
        .. E.SOGET_CLIENT_ID .. "&client_secret=" .. E.SOGET_CLIENT_SECRET })
      assert.equal(400, r2.status)
    end)

    it("400 naming the parameter for bad limit, offset and desc", function()
      for _, v in ipairs({ "0", "11", "abc", "-1", "2.5" }) do
        assert_error(H.api("reference=MSCU&limit=" .. v), 400, "BadRequest", nil, "limit")
      end
      for _, v in ipairs({ "-1", "x", "1e3" }) do
        assert_error(H.api("reference=MSCU&offset=" .. v), 400, "BadRequest", nil, "offset")
      end
      for _, v in ipairs({ "yes", "1", "tru" }) do
        assert_error(H.api("reference=MSCU&desc=" .. v), 400, "BadRequest", nil, "desc")
      end
      assert.equal(200, H.api("reference=MSCU&limit=1").status)
      assert.equal(200, H.api("reference=MSCU&limit=10").status)
      -- integers as an integer parser reads them: a sign, leading zeros
      for _, v in ipairs({ "00000000005", "%2B5", "05" }) do
        local r = H.api("reference=MSCU&limit=" .. v)
        assert.equal(200, r.status, v)
        assert.equal(5, r.json.returned, v)
      end
      assert.equal(0, H.api("reference=MSCU&offset=-0").json.first)
      assert_error(H.api("reference=MSCU&limit=-5"), 400, "BadRequest", nil, "limit")
      assert_error(H.api("reference=MSCU&limit=" .. ("0"):rep(30) .. "12"), 400, "BadRequest", nil, "limit")
    end)

    it("reads bytes that are not UTF-8 as U+FFFD: its answers stay UTF-8", function()
      local fffd = "\239\191\189"
      for _, q in ipairs({ "reference=MSCU&limit=%FF", "reference=MSCU&desc=%C3",
                           "reference=MSCU&offset=%ED%A0%80" }) do
        local r = H.api(q)
        assert.equal(400, r.status, q)
        assert.falsy(r.body:find("[\192\193\245-\255]"), q .. ": " .. r.body)
        assert.truthy(r.json.message:find("'" .. fffd, 1, true), q .. ": " .. r.json.message)
      end
      local r = H.search("documentReference=X&customsFlag=%C0%AF")
      assert.equal(400, r.status)
      assert.truthy(r.json.message:find("'" .. fffd .. fffd .. "'", 1, true), r.json.message)
      -- 40 stray continuation bytes are 40 characters, past the 17 allowed
      assert_error(H.api("reference=" .. ("%80"):rep(40)), 400, "BadRequest", "R003")
    end)
  end)

  describe("data", function()
    local all, info

    setup(function()
      local r = H.control("/_control/units?reference=")
      assert.equal(200, r.status)
      all = r.json.items
      info = H.control("/_control/info").json
    end)

    it("holds the configured number of units, with a big prefix", function()
      assert.equal(info.units, #all)
      assert.equal("MSCU", info.big_prefix)
      assert.truthy(info.big_prefix_units > 100)
    end)

    it("gives every generated container a valid ISO 6346 number and a size type", function()
      local n = 0
      for _, u in ipairs(all) do
        if u.freightFamily == "Container" then
          assert.truthy(u.reference:match("^%u%u%u[UJZ]%d%d%d%d%d%d%d$"), u.reference)
          if u.reference == "CGMU2436601" then
            assert.is_false(iso6346_ok(u.reference)) -- the spec's example, served as is
          else
            assert.is_true(iso6346_ok(u.reference), u.reference)
            n = n + 1
          end
          assert.truthy(u.sizeType:match("^[%dL][%d]%u%d$"), u.sizeType)
          assert.equal(H.null, u.packagingCode)
        end
      end
      assert.truthy(n > 100)
      assert.is_false(iso6346_ok("CSQU3054384"))   -- sanity of the check itself
      assert.is_true(iso6346_ok("CSQU3054383"))
    end)

    it("has break-bulk units with packaging codes and partial quantities", function()
      local bb, partial = 0, 0
      for _, u in ipairs(all) do
        if u.freightFamily == "BreakBulk" then
          bb = bb + 1
          assert.truthy(u.packagingCode:match("^%u%u$"))
          assert.equal(H.null, u.sizeType)
          local m = u.measures
          assert.truthy(m.reportedQuantity <= m.quantity)
          assert.truthy(m.availableQuantity <= m.reportedQuantity)
          assert.equal(m.quantity - m.reportedQuantity, m.remainingQuantity)
          if m.remainingQuantity > 0 then partial = partial + 1 end
        end
      end
      assert.truthy(bb > 50)
      assert.truthy(partial > 5)
    end)

    it("uses ISO 8601 times with offsets, UN/LOCODEs and events in time order", function()
      local offsets = {}
      local saw = { reefer = 0, hazardous = 0, empty_return = 0, shipments = 0, means = 0 }
      for _, u in ipairs(all) do
        assert.truthy(#u.events >= 2, u.reference)
        local prev
        for _, e in ipairs(u.events) do
          assert.truthy(e.eventDate:match(ISO_DT), e.eventDate)
          offsets[e.eventDate:sub(-6)] = true
          assert.truthy(is_locode(e.eventPlace), tostring(e.eventPlace))
          local t = H.epoch(e.eventDate)
          if prev then assert.truthy(t >= prev, u.reference .. " events out of order") end
          prev = t
        end
        assert.truthy(is_locode(u.huLocation.place))
        local vd = u.transport.voyageDates
        assert.truthy(vd.eta:match(ISO_DT) and vd.etd:match(ISO_DT))
        offsets[vd.eta:sub(-6)] = true
        assert.truthy(H.epoch(vd.etd) >= H.epoch(vd.eta))
        if #u.transport.meansId > 0 then saw.means = saw.means + 1 end
        if u.indicators.reefer then
          saw.reefer = saw.reefer + 1
          if not u.indicators.empty then
            assert.is_number(u.temperatures.setPoint)
            assert.truthy(u.temperatures.rangeMin <= u.temperatures.setPoint)
            assert.truthy(u.temperatures.rangeMax >= u.temperatures.setPoint)
          end
        end
        if u.indicators.hazardous then
          saw.hazardous = saw.hazardous + 1
          assert.truthy(#u.hazardousItems > 0)
        end
        if u.emptyReturn then
          saw.empty_return = saw.empty_return + 1
          assert.truthy(H.epoch(u.emptyReturn.dueDate) < H.epoch(u.emptyReturn.finishDateLatest))
        end
        for _, s in ipairs(u.shipments) do
          saw.shipments = saw.shipments + 1
          assert.truthy(is_locode(s.originLocation) and is_locode(s.destinationLocation))
          assert.truthy(s.documentDate:match(ISO_DT), s.documentDate)
          offsets[s.documentDate:sub(-6)] = true
        end
      end
      local n = 0
      for _ in pairs(offsets) do n = n + 1 end
      assert.truthy(n >= 5, "several UTC offsets")
      assert.truthy(offsets["+01:00"] and offsets["+02:00"], "winter and summer time")
      for k, v in pairs(saw) do assert.truthy(v > 10, k) end
    end)

    it("serves the spec's example CGMU2436601 with a rich record", function()
      local u = H.api("reference=CGMU2436601").json.items[1]
      assert.equal("CNI0000063978", u.pswId)
      assert.equal("FRLEH", u.huLocation.place)
      assert.is_string(u.huLocation.location)
      assert.is_string(u.transport.voyageDates.ata)
      assert.is_string(u.transport.voyageDates.atd)
      assert.truthy(#u.events >= 3)
      assert.truthy(#u.shipments >= 1)
    end)

    it("is the same unit in the API and in the control listing", function()
      local r = H.api("reference=MSCU&limit=1")
      local c = H.control("/_control/units?reference=" .. r.json.items[1].reference)
      assert.same(r.json.items[1], c.json.items[1])
    end)
  end)

  describe("transport", function()
    it("gzips JSON when the client accepts it", function()
      local r = H.api("reference=MSCU&limit=10", { args = { "-H", "Accept-Encoding: gzip" } })
      assert.equal(200, r.status)
      assert.equal("gzip", r.headers["content-encoding"])
      assert.is_nil(H.json(r.body))
      local c = H.api("reference=MSCU&limit=10", { args = { "--compressed" } })
      assert.equal("gzip", c.headers["content-encoding"])
      assert.equal(10, c.json.returned)
      local plain = H.api("reference=MSCU&limit=10")
      assert.is_nil(plain.headers["content-encoding"])
      assert.equal(c.body, plain.body)
    end)

    it("speaks HTTP/2 over TLS and HTTP/1.1 on both origins", function()
      local h2 = H.api("reference=MSCU&limit=2", { args = { "--http2" } })
      assert.equal("2", h2.http_version)
      local h1 = H.api("reference=MSCU&limit=2", { args = { "--http1.1" } })
      assert.equal("1.1", h1.http_version)
      local plain = H.api("reference=MSCU&limit=2", { base = E.SOGET_SANDBOX_HTTP .. "/api-tracing-code/v1" })
      assert.equal(200, plain.status)
      assert.equal(h2.body, plain.body)
      assert.equal(h1.body, plain.body)
    end)

    it("needs the throwaway CA for TLS verification", function()
      local r = H.curl(E.SOGET_SANDBOX_HTTPS .. "/openapi.json", { cacert = false })
      assert.equal(60, r.exit)
      local port = E.SOGET_SANDBOX_HTTPS:match(":(%d+)$")
      local ok = H.curl("https://localhost:" .. port .. "/openapi.json",
        { args = { "--resolve", "localhost:" .. port .. ":127.0.0.1" } })
      assert.equal(200, ok.status)
    end)
  end)

  describe("schema validation", function()
    it("every kind of response validates against the OpenAPI document (and bad ones do not)", function()
      local total = big_total or H.api("reference=MSCU&limit=1").json.total
      local noauth = { ["Ocp-Apim-Subscription-Key"] = E.SOGET_API_KEY }
      local valid = {
        { "full page", H.api("reference=MSCU&limit=10") },
        { "default page", H.api("reference=MSCU") },
        { "last partial page", H.api("reference=MSCU&limit=10&offset=" .. (total - 3)) },
        { "empty page", H.api("reference=MSCU&offset=" .. total) },
        { "desc page", H.api("reference=MSCU&desc=true&limit=10") },
        { "example unit", H.api("reference=CGMU2436601") },
        { "break-bulk page", H.api("reference=STL+&limit=10") },
        { "spi page", H.api("spi=MAR&limit=10") },
        { "R001", H.api("reference=ZZZZ") },
        { "R002", H.api(nil) },
        { "R003", H.api("spi=CNI-1") },
        { "bad limit", H.api("reference=MSCU&limit=99") },
        { "bad offset", H.api("reference=MSCU&offset=-4") },
        { "bad desc", H.api("reference=MSCU&desc=maybe") },
        { "401 missing key", H.api("reference=MSCU", { headers = { Authorization = "Bearer " .. H.cached_token() } }) },
        { "401 bad token", H.api("reference=MSCU",
          { headers = { Authorization = "Bearer bad", ["Ocp-Apim-Subscription-Key"] = E.SOGET_API_KEY } }) },
        { "401 missing token", H.api("reference=MSCU", { headers = noauth }) },
        { "nulls fault", H.api("reference=MSCU&limit=10", { base = H.fault_base("nulls") }) },
        { "nulls fault items=null", H.api("reference=MSCU", { base = H.fault_base("nulls:items=null") }) },
        { "nulls fault on R001", H.api("reference=ZZZZ", { base = H.fault_base("nulls") }) },
        { "large events", H.api("reference=MSCU&limit=3", { base = H.fault_base("large:events=50") }) },
        { "shift page", H.api("reference=MSCU&limit=10&offset=10", { base = H.fault_base("shift:n=3") }) },
        { "repeat-unit page", H.api("reference=MSCU&limit=10&offset=10", { base = H.fault_base("repeat-unit") }) },
        { "repeat-unit past the end", H.api("reference=MSCU&limit=10&offset=" .. (total + 5),
          { base = H.fault_base("repeat-unit:keep=0:total=" .. (total + 100)) }) },
        { "inconsistent first", H.api("reference=MSCU", { base = H.fault_base("inconsistent:mode=first") }) },
        { "500", H.api("reference=MSCU", { base = H.fault_base("500") }) },
        { "503", H.api("reference=MSCU", { base = H.fault_base("503-then-ok:n=1:id=" .. H.uid()) }) },
        { "429", H.api("reference=MSCU", { base = H.fault_base("429") }) },
        { "403", H.api("reference=MSCU", { base = H.fault_base("403") }) },
        { "502", H.api("reference=MSCU", { base = H.fault_base("502") }) },
        { "504", H.api("reference=MSCU", { base = H.fault_base("504") }) },
        { "408", H.api("reference=MSCU", { base = H.fault_base("408") }) },
        { "405", H.api("reference=MSCU", { method = "POST" }) },
      }
      local invalid = {
        { "wrong-types", H.api("reference=MSCU", { base = H.fault_base("wrong-types") }) },
        { "wrong-types total", H.api("reference=MSCU", { base = H.fault_base("wrong-types:field=total") }) },
        { "wrong-types boolean", H.api("reference=MSCU",
          { base = H.fault_base("wrong-types:field=items[1].indicators.hazardous") }) },
        { "extra-fields", H.api("reference=MSCU", { base = H.fault_base("extra-fields") }) },
        { "malformed", H.api("reference=MSCU", { base = H.fault_base("malformed") }) },
        { "huge", H.api("reference=MSCU", { base = H.fault_base("huge:bytes=100000") }) },
      }
      for _, st in ipairs({ "502", "504", "408", "405" }) do
        for _, c in ipairs(valid) do
          if c[1] == st then assert.equal(tonumber(st), c[2].status, st) end
        end
      end
      local cases = {}
      for _, c in ipairs(valid) do
        assert.truthy(c[2].status, c[1])
        cases[#cases + 1] = { name = c[1], status = c[2].status, body = c[2].body }
      end
      for _, c in ipairs(invalid) do
        assert.equal(200, c[2].status, c[1])
        cases[#cases + 1] = { name = c[1], status = c[2].status, body = c[2].body }
      end
      local res = H.validate(cases)
      for _, c in ipairs(valid) do
        local r = res[c[1]]
        assert.is_true(r.valid, c[1] .. ": " .. table.concat(r.errors or {}, "; "))
      end
      for _, c in ipairs(invalid) do
        assert.is_false(res[c[1]].valid, c[1] .. " should be rejected")
      end
      -- the statuses the document declares were checked against their own schema
      assert.equal("HandlingUnitItemsResponseModel", res["full page"].schema)
      assert.equal("HttpBusinessError", res["R001"].schema)
      assert.is_true(res["R001"].declared)
      assert.is_true(res["R002"].declared)
    end)

    it("every kind of search answer validates against the in-mass document (and bad ones do not)", function()
      local bl, voyage = "documentReference=3714238101", "voyageAgentReference=CMAG-LEH-2501"
      local vtotal = H.search(voyage .. "&limit=1").json.total
      local key = E.SOGET_SANDBOX_SEARCH_KEY
      local function fb(spec) return { base = H.fault_search_base(spec) } end
      local valid = {
        { "default page", H.search(bl) },
        { "full page", H.search(bl .. "&limit=10") },
        { "second page", H.search(bl .. "&limit=10&offset=10") },
        { "last partial page", H.search(bl .. "&limit=10&offset=20") },
        { "empty page", H.search(bl .. "&offset=25") },
        { "desc page", H.search(bl .. "&desc=true&limit=10") },
        { "desc last page", H.search(voyage .. "&desc=true&limit=10&offset=" .. (vtotal - 4)) },
        { "voyage page", H.search(voyage .. "&limit=10&offset=50") },
        { "agent page", H.search("voyageAgentId=VAG0000020061&limit=10") },
        { "combined filters", H.search(voyage .. "&customsFlag=Export&limit=10") },
        { "one unit", H.search("documentReference=HLCUEUR2002APIK9") },
        { "search key", H.search(bl, { key = key }) },
        { "R001", H.search("documentReference=NOTHING") },
        { "R001 combined", H.search(bl .. "&customsFlag=Export") },
        { "R002 missing identifier", H.search(nil) },
        { "R002 flag only", H.search("customsFlag=Import") },
        { "R003 bad customsFlag", H.search(bl .. "&customsFlag=Sideways") },
        { "bad limit", H.search(bl .. "&limit=11") },
        { "bad offset", H.search(bl .. "&offset=-1") },
        { "bad desc", H.search(bl .. "&desc=maybe") },
        { "401 wrong key", H.search(bl, { key = "nope" }) },
        { "401 missing key", H.search(bl, { headers = { Authorization = "Bearer " .. H.cached_token() } }) },
        { "401 bad token", H.search(bl, { token = "bad", key = key }) },
        { "401 missing token", H.search(bl, { headers = { ["Ocp-Apim-Subscription-Key"] = key } }) },
        { "nulls fault", H.search(bl .. "&limit=10", fb("nulls")) },
        { "nulls on R001", H.search("documentReference=NOTHING", fb("nulls")) },
        { "large events", H.search(bl .. "&limit=3", fb("large:events=30")) },
        { "shift page", H.search(bl .. "&limit=10&offset=10", fb("shift:n=3")) },
        { "repeat-unit page", H.search(bl .. "&limit=10&offset=10", fb("repeat-unit")) },
        { "500", H.search(bl, fb("500")) },
        { "503", H.search(bl, fb("503-then-ok:n=1:id=" .. H.uid())) },
        { "429", H.search(bl, fb("429")) },
      }
      local invalid = {
        { "wrong-types", H.search(bl, fb("wrong-types")) },
        { "extra-fields", H.search(bl, fb("extra-fields")) },
        { "malformed", H.search(bl, fb("malformed")) },
      }
      local cases = {}
      for _, c in ipairs(valid) do
        assert.truthy(c[2].status, c[1])
        cases[#cases + 1] = { name = c[1], status = c[2].status, body = c[2].body }
      end
      for _, c in ipairs(invalid) do
        assert.equal(200, c[2].status, c[1])
        cases[#cases + 1] = { name = c[1], status = c[2].status, body = c[2].body }
      end
      local res = H.validate(cases, "openapi-in-mass.json")
      for _, c in ipairs(valid) do
        local r = res[c[1]]
        assert.is_true(r.valid, c[1] .. ": " .. table.concat(r.errors or {}, "; "))
      end
      for _, c in ipairs(invalid) do
        assert.is_false(res[c[1]].valid, c[1] .. " should be rejected")
      end
      assert.equal("HandlingUnitItemsResponseModel", res["full page"].schema)
      assert.equal(200, res["empty page"].status)
      assert.equal(404, res["R001"].status)
      assert.is_true(res["R001"].declared)
      assert.equal(400, res["R002 missing identifier"].status)
      assert.is_true(res["R003 bad customsFlag"].declared)
      assert.equal(401, res["401 wrong key"].status)
      assert.is_false(res["401 wrong key"].declared)
      assert.equal("HttpBusinessError", res["401 wrong key"].schema)
    end)
  end)
end)
