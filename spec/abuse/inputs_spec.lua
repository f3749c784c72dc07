-- Abuse: hostile input from the script. Header values with line breaks or
-- NUL bytes, query values made of URL syntax, numbers of the wrong kind:
-- refused with a Lua error before anything is sent, or sent byte-exact.
local soget = require "soget"
local S = require "support"
local W = require "abuse.watch"
local unpack = table.unpack or unpack -- luacheck: ignore 143

local function nothing_sent()
  local st = S.stats()
  assert.are.equal(0, st.api_requests, "an API request was sent")
  assert.are.equal(0, st.token_requests, "a token request was sent")
end

local INJECTIONS = { "\r\nX-Injected: 1", "\nX-Injected: 1", "\r", "\0", "a\0b", "\0\r\n" }

describe("abuse: script input", function()
  before_each(function() S.reset() end)

  it("refuses CR, LF or NUL in api_key, access_token and user_agent before sending", function()
    for _, bad in ipairs(INJECTIONS) do
      for _, opt in ipairs{ "api_key", "access_token", "user_agent" } do
        for _, v in ipairs{ S.api_key .. bad, bad .. "x", "x" .. bad .. "y" } do
          local ok, err = W.pcall(soget.client, S.options{ [opt] = v })
          assert.is_false(ok, opt .. " " .. ("%q"):format(v))
          assert.truthy(tostring(err):find("option '" .. opt .. "'", 1, true), tostring(err))
        end
      end
    end
    nothing_sent()
  end)

  it("refuses CR, LF or NUL in a token given with set_token, and keeps the old one", function()
    local c = S.client()
    local tok = assert(c:token())
    W.note_tokens(c)
    S.reset()
    for _, bad in ipairs(INJECTIONS) do
      local ok, err = W.pcall(c.set_token, c, tok .. bad, 60)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("bad argument #1", 1, true) or
        tostring(err):find("line break", 1, true) or tostring(err):find("NUL", 1, true) or
        tostring(err):find("control", 1, true), tostring(err))
    end
    -- (0 or less: due at once, taken)
    for _, ttl in ipairs{ -1e10, 0 / 0, math.huge, -math.huge, "60" } do
      assert.is_false(W.pcall(c.set_token, c, tok, ttl))
    end
    nothing_sent()
    assert(c:handling_units("CGMU2436601"))
    assert.are.equal("Bearer " .. tok, S.requests(1)[1].headers.authorization)
    c:close()
  end)

  it("refuses CR, LF or NUL in every query value, through every entry point", function()
    local c = S.client()
    for _, bad in ipairs(INJECTIONS) do
      for _, key in ipairs{ "reference", "spi" } do
        local v = ("AB" .. bad):sub(1, 12)
        local q = { [key] = v }
        assert.is_false(W.pcall(c.handling_units, c, q))
        assert.is_false(W.pcall(c.begin, c, q))
        assert.is_false(W.pcall(soget.handling_units, q))
      end
      assert.is_false(W.pcall(c.handling_units, c, "CGMU" .. bad))
    end
    for _, ctl in ipairs{ "\t", "\1", "\27[31m", "\127" } do
      assert.is_false(W.pcall(c.handling_units, c, { reference = "A" .. ctl .. "B" }))
    end
    nothing_sent()
    c:close()
  end)

  it("sends references made of URL syntax byte-exact, with no parameter injected", function()
    local c = S.client()
    local values = { "&", "=", "#", "%", "+", "/", "?", " ", "A&limit=1", "A=B", "A#frag",
      "%41%", "%%", "+ +", "a/../b", "?x=1&y", "  lead", "trail  ", "é", "Ω≈ç√", "集装箱",
      "\240\159\147\166", "&reference=X" }   -- invalid UTF-8 is refused: spec/security_spec.lua
    for _, v in ipairs(values) do
      for _, key in ipairs{ "reference", "spi" } do
        S.reset()
        local page, err = W.see(c:handling_units{ [key] = v, limit = 2 })
        assert.truthy(page or err)
        local r = S.requests(1)[1]
        assert.are.equal(v, r.args[key], ("%s %q"):format(key, v))
        local n = 0
        for name in pairs(r.args) do
          n = n + 1
          assert.truthy(name == key or name == "limit", "injected parameter " .. name)
        end
        assert.are.equal(2, n)
        assert.are.equal("2", r.args.limit)
      end
    end
    W.note_tokens(c)
    c:close()
  end)

  it("refuses numbers given as strings, NaN, infinities, fractions and huge values", function()
    local c = S.client()
    local limits = { "5", "1", 0 / 0, math.huge, -math.huge, 2.5, 1e-300, 10.000001, 0, 11, -1,
      2 ^ 53, true, {} }
    local offsets = { "0", "10", 0 / 0, math.huge, -math.huge, 0.5, -1, 2 ^ 31, 2 ^ 63, 1e300,
      -0.0001, false }
    for _, l in ipairs(limits) do
      local ok, err = W.pcall(c.handling_units, c, { reference = "MSCU", limit = l })
      assert.is_false(ok, tostring(l))
      assert.truthy(tostring(err):find("'limit'", 1, true), tostring(err))
    end
    for _, o in ipairs(offsets) do
      local ok, err = W.pcall(c.handling_units, c, { reference = "MSCU", offset = o })
      assert.is_false(ok, tostring(o))
      assert.truthy(tostring(err):find("'offset'", 1, true), tostring(err))
      -- begin's own offset argument
      ok, err = W.pcall(c.begin, c, { reference = "MSCU" }, o)
      assert.is_false(ok, tostring(o))
      assert.truthy(tostring(err):find("^begin: 'offset' must be"), tostring(err))
    end
    for _, cap in ipairs{ 0 / 0, math.huge, 0, -1, 2.5, "3" } do
      local page = soget.decode('{"items":[]}')
      assert.is_false(W.pcall(page.iter, page, { max_items = cap }))
      assert.is_false(W.pcall(page.iter, page, { max_pages = cap }))
    end
    for _, t in ipairs{ 0 / 0, math.huge, -1, 0, "5" } do
      assert.is_false(W.pcall(soget.client, S.options{ timeout = t }))
      assert.is_false(W.pcall(soget.client, S.options{ connect_timeout = t }))
      if t ~= 0 then assert.is_false(W.pcall(soget.client, S.options{ retries = t })) end
      assert.is_false(W.pcall(soget.client, S.options{ max_response_size = t }))
    end
    nothing_sent()
    -- the largest offset the API takes is sent as it is
    S.reset()
    W.see(c:handling_units{ reference = "MSCU", offset = 2 ^ 31 - 1 })
    assert.are.equal("2147483647", S.requests(1)[1].args.offset)
    W.note_tokens(c)
    c:close()
  end)

  it("refuses an argument past those a function takes, sending nothing", function()
    -- c:handling_units("R", { exact = true }) was a prefix lookup: the
    -- table was dropped
    local c = S.client()
    local page = soget.decode('{"total":1,"returned":1,"first":0,"items":[{"events":[]}]}')
    for _, case in ipairs {
      { "handling_units", c.handling_units, c, "SOGU1000004", { exact = true } },
      { "handling_units_search", c.handling_units_search, c, "3714238101", { limit = 10 } },
      { "handling_units_many", c.handling_units_many, c, { "A" }, { concurrency = 2 }, "x" },
      { "begin", c.begin, c, "A", 0, { exact = true } },
      { "token", c.token, c, { fetch = false }, true },
      { "set_token", c.set_token, c, "t", 10, 20, 30 },
      { "stats", c.stats, c, {} },
      { "client", soget.client, S.options(), { retries = 1 } },
      { "handling_units", soget.handling_units, "A", { exact = true } },
      { "check_query", soget.check_query, "A", { exact = true } },
      { "decode", soget.decode, "{}", nil, {} },
      { "encode", soget.encode, page, "page", 1 },
      { "events_in_order", soget.events_in_order, page.items[1], {} },
      { "iter", page.iter, page, nil, 1 },
      { "http_parser", soget.http_parser, 100, 1 },
      { "printable", soget.printable, "x", true, 1 },
      { "check_container_number", soget.check_container_number, "CSQU3054383", 1 },
    } do
      local ok, err = W.pcall(case[2], unpack(case, 3, 7))
      assert.is_false(ok, case[1])
      -- (called through pcall, Lua cannot name the function: '?')
      assert.truthy(tostring(err):find("^bad argument #%d+ to '[^']*' %(no such argument"),
        case[1] .. ": " .. tostring(err))
    end
    assert.truthy(select(2, pcall(c.handling_units, c, "A", { exact = true }))
      :find("options go in the query, as { reference = ..., exact = true }", 1, true))
    -- a nil past them is no argument
    assert.is_nil(select(2, c:token({ fetch = false }, nil)))
    assert(soget.check_query("A", nil))
    nothing_sent()
    -- events_in_order of a page or of a unit's events: not a unit
    assert.truthy(select(2, pcall(soget.events_in_order, page))
      :find("a page, not a unit: give one of its items", 1, true))
    assert.truthy(select(2, pcall(soget.events_in_order, { { eventType = "A" } }))
      :find("a list, not a unit", 1, true))
    assert.are.same({}, soget.events_in_order({}))
    c:close()
  end)

  -- Regression: call:response(NaN or a huge status) converted it to long:
  -- undefined behaviour, caught by make test-asan (UBSan).
  it("refuses a status that is not an HTTP status in call:response", function()
    local c = S.client()
    c:set_token("abuse-token", 60)
    for _, status in ipairs{ 0 / 0, math.huge, -math.huge, 1e300, -1, 1000, 2 ^ 63 } do
      local call = c:begin("CGMU2436601")
      assert(call:request())
      local ok, err = W.pcall(call.response, call, status, "{}")
      assert.is_false(ok, tostring(status))
      assert.truthy(tostring(err):find("HTTP status", 1, true), tostring(err))
      local page, e = W.see(call:response(200, '{"items":[]}'))
      assert.is_table(page, tostring(e))
    end
    nothing_sent()
    c:close()
  end)

  it("leaks no secret into anything it produced", function()
    W.check()
  end)
end)
