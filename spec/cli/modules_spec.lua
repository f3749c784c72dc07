-- The soget command's modules (lua/soget/cli/), required and run in this
-- process: pure functions with fakes where the program would talk to a
-- server. The other specs here run the program as a process.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local soget = require "soget"
local cjson = require "cjson"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"

-- A stream that keeps what is written to it.
local function buffer()
  local b = { parts = {} }
  function b:write(...)
    for i = 1, select("#", ...) do self.parts[#self.parts + 1] = tostring((select(i, ...))) end
    return self
  end
  function b:flush() return self end
  function b:text() return table.concat(self.parts) end
  return b
end

-- Runs f with output.out and output.err captured; returns f's results,
-- then the two texts.
local function captured(f)
  local out, err = buffer(), buffer()
  local saved_out, saved_err = output.out, output.err
  output.out, output.err = out, err
  local ok, a, b = pcall(f)
  output.out, output.err = saved_out, saved_err
  if not ok then error(a, 0) end
  return a, b, out:text(), err:text()
end

-- The exit error f raises (fails when it raises none or another).
local function exit_of(f)
  local ok, e = pcall(f)
  assert.is_false(ok, "no error raised")
  assert.is_true(exit.is_exit(e), "not an exit error: " .. tostring(e))
  return e
end

describe("soget.cli.output", function()
  it("makes text printable with the module's rule, trees included", function()
    assert.are.equal("plain text, é", output.printable("plain text, é"))
    assert.are.equal("a\\x1b]0;title\\x07b\\r\\n\\u202e\\xff",
      output.printable("a\27]0;title\7b\r\n\226\128\174\255"))
    assert.are.equal(soget.printable("x\ty\n", true), output.printable("x\ty\n", true))
    local t = output.printable_tree { reference = "A\27[2J", events = { { eventType = "\194\155X" } }, total = 3 }
    assert.are.same({ reference = "A\\x1b[2J", events = { { eventType = "\\u009bX" } }, total = 3 }, t)
  end)

  it("neutralises CSV cells a spreadsheet would run", function()
    local f = output.csv_field
    assert.are.equal("CGMU2436601", f("CGMU2436601"))
    assert.are.equal("", f(nil))
    assert.are.equal([["'=HYPERLINK(""http://x"",""y"")"]], f('=HYPERLINK("http://x","y")'))
    assert.are.equal([["'+1"]], f("+1"))
    assert.are.equal([["'-2+3"]], f("-2+3"))
    assert.are.equal([["'@SUM(A1)"]], f("@SUM(A1)"))
    assert.are.equal([["'  =1"]], f("  =1"))
    assert.are.equal([["a,b"]], f("a,b"))
    assert.are.equal([["say ""hi"""]], f('say "hi"'))
    assert.are.equal([[" padded "]], f(" padded "))
    -- controls are escaped first, so they can neither start a formula nor break a row
    assert.are.equal("\\t=1", f("\t=1"))
    assert.are.equal("a\\r\\nb", f("a\r\nb"))
    assert.are.equal("x,\"'=1\",,y", output.csv_row({ "x", "=1", nil, "y" }, 4))
  end)

  it("writes JSON with soget.encode: the schema's array fields as [], other empty tables as {}", function()
    local page = { total = 1, items = { { events = {}, measures = {}, other = {} } } }
    assert.are.equal('{"total":1,"items":[{"measures":{},"events":[],"other":{}}]}', output.json(page))
    assert.are.equal(soget.encode(page), output.json(page, "page"))
    assert.are.equal('{"transport":{"meansId":[]}}', output.json({ transport = { meansId = {} } }, "unit"))
  end)

  it("writes a JSON object's members in the order given, units by the schema", function()
    assert.are.equal('{"input":"A","status":"found","matches":2,"items":[{"reference":"A",'
      .. '"pswId":"1","events":[]},{"reference":"A"}]}', output.json_object {
        { "input", "A" }, { "status", "found" }, { "error", nil }, { "matches", 2 },
        { "items", { { pswId = "1", reference = "A", events = {} }, { reference = "A" } }, "units" } })
    assert.are.equal('{"error":{"code":"R003","kind":"api","retryable":false}}',
      output.json_object { { "error", { kind = "api", code = "R003", retryable = false } } })
    assert.are.equal("{}", output.json_object {})
  end)

  it("says things on stderr, made printable, notes only when verbose", function()
    local _, _, out, err = captured(function()
      output.say("bad: ", "\27[31mred", 42)
      output.verbose = false
      output.note("hidden")
      output.verbose = true
      output.note("shown")
      output.verbose = false
    end)
    assert.are.equal("", out)
    assert.are.equal("soget: bad: \\x1b[31mred42\nsoget: shown\n", err)
  end)

  it("colours only when asked", function()
    output.color = false
    assert.are.equal("x", output.paint("bold", "x"))
    output.color = true
    assert.are.equal("\27[1mx\27[0m", output.paint("bold", "x"))
    assert.are.equal("", output.paint("bold", ""))
    output.color = false
    assert.is_true(output.decide_color("always"))
    assert.is_false(output.decide_color("never"))
  end)

  it("formats numbers and pads by characters", function()
    assert.are.equal("13030", output.fmtnum(13030.0))
    assert.are.equal("33.2", output.fmtnum(33.2))
    assert.are.equal("-", output.dash(""))
    assert.are.equal("°C  ", output.pad("°C", 4))
  end)
end)

describe("soget.cli.config", function()
  local config = require "soget.cli.config"
  local PATH = "/home/u/.config/soget/profiles.ini"

  local function profile_error(text, name)
    local e = exit_of(function() config.parse_profile(text, PATH, name or "a") end)
    assert.are.equal(exit.CONFIG, e.code)
    return e.message
  end

  it("takes every option of soget.client as a setting, typed", function()
    local p = config.parse_profile(table.concat({
      "# comment", "; another", "[other]", "client_id = no",
      "[a]",
      "client-id = me",
      'client_secret = "s e c"',
      "api_key = 'k'",
      "timeout = 2.5", "retries = 0", "verify_tls = no", "gzip = off",
      "max_response_size = 2048", "user_agent = agent/1",
    }, "\n"), PATH, "a")
    assert.are.same({ client_id = "me", client_secret = "s e c", api_key = "k", timeout = 2.5,
      retries = 0, verify_tls = false, gzip = false, max_response_size = 2048,
      user_agent = "agent/1" }, p)
    for _, o in ipairs(soget.options) do
      local value = o.name == "ca_file" and "/v" or ({ string = "v", number = "1", boolean = "yes" })[o.type]
      local got = config.parse_profile("[a]\n" .. o.name .. " = " .. value .. "\n", PATH, "a")
      assert.is_not_nil(got[o.name], o.name)
    end
    -- and the client takes what the profile gives
    -- (its first value: the second, the settings' lines, is no option)
    local c = soget.client((config.parse_profile("[a]\naccess_token = t\napi_key = k\n"
      .. "gzip = true\ntimeout = 3\n", PATH, "a")))
    c:close()
  end)

  it("names lines and known settings in its errors, never a value", function()
    local secret = "c2VjcmV0LXZhbHVl"
    local cases = {
      { "[a]\nclient_id = x\nclient_secret =\n    " .. secret .. "\n",
        ":4: an indented line cannot continue the value above (put the whole value on one line)" },
      { "[a]\n" .. secret .. "= = x\n", ":2: unknown setting" },
      -- a relative CA bundle would be the current folder's
      { "[a]\nca_file = " .. secret .. "/ca.pem\n", ":2: 'ca_file' must be an absolute path (a "
        .. "relative one names a file under the current directory)" },
      { "[a]\nca_file = ~/" .. secret .. ".pem\n", ":2: 'ca_file' must be an absolute path (a "
        .. "relative one names a file under the current directory)" },
      { "[a]\n" .. secret .. "\n", ":2: expected 'key = value' or '[profile]'" },
      { secret .. "==\n[a]\n", ":1: a setting comes before any [profile] line" },
      { "[a]\ntimeout = " .. secret .. "\n", ":2: 'timeout' must be a number" },
      { "[a]\ngzip = " .. secret .. "\n", ":2: 'gzip' must be true or false" },
      { "[a]\nclient_sekret = " .. secret .. "\n", ":2: unknown setting (did you mean client_secret?)" },
      { "[a]\ngzp = " .. secret .. "\n", ":2: unknown setting (did you mean gzip?)" },
    }
    for i, c in ipairs(cases) do
      local msg = profile_error(c[1])
      assert.are.equal(PATH .. c[2], msg, "case " .. i)
      for j = 1, #secret - 3 do
        assert.is_nil(msg:find(secret:sub(j, j + 3), 1, true), "case " .. i .. " echoes the value")
      end
    end
    assert.are.equal("no profile [b] in " .. PATH .. " (it has: a, z)",
      profile_error("[z]\n[a]\napi_key = k\n", "b"))
  end)

  it("describes settings for -v without secrets", function()
    assert.are.equal("client_secret: (set, from SOGET_CLIENT_SECRET)",
      config.describe("client_secret", "hunter2", "SOGET_CLIENT_SECRET"))
    assert.are.equal("api_key: (set, from the profile)", config.describe("api_key", "k", "the profile"))
    assert.are.equal("base_url: https://***@h/x (from SOGET_BASE_URL)",
      config.describe("base_url", "https://user:pw@h/x", "SOGET_BASE_URL"))
    assert.are.equal("ca_file: (not set)", config.describe("ca_file", nil, "SOGET_CA_FILE"))
    assert.is_true(config.has_secret { access_token = "t" })
    assert.is_false(config.has_secret { client_id = "i", base_url = "u" })
  end)
end)

describe("soget.cli.walk", function()
  local walk = require "soget.cli.walk"

  local function unit(i) return { reference = "MSCU" .. i, pswId = "P" .. i } end

  -- A page as the module decodes it.
  local function page(first, total, list, returned)
    return assert(soget.decode(cjson.encode { first = first, total = total,
      returned = returned or #list, items = #list > 0 and list or cjson.empty_array }))
  end

  -- A client whose pages come from pages_at(offset); keeps the queries.
  local function fake_client(pages_at)
    local c = { queries = {} }
    function c:handling_units(q)
      self.queries[#self.queries + 1] = q
      return pages_at(q.offset)
    end
    return c
  end

  local function refs(list)
    local t = {}
    for i, hu in ipairs(list) do t[i] = hu.reference end
    return t
  end

  local q = { reference = "MSCU", limit = 2 }

  it("follows the pages to the total, with the query and the pager's offsets", function()
    local all = { unit(1), unit(2), unit(3), unit(4), unit(5) }
    local client = fake_client(function(offset)
      return page(offset, 5, { all[offset + 1], all[offset + 2] })
    end)
    local seen = {}
    local n, stopped, err = walk.walk(client, page(0, 5, { all[1], all[2] }), q, nil,
      function(hu) seen[#seen + 1] = hu end)
    assert.are.equal(5, n)
    assert.is_nil(stopped)
    assert.is_nil(err)
    assert.are.same({ "MSCU1", "MSCU2", "MSCU3", "MSCU4", "MSCU5" }, refs(seen))
    assert.are.same({ { reference = "MSCU", limit = 2, offset = 2 },
                      { reference = "MSCU", limit = 2, offset = 4 } }, client.queries)
  end)

  it("keeps a small key per unit listed, whatever the length of the server's ids", function()
    -- 60 pages of 10 units whose S)ONE ids are 20 KB each (12 MB in all):
    -- what the walk keeps of them stays under 1 MB
    local function long(i) return { reference = "MSCU" .. i, pswId = ("%020d"):format(i):rep(1000) } end
    local n_pages, size = 60, 10
    local client = { handling_units = function(_, qq)
      local list = {}
      for i = qq.offset + 1, qq.offset + size do list[#list + 1] = long(i) end
      return page(qq.offset, n_pages * size, list)
    end }
    local first = {}
    for i = 1, size do first[i] = long(i) end
    local p = page(0, n_pages * size, first)
    first = nil -- luacheck: ignore 311 (let go before the count)
    collectgarbage()
    local base = collectgarbage("count")
    local grown
    local n, stopped = walk.walk(client, p, { reference = "MSCU", limit = size }, nil, function(hu)
      if hu.reference == "MSCU" .. n_pages * size then
        collectgarbage()
        grown = collectgarbage("count") - base
      end
    end)
    assert.are.equal(n_pages * size, n)
    assert.is_nil(stopped)
    assert.truthy(grown < 1024, ("%.0f KB kept"):format(grown))
    -- and two ids that differ only past what is kept as it is still differ
    assert.are_not.equal(walk.id_key(("x"):rep(100) .. "1"), walk.id_key(("x"):rep(100) .. "2"))
    assert.are.equal("sCNI0000063978", walk.id_key("CNI0000063978"))
  end)

  it("stops at max without fetching more", function()
    local client = fake_client(function(offset) return page(offset, 100, { unit(offset + 1), unit(offset + 2) }) end)
    local n = walk.walk(client, page(0, 100, { unit(1), unit(2) }), q, 3, function() end)
    assert.are.equal(3, n)
    assert.are.equal(1, #client.queries)
  end)

  it("stops at a page short of its announced total", function()
    local client = fake_client(function() error("no fetch expected") end)
    local n, stopped = walk.walk(client, page(0, 1000000, { unit(1) }), q, nil, function() end)
    assert.are.equal(1, n)
    assert.are.equal("the server's page at offset 0 holds 1 unit of the 2 asked for, "
      .. "before the total of 1000000 it announces", stopped)
  end)

  it("stops at a page that brings no unit not already listed", function()
    local client = fake_client(function(offset) return page(offset, 10, { unit(1), unit(2) }) end)
    local seen = {}
    local n, stopped = walk.walk(client, page(0, 10, { unit(1), unit(2) }), q, nil,
      function(hu) seen[#seen + 1] = hu end)
    assert.are.equal(2, n)
    assert.are.same({ "MSCU1", "MSCU2" }, refs(seen))
    assert.are.equal("the server's page at offset 2 brings no unit not already listed", stopped)
    assert.are.equal(1, #client.queries)
  end)

  it("stops at inconsistent pages", function()
    -- the second page says it starts somewhere else than asked
    -- (its units are still listed, then the walk ends)
    local client = fake_client(function() return page(7, 10, { unit(8), unit(9) }) end)
    local n, stopped = walk.walk(client, page(0, 10, { unit(1), unit(2) }), q, nil, function() end)
    assert.are.equal(4, n)
    assert.are.equal(1, #client.queries)
    assert.are.equal("the server's pages are inconsistent (first is not the offset asked for)", stopped)
  end)

  it("returns the error of a failed fetch with the units so far", function()
    local failure = { kind = "timeout", message = "too slow" }
    local client = fake_client(function() return nil, failure end)
    local n, stopped, err = walk.walk(client, page(0, 10, { unit(1), unit(2) }), q, nil, function() end)
    assert.are.equal(2, n)
    assert.is_nil(stopped)
    assert.are.equal(failure, err)
  end)

  it("reports a stop on stderr as an API failure", function()
    local code, _, out, err = captured(function() return walk.report_stop(1, "why") end)
    assert.are.equal(exit.API, code)
    assert.are.equal("", out)
    assert.are.equal("soget: stopped after 1 unit: why\n", err)
  end)
end)

describe("soget.cli.args", function()
  local args = require "soget.cli.args"
  local L = soget.limits

  local function usage_error(argv)
    local e = exit_of(function() args.parse(argv) end)
    assert.are.equal(exit.USAGE, e.code)
    assert.truthy(e.err:find("^Usage: soget"), e.err)
    return e.err
  end

  it("parses commands and options", function()
    local a = args.parse { "-v", "--retries", "3", "--timeout", "2.5", "find", "MSCU", "--desc",
      "--page-size", tostring(L.limit), "--limit", "7" }
    assert.are.equal("find", a.command)
    assert.are.equal("MSCU", a.prefix)   -- named as its help names it
    assert.is_true(a.verbose)
    assert.is_true(a.desc)
    assert.are.equal(3, a.retries)
    assert.are.equal(2.5, a.timeout)
    assert.are.equal(L.limit, a.page_size)
    assert.are.equal(7, a.limit)
    local b = args.parse { "bulk", "-", "-c", tostring(L.concurrency), "--spi" }
    assert.are.equal(L.concurrency, b.concurrency)
    assert.is_true(b.spi)
    assert.are.equal(8, args.parse({ "bulk", "refs.txt" }).concurrency)
    assert.are.equal(10, args.parse({ "track", "X" }).max)
  end)

  it("takes its bounds from the module", function()
    assert.truthy(usage_error { "find", "X", "--page-size", tostring(L.limit + 1) }
      :find("Usage: soget find", 1, true))
    assert.truthy(usage_error { "find", "X", "--page-size", "0" }
      :find("Error: '0' is not between 1 and " .. L.limit, 1, true))
    assert.truthy(usage_error { "bulk", "-", "-c", tostring(L.concurrency + 1) }
      :find("is not between 1 and " .. L.concurrency, 1, true))
    local retries
    for _, o in ipairs(soget.options) do if o.name == "retries" then retries = o end end
    assert.are.equal(retries.max, args.parse({ "--retries", tostring(retries.max), "check", "A" }).retries)
    assert.truthy(usage_error { "--retries", tostring(retries.max + 1), "check", "A" }
      :find("is not between 0 and " .. retries.max, 1, true))
    assert.truthy(usage_error { "--retries", "1.5", "check", "A" }:find("is not a whole number", 1, true))
    assert.truthy(usage_error { "--timeout", "0", "check", "A" }:find("is not between 0.001 and", 1, true))
    -- not finite: LuaJIT's tonumber reads "nan" and "inf", which passed
    -- the range checks (NaN compares false), every runtime's "1e999"
    -- nor hexadecimal or white space around, which tonumber takes
    for _, v in ipairs { "nan", "inf", "1e999", "0x3", "0x1p-3", " 2", "2 ", "1e", "." } do
      assert.truthy(usage_error { "--timeout", v, "check", "A" }:find("'" .. v .. "' is not a number", 1, true), v)
      assert.truthy(usage_error { "watch", "A", "--every", v }:find("'" .. v .. "' is not a number", 1, true), v)
    end
    -- and --column, where a word that is no number names a column, on
    -- every runtime alike
    local inputs = require "soget.cli.inputs"
    assert.are.equal("nan", inputs.column("nan"))
    assert.are.equal("inf", inputs.column("inf"))
    assert.are.equal(2, inputs.column("2"))
    assert.are.equal("0x2", inputs.column("0x2"))
    assert.are.equal(2, inputs.column(" 2 "))   -- trimmed first, as a name is
    -- decimal notation as written
    for v, n in pairs { ["2"] = 2, ["+2"] = 2, ["2.5"] = 2.5, [".5"] = 0.5, ["5."] = 5, ["1e1"] = 10,
                        ["2.5E-1"] = 0.25 } do
      assert.are.equal(n, require("soget.cli.sys").number(v), v)
    end
    assert.are.equal(0.25, args.parse({ "--timeout", "2.5e-1", "check", "A" }).timeout)
  end)

  it("refuses what it does not know, with the usage of the command concerned", function()
    usage_error {}
    assert.truthy(usage_error { "frob" }:find("unknown command 'frob'", 1, true))
    assert.truthy(usage_error { "check" }:find("^Usage: soget check"))
    assert.truthy(usage_error { "--color", "pink", "check", "A" }:find("must be one of", 1, true))
    -- a hostile argument comes back printable
    local err = usage_error { "check", "A", "--\27]0;x\7" }
    assert.is_nil(err:find("\27", 1, true))
    assert.truthy(err:find("\\x1b]0;x\\x07", 1, true), err)
  end)

  it("answers --version with its own, the module's and libcurl's", function()
    local e = exit_of(function() args.parse { "--version" } end)
    assert.are.equal(exit.OK, e.code)
    assert.are.equal(string.format("soget %s (module %s, libcurl %s)\n", args.VERSION,
      soget._VERSION:match("[%d.]+$"), soget.libcurl_version), e.out)
    assert.truthy(e.out:find("^soget %d+%.%d+%.%d+ %(module %d+%.%d+%.%d+, libcurl %d+%.%d+%.%d+%)\n$"))
  end)

  it("lists the module's environment variables and settings in its help", function()
    local help = args.parser():get_help():gsub("%s+", " ")
    for _, o in ipairs(soget.options) do
      if o.env then assert.truthy(help:find(o.env, 1, true), o.env) end
      assert.truthy(help:find(o.name, 1, true), o.name)
    end
  end)
end)

describe("soget.cli.query", function()
  local query = require "soget.cli.query"

  it("checks queries by the module's rule: characters, not bytes", function()
    local q = query.from_args({ reference = "  " .. ("é"):rep(17) .. " " }, "a reference",
      { limit = soget.limits.limit })
    assert.are.same({ reference = ("é"):rep(17), limit = soget.limits.limit }, q)
    local e = exit_of(function() query.from_args({ reference = ("é"):rep(18) }, "a reference") end)
    assert.are.equal(exit.USAGE, e.code)
    assert.are.equal("'reference' is longer than 17 characters", e.message)
    assert.are.same({ nil, "'spi' contains a control character" },
      { query.check { spi = "A\27B" } })
    e = exit_of(function()
      query.from_args({ reference = "MSCU" }, "a prefix", { limit = soget.limits.limit + 1 })
    end)
    assert.are.equal("'limit' must be between 1 and " .. soget.limits.limit, e.message)
  end)

  it("wants one of a reference and an S)ONE id, not empty", function()
    for _, c in ipairs {
      { {}, "give a prefix or --spi PREFIX" },
      { { reference = "A", spi = "B" }, "give a prefix or --spi, not both" },
      { { reference = "   " }, "empty prefix" },
      { { spi = "" }, "empty S)ONE id" },
    } do
      local e = exit_of(function() query.from_args(c[1], "a prefix") end)
      assert.are.equal(exit.USAGE, e.code)
      assert.are.equal(c[2], e.message)
    end
    -- (--spi's argument named as each command's --help names it)
    assert.are.equal("give a reference or --spi ID",
      exit_of(function() query.from_args({}, "a reference") end).message)
    assert.are.equal("S)ONE id CNI1", query.text { spi = "CNI1" })
    assert.are.equal("CGMU", query.text { reference = "CGMU" })
  end)
end)

describe("soget.cli.units", function()
  local units = require "soget.cli.units"

  it("orders events by the module's soget.events_in_order", function()
    local events = {
      { eventType = "B", eventDate = "2020-05-20T10:00:00+02:00" },
      { eventType = "X", eventDate = "soon" },
      { eventType = "A", eventDate = "2020-05-20T09:00:00+00:00" },
      { eventType = "C", eventDate = "2020-05-20T08:00:00Z" },
      { eventType = "D", eventDate = "2020-05-20T10:00:00+02:00" },
    }
    local order = {}
    for i, e in ipairs(units.events({ events = events })) do order[i] = e.eventType end
    assert.are.same({ "B", "C", "D", "A", "X" }, order)
    table.remove(events, 2)
    assert.are.equal("A", units.last_event({ events = events }).eventType)
    assert.is_nil(units.last_event({}))
  end)

  it("counts a search's places keeping little of a server's long ones", function()
    -- 2,000 units at places of 10 KB, each its own: the tally keeps a
    -- digest and a start of each (under 1 MB), and counts them apart
    collectgarbage()
    local base = collectgarbage("count")
    local t = units.tally()
    for i = 1, 2000 do
      local place = ("%05d"):format(i):rep(2000)
      t:add({ freightFamily = "Container", huLocation = { place = i <= 2 and "é" .. place or place } })
    end
    t:add({ freightFamily = "Container", huLocation = { place = "FRLEH" } })
    t:add({ freightFamily = "Container", huLocation = { place = "FRLEH" } })
    collectgarbage()
    -- (about 850 KB; the bound leaves room for the interpreter's own
    -- tables: LuaJIT's string table doubles when the process's strings pass
    -- a power of two, up to 500 KB more. The places kept whole are 20 MB.)
    local grown = collectgarbage("count") - base
    assert.truthy(grown < 4096, ("%.0f KB kept"):format(grown))
    local places = t:places()
    assert.are.equal(2001, #places)
    assert.are.same({ "FRLEH", 2 }, places[1])
    for i = 2, #places do
      assert.are.equal(1, places[i][2])
      local name = places[i][1]
      assert.truthy(#name <= units.PLACE_KEPT + 3 and name:sub(-3) == "...", name)
    end
    -- cut at a character's first byte: "é" (2 bytes) then digits
    local want = "\195\169" .. ("00001"):rep(1000):sub(1, units.PLACE_KEPT - 2) .. "..."
    local found = false
    for i = 2, #places do found = found or places[i][1] == want end
    assert.is_true(found)
  end)
end)

describe("soget.cli.cache", function()
  local cache = require "soget.cli.cache"

  it("keeps only tokens the module would take back", function()
    local c = soget.client { base_url = "http://127.0.0.1:1", access_token = "t", api_key = "k" }
    assert.is_nil(cache.uncacheable(c, "abc.def", 60))
    assert.are.equal("it is empty", cache.uncacheable(c, "", 60))
    assert.are.equal("it has a control character", cache.uncacheable(c, "a\tb", 60))
    assert.are.equal("it is longer than " .. soget.limits.header_value .. " bytes",
      cache.uncacheable(c, ("a"):rep(soget.limits.header_value + 1), 60))
    assert.is_nil(cache.uncacheable(nil, ("a"):rep(soget.limits.header_value), 60))
    c:close()
    assert.are.equal("the module refuses it", cache.uncacheable(c, "abc", 60))   -- closed
  end)

  it("keys a cache file by a digest of every credential, which shows none of them", function()
    local creds = { token_url = "https://t/token", client_id = "id", client_secret = "s3cret",
                    api_key = "k3y" }
    local key = cache.key(creds)
    assert.truthy(key:match("^%x+$") and #key == 64, key)
    assert.are.equal(key, cache.key { token_url = "https://t/token", client_id = "id",
                                       client_secret = "s3cret", api_key = "k3y" })
    for _, name in ipairs { "token_url", "client_id", "client_secret", "api_key" } do
      local other = {}
      for k, v in pairs(creds) do other[k] = v end
      other[name] = other[name] .. "x"
      assert.are_not.equal(key, cache.key(other), name)
    end
    -- values are told apart by their lengths, not by a separator they may hold
    assert.are_not.equal(cache.key { client_id = "a\nb", client_secret = "" },
      cache.key { client_id = "a", client_secret = "b" })
    -- SHA-256 of the documented text: a fixed value
    assert.are.equal(soget._privfile.digest("soget token cache 1\n15:https://t/token\n2:id\n6:s3cret\n3:k3y"),
      key)
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      soget._privfile.digest("abc"))
  end)
end)

describe("soget.cli.exit", function()
  it("maps each kind of soget error to its exit code", function()
    local want = { auth = 4, network = 5, timeout = 5, tls = 5, http = 6, api = 6, decode = 6,
      interrupted = 130 }
    for kind, code in pairs(want) do assert.are.equal(code, exit.code_for { kind = kind }) end
    assert.are.equal(exit.API, exit.code_for { kind = "something new" })
    assert.are.equal(exit.API, exit.code_for(nil))
    assert.are.equal("http: HTTP 503", exit.message(setmetatable({}, {
      __tostring = function() return "soget: http: HTTP 503" end })))
  end)

  it("tells an interrupt from other errors", function()
    assert.is_true(exit.is_interrupt("stdin:1: interrupted!"))
    assert.is_true(exit.is_interrupt(exit_of(function() exit.fail(exit.INTERRUPTED) end)))
    assert.is_false(exit.is_interrupt(exit_of(function() exit.fail(exit.USAGE, "x") end)))
    assert.is_false(exit.is_interrupt("some other error"))
  end)
end)

describe("soget.cli.run", function()
  local cli = require "soget.cli"

  local function run(argv)
    local code, _, out, err = captured(function() return cli.run(argv) end)
    return code, out, err
  end

  it("runs a command and returns its exit code", function()
    local code, out, err = run { "--color", "never", "check", "CSQU3054383", "CGMU2436601" }
    assert.are.equal(exit.NOT_FOUND, code)
    assert.are.equal("CSQU3054383: valid ISO 6346 container number\n"
      .. "CGMU2436601: invalid: check digit is 1, expected 8\n", out)
    assert.are.equal("", err)
    code, out = run { "check", "--json", "CSQU3054383" }
    assert.are.equal(exit.OK, code)
    assert.are.same({ reference = "CSQU3054383", valid = true }, cjson.decode(out))
  end)

  it("turns errors into exit codes and messages", function()
    local code, out, err = run { "frob" }
    assert.are.equal(exit.USAGE, code)
    assert.are.equal("", out)
    assert.truthy(err:find("^Usage: soget"), err)
    code, out, err = run { "--no-token-cache", "track", "ABCDEFGHIJKLMNOPQRSTU" }
    assert.are.equal(exit.USAGE, code)
    assert.are.equal("", out)
    assert.are.equal("soget: 'reference' is longer than 17 characters\n", err)
    code, out = run { "--version" }
    assert.are.equal(exit.OK, code)
    assert.are.equal(require("soget.cli.args").version_text(), out)
  end)

  it("shows an internal error (a bug) made printable, exiting 70", function()
    local name = "soget.cli.commands.check"
    local saved = package.loaded[name]
    package.loaded[name] = function()
      error("bad \27]8;;http://evil/\7click\27]8;;\7 \226\128\174txet", 0)
    end
    local ok, code, out, err = pcall(run, { "check", "X" })
    package.loaded[name] = saved
    assert(ok, code)
    assert.are.equal(exit.INTERNAL, code)
    assert.are.equal("", out)
    -- its first line, then the traceback (for a bug report)
    assert.are.equal("soget: internal error: bad \\x1b]8;;http://evil/\\x07click\\x1b]8;;\\x07 "
      .. "\\u202etxet", err:match("^[^\n]*"))
    assert.is_nil(err:find("[\27\7]"))
    assert.is_nil(err:find("\226\128\174", 1, true))
  end)
end)

---------------------------------------------------------------------------
-- soget search and bulk --documents, with a fake client: the searches it
-- is asked, pages cut from lists of units by document reference.

describe("soget search and bulk --documents (modules)", function()
  local args_mod = require "soget.cli.args"
  local query = require "soget.cli.query"
  local sys = require "soget.cli.sys"
  local units = require "soget.cli.units"
  local view = require "soget.cli.view"
  local search_cmd = require "soget.cli.commands.search"
  local bulk_cmd = require "soget.cli.commands.bulk"

  local function unit(ref, family, place, location)
    return { reference = ref, pswId = "CNI" .. ref:sub(-7), freightFamily = family,
      sizeType = family == "Container" and "22G1" or nil,
      packagingCode = family ~= "Container" and "PK" or nil,
      huLocation = (place or location) and { place = place, location = location } or nil,
      events = { { eventType = "DIS", eventDate = "2020-05-20T03:27:41+02:00" } } }
  end

  local function page(first, total, list)
    return assert(soget.decode(cjson.encode { first = first, total = total, returned = #list,
      items = #list > 0 and list or cjson.empty_array }))
  end

  -- A document of n units: containers, then every fourth one breakbulk;
  -- at FRLEH / MTDF, then FRLEH / TN2, and one with no location.
  local function document(prefix, n)
    local list = {}
    for i = 1, n do
      local family = i % 4 == 0 and "BreakBulk" or "Container"
      local place, location = "FRLEH", i <= n / 2 and "MTDF" or "TN2"
      if i == n and n > 1 then place, location = nil, nil end
      list[i] = unit(prefix .. string.format("%07d", i), family, place, location)
    end
    return list
  end

  -- The module refuses what it refuses (the same words as the module's).
  local function refuse(q)
    if type(q) == "table" and q.customsFlag and q.customsFlag ~= "Import" then
      error("handling_units_search: customsFlag must be one of Unknown, Import, Export, "
        .. "Transhipment, Transit", 0)
    end
    if type(q) == "table" and q.documentReference and q.documentReference:find("%c") then
      error("handling_units_search: 'documentReference' contains a control character", 0)
    end
  end

  local function fake_client(docs, fail_at)
    local c = { searches = {}, many = {} }
    function c:handling_units_search(q)
      refuse(q)
      self.searches[#self.searches + 1] = q
      local offset = q.offset or 0
      if fail_at and offset >= fail_at then
        return nil, setmetatable({ kind = "timeout", message = "too slow" }, {
          __tostring = function() return "soget: timeout: too slow" end })
      end
      local list = docs[q.documentReference or q.voyageAgentReference or ""] or {}
      local slice = {}
      for i = offset + 1, math.min(offset + q.limit, #list) do slice[#slice + 1] = list[i] end
      return page(#list > 0 and offset or 0, #list, slice)
    end
    function c:handling_units_many(entries)
      for i, e in ipairs(entries) do
        local ok, why = pcall(refuse, e.search)
        if not ok then error("handling_units_many: query " .. i .. ": "
          .. why:gsub("^handling_units_search: ", ""), 0) end
      end
      self.many[#self.many + 1] = entries
      local out = {}
      for i, e in ipairs(entries) do out[i] = self:handling_units_search(e.search) or "?" end
      return out
    end
    -- (bulk --documents checks with it that the client can search)
    function c:begin(q)
      self.begun = (self.begun or 0) + 1
      return { close = function() end, query = q }
    end
    return c
  end

  local saved_isatty
  before_each(function()
    saved_isatty = sys.isatty
    sys.isatty = function() return false end
    output.color = false
  end)
  after_each(function() sys.isatty = saved_isatty end)

  local function search(argv, client)
    local a = args_mod.parse(argv)
    return captured(function() return search_cmd(a, { client = client }) end)
  end

  describe("arguments", function()
    it("parses search's options and bulk's --documents", function()
      local a = args_mod.parse { "search", "--document", "HLCU1", "--voyage-ref", "V",
        "--voyage-id", "VAG1", "--customs", "import", "--agent", "CSGT", "--desc", "--json",
        "--limit", "30", "--page-size", "4" }
      assert.are.equal("search", a.command)
      assert.are.same({ "HLCU1", "V", "VAG1", "import", "CSGT", true, true, 30, 4 },
        { a.document, a.voyage_ref, a.voyage_id, a.customs, a.agent, a.desc, a.json,
          a.limit, a.page_size })
      assert.is_true(args_mod.parse({ "bulk", "-", "--documents" }).documents)
      local e = exit_of(function() args_mod.parse { "bulk", "-", "--documents", "--spi" } end)
      assert.are.equal(exit.USAGE, e.code)
      e = exit_of(function() args_mod.parse { "search", "--document", "X", "--page-size", "11" } end)
      assert.are.equal(exit.USAGE, e.code)
    end)

    it("builds the query with the API's names, trimmed, a customs flag in its case", function()
      local q = query.search_from_args({ document = " HLCU1 ", customs = "tRANSHIPMENT",
        agent = "CSGT" }, { limit = 10 })
      assert.are.same({ documentReference = "HLCU1", customsFlag = "Transhipment",
        freightAgent = "CSGT", limit = 10 }, q)
      assert.are.same({ voyageAgentId = "VAG1" }, query.search_from_args { voyage_id = "VAG1" })
      assert.are.equal("document HLCU1, customs Transhipment, freight agent CSGT",
        query.search_text(q))
      for _, c in ipairs {
        { {}, "give --document, --voyage-ref or --voyage-id" },
        { { customs = "Import", agent = "X" }, "give --document, --voyage-ref or --voyage-id" },
        { { document = "  " }, "empty --document" },
        { { voyage_ref = "V", agent = "" }, "empty --agent" },
      } do
        local e = exit_of(function() query.search_from_args(c[1]) end)
        assert.are.equal(exit.USAGE, e.code)
        assert.are.equal(c[2], e.message)
      end
    end)

    it("leaves the rest to the module: its refusal is a usage error, nothing sent", function()
      local c = fake_client {}
      local e = exit_of(function()
        search({ "search", "--document", "X", "--customs", "Bogus" }, c)
      end)
      assert.are.equal(exit.USAGE, e.code)
      assert.are.equal("--customs must be one of Unknown, Import, Export, Transhipment, Transit",
        e.message)
      assert.are.equal(0, #c.searches)
      -- Ctrl-C and other errors raised inside the call pass through
      local ok, why = pcall(query.search, { handling_units_search = function()
        error("stdin:1: interrupted!", 0) end }, { documentReference = "X" })
      assert.is_false(ok)
      assert.are.equal("stdin:1: interrupted!", why)
      local failure = { kind = "network" }
      ok, why = pcall(query.search, { handling_units_search = function() error(failure) end },
        { documentReference = "X" })
      assert.is_false(ok)
      assert.are.equal(failure, why)
    end)

    it("refuses a whole list of searches only where the module does", function()
      local c = fake_client { A = document("AAAU", 2) }
      local results, bad = query.many(c, { { search = { documentReference = "A", limit = 10 } },
        { search = { documentReference = "B\27", limit = 10 } },
        { search = { documentReference = "Z", limit = 10 } } })
      assert.are.same({ [2] = "'documentReference' contains a control character" }, bad)
      assert.are.equal(2, results[1].total)
      assert.is_nil(results[2])
      assert.are.equal(0, results[3].total)
      assert.are.equal(1, #c.many)          -- one batch of the two the module takes
      assert.are.equal(2, #c.many[1])       -- (the refused one never sent)
      results, bad = query.many(c, { { search = { documentReference = "A", limit = 10 } } })
      assert.are.same({}, bad)
      assert.are.equal(2, results[1].total)
      assert.are.equal(2, #c.many)
    end)
  end)

  describe("the summary", function()
    it("shows a place or a location alone as it is, an empty one as none", function()
      for _, case in ipairs {
        { { place = "", location = "LOC" }, "LOC" }, { { place = "FRLEH", location = "" }, "FRLEH" },
        { { place = "FRLEH", location = "TN2" }, "FRLEH / TN2" }, { { place = "", location = "" }, "unknown" },
      } do
        local _, _, out = captured(function()
          view.print_unit { reference = "CGMU2436601", huLocation = case[1] }
        end)
        local now = out:match("Now at%s+([^\n]*)")
        assert.are.equal(case[2], now and now:gsub("%s+$", ""), out)
      end
    end)

    it("tells containers from other freight: by freight family, else ISO 6346", function()
      assert.is_true(units.is_container { reference = "CGMU2436601", freightFamily = "Container" })
      assert.is_false(units.is_container { reference = "CSQU3054383", freightFamily = "BreakBulk" })
      assert.is_true(units.is_container { reference = "CSQU3054383" })
      assert.is_false(units.is_container { reference = "CGMU2436601" })   -- bad check digit
      assert.is_false(units.is_container {})
    end)

    it("counts units, containers, other freight and where they are now", function()
      local t = units.tally()
      for _, hu in ipairs(document("MSCU", 8)) do t:add(hu) end
      t:add { reference = "X", huLocation = { place = "NLRTM" } }
      assert.are.same({ 9, 6, 3 }, { t.units, t.containers, t.other })
      assert.are.same({ { "FRLEH / MTDF", 4 }, { "FRLEH / TN2", 3 }, { "NLRTM", 1 }, { false, 1 } },
        t:places())
      assert.are.equal("9 units: 6 containers, 3 other freight; now at FRLEH / MTDF 4, "
        .. "FRLEH / TN2 3, NLRTM 1, unknown 1", view.search_summary(t, 9))
      assert.are.equal("9 of 25 units: 6 containers, 3 other freight; now at FRLEH / MTDF 4, "
        .. "FRLEH / TN2 3, NLRTM 1, unknown 1", view.search_summary(t, 25))
      local one = units.tally()
      one:add(unit("CGMU2436601", "Container", "FRLEH", "MTDF"))
      assert.are.equal("1 unit: 1 container, 0 other freight; now at FRLEH / MTDF 1",
        view.search_summary(one, 1))
      local many = units.tally()
      for i = 1, 9 do
        for _ = 1, i do many:add { freightFamily = "Container", huLocation = { place = "P" .. i } } end
      end
      assert.are.equal("45 units: 45 containers, 0 other freight; now at P9 9, P8 8, P7 7, P6 6, "
        .. "P5 5, 10 more in 4 other places", view.search_summary(many, 45))
    end)
  end)

  describe("soget search", function()
    local docs = { HLCU25 = document("HLCU", 25), ONE1 = { unit("CGMU2436601", "Container",
      "FRLEH", "MTDF") } }

    it("pages through every match and prints find's lines, the summary on stderr", function()
      local c = fake_client(docs)
      local code, _, out, err = search({ "search", "--document", "HLCU25" }, c)
      assert.are.equal(exit.OK, code)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.are.equal(25, #lines)
      for i, hu in ipairs(docs.HLCU25) do
        assert.are.equal(view.find_line(hu), lines[i])
      end
      assert.are.equal("soget: 25 units: 19 containers, 6 other freight; now at FRLEH / MTDF 12, "
        .. "FRLEH / TN2 12, unknown 1\n", err)
      -- pages of 10 (the most the API gives), the query's own names
      assert.are.equal(3, #c.searches)
      assert.are.same({ documentReference = "HLCU25", limit = 10 }, c.searches[1])
      assert.are.same({ documentReference = "HLCU25", limit = 10, offset = 20 }, c.searches[3])
    end)

    it("shows the header and the summary under the table on a terminal", function()
      sys.isatty = function(fd) return fd == 1 end
      local code, _, out, err = search({ "search", "--document", "ONE1" }, fake_client(docs))
      assert.are.equal(exit.OK, code)
      assert.are.equal(view.find_header() .. "\n" .. view.find_line(docs.ONE1[1]) .. "\n"
        .. "1 unit: 1 container, 0 other freight; now at FRLEH / MTDF 1\n", out)
      assert.are.equal("", err)
    end)

    it("makes the server's text in the summary printable on a terminal too", function()
      sys.isatty = function(fd) return fd == 1 end
      local hostile = { ODD = { unit("CGMU2436601", "Container", "FR\27[2J\27]0;pwned\7LEH", "\226\128\174X") } }
      local code, _, out = search({ "search", "--document", "ODD" }, fake_client(hostile))
      assert.are.equal(exit.OK, code)
      assert.is_nil(out:find("\27", 1, true))
      assert.is_nil(out:find("\226\128\174", 1, true))
      assert.truthy(out:find("\n1 unit: 1 container, 0 other freight; now at "
        .. "FR\\x1b[2J\\x1b]0;pwned\\x07LEH / \\u202eX 1\n", 1, true), out)
    end)

    it("takes --limit, --page-size, --desc and the filters to the query", function()
      local c = fake_client(docs)
      local code, _, out, err = search({ "search", "--document", "HLCU25", "--customs", "import",
        "--agent", "CSGT", "--limit", "7", "--page-size", "3", "--desc" }, c)
      assert.are.equal(exit.OK, code)
      assert.are.equal(7, select(2, out:gsub("\n", "")))
      assert.truthy(err:find("^soget: 7 of 25 units: "), err)
      assert.are.same({ documentReference = "HLCU25", customsFlag = "Import", freightAgent = "CSGT",
        limit = 3, desc = true }, c.searches[1])
      assert.are.equal(3, #c.searches)
    end)

    it("--json prints each unit as a line of JSON", function()
      local code, _, out, err = search({ "search", "--voyage-ref", "HLCU25", "--json" },
        fake_client(docs))
      assert.are.equal(exit.OK, code)
      local n = 0
      for l in out:gmatch("[^\n]+") do
        n = n + 1
        assert.are.equal(docs.HLCU25[n].reference, cjson.decode(l).reference)
      end
      assert.are.equal(25, n)
      assert.truthy(err:find("^soget: 25 units: 19 containers"), err)
    end)

    it("exits 1 when nothing matches, with the code of a failure otherwise", function()
      local code, _, out, err = search({ "search", "--document", "NOPE", "--customs", "Import" },
        fake_client(docs))
      assert.are.equal(exit.NOT_FOUND, code)
      assert.are.equal("", out)
      assert.are.equal("soget: no handling unit matches document NOPE, customs Import\n", err)
      -- the first page fails
      code, _, out, err = search({ "search", "--document", "HLCU25" }, fake_client(docs, 0))
      assert.are.equal(exit.NETWORK, code)
      assert.are.equal("", out)
      assert.are.equal("soget: timeout: too slow\n", err)
      -- a later page fails: the units so far, then the error
      code, _, out, err = search({ "search", "--document", "HLCU25" }, fake_client(docs, 10))
      assert.are.equal(exit.NETWORK, code)
      assert.are.equal(10, select(2, out:gsub("\n", "")))
      assert.are.equal("soget: timeout: too slow\n", err)
    end)

    it("stops at pages that do not add up: the units so far, exit 6", function()
      local c = fake_client(docs)
      function c:handling_units_search(q)   -- always the first page, whatever the offset
        self.searches[#self.searches + 1] = q
        return page(q.offset or 0, 25, { table.unpack(docs.HLCU25, 1, 10) })
      end
      local code, _, out, err = search({ "search", "--document", "HLCU25" }, c)
      assert.are.equal(exit.API, code)
      assert.are.equal(10, select(2, out:gsub("\n", "")))
      assert.are.equal("soget: stopped after 10 units: the server's page at offset 10 brings "
        .. "no unit not already listed\n", err)
    end)
  end)

  describe("soget bulk --documents", function()
    local docs = { HLCU25 = document("HLCU", 25), ONE1 = { unit("CGMU2436601", "Container",
      "FRLEH", "MTDF") } }
    local file

    before_each(function() file = os.tmpname() end)
    after_each(function() os.remove(file) end)

    local function bulk(lines, extra, client)
      local f = assert(io.open(file, "w"))
      f:write(table.concat(lines, "\n"), "\n")
      f:close()
      local argv = { "bulk", file, "--documents" }
      for _, x in ipairs(extra or {}) do argv[#argv + 1] = x end
      local a = args_mod.parse(argv)
      return captured(function() return bulk_cmd(a, { client = client or fake_client(docs) }) end)
    end

    it("reports each document with every unit it has, one CSV row each, in input order", function()
      local c = fake_client(docs)
      local code, _, out, err = bulk({ "ONE1", "# comment", "NOPE", "HLCU25" }, nil, c)
      assert.are.equal(exit.NOT_FOUND, code)
      local rows = {}
      for l in out:gmatch("[^\n]+") do rows[#rows + 1] = l end
      assert.are.equal("input,status,matches,reference,pswId,freightFamily,sizeType,place,"
        .. "location,lastEventType,lastEventDate,error", rows[1])
      assert.are.equal(1 + 1 + 1 + 25, #rows)
      assert.are.equal("ONE1,found,1,CGMU2436601,CNI2436601,Container,22G1,FRLEH,MTDF,DIS,"
        .. "2020-05-20T03:27:41+02:00,", rows[2])
      assert.are.equal("NOPE,not_found,0,,,,,,,,,", rows[3])
      for i = 1, 25 do
        local hu = docs.HLCU25[i]
        assert.are.equal("HLCU25,found,25," .. hu.reference, rows[3 + i]:match("^([^,]*,[^,]*,[^,]*,[^,]*)"))
      end
      assert.are.equal("soget: 3 documents: 2 found, 1 not found, 0 failed; 26 units\n", err)
      -- one many() for the three, then HLCU25's two other pages
      assert.are.equal(1, #c.many)
      assert.are.same({ search = { documentReference = "NOPE", limit = 10 } }, c.many[1][2])
      assert.are.same({ documentReference = "HLCU25", limit = 10, offset = 20 },
        c.searches[#c.searches])
      assert.are.equal(5, #c.searches)
    end)

    it("prints one JSON line per document with all its units", function()
      local code, _, out = bulk({ "HLCU25", "ONE1" }, { "--json" })
      assert.are.equal(exit.OK, code)
      local recs = {}
      for l in out:gmatch("[^\n]+") do recs[#recs + 1] = cjson.decode(l) end
      assert.are.equal(2, #recs)
      assert.are.same({ "HLCU25", "found", 25, 25 },
        { recs[1].input, recs[1].status, recs[1].matches, #recs[1].items })
      assert.are.equal("HLCU0000025", recs[1].items[25].reference)
      assert.are.equal("CGMU2436601", recs[2].items[1].reference)
    end)

    it("reports a line the module refuses, the others still searched, exit 2", function()
      local code, _, out, err = bulk({ "ONE1", "BAD\1X" }, { "--json" })
      assert.are.equal(exit.USAGE, code)
      local recs = {}
      for l in out:gmatch("[^\n]+") do recs[#recs + 1] = cjson.decode(l) end
      assert.are.equal("found", recs[1].status)
      assert.are.same({ kind = "invalid",
        message = "'documentReference' contains a control character" }, recs[2].error)
      assert.truthy(err:find("2 documents: 1 found, 0 not found, 1 failed; 1 unit\n", 1, true))
    end)

    it("fails a document whose later pages fail, with the error's code", function()
      local code, _, out, err = bulk({ "HLCU25", "ONE1" }, nil, fake_client(docs, 10))
      assert.are.equal(exit.NETWORK, code)
      local rows = {}
      for l in out:gmatch("[^\n]+") do rows[#rows + 1] = l end
      assert.are.equal(3, #rows)
      assert.are.equal("HLCU25,failed,,,,,,,,,,timeout: too slow", rows[2])
      assert.truthy(rows[3]:find("^ONE1,found,1,CGMU2436601"))
      assert.truthy(err:find("1 found, 0 not found, 1 failed; 1 unit\n", 1, true))
    end)

    it("fails a document whose pages do not add up, exit 6", function()
      local c = fake_client(docs)
      local search_fn = c.handling_units_search
      function c:handling_units_search(q)
        if (q.offset or 0) > 0 then return page(q.offset, 25, { docs.HLCU25[1] }) end
        return search_fn(self, q)
      end
      local code, _, out = bulk({ "HLCU25" }, { "--json" }, c)
      assert.are.equal(exit.API, code)
      local rec = cjson.decode(out)
      assert.are.equal("failed", rec.status)
      assert.are.equal("incomplete", rec.error.kind)
      assert.truthy(rec.error.message:find("^stopped after 10 units: "), rec.error.message)
    end)

    it("fails a document whose units take more memory than it holds, not the program", function()
      -- a server can make a document endless: past walk.HELD_MAX its
      -- units are let go and the document fails as incomplete
      local walk = require "soget.cli.walk"
      local saved = walk.HELD_MAX
      walk.HELD_MAX = 1048576
      -- (4,000 units of 5 KB each, made as each page is asked for: 20 MB,
      -- well past the limit whatever LuaJIT's own allocations, which its
      -- count includes, do meanwhile)
      local c = fake_client({ ONE1 = docs.ONE1 })
      local search_fn = c.handling_units_search
      function c:handling_units_search(q)
        if q.documentReference ~= "BIG" then return search_fn(self, q) end
        local offset, slice = q.offset or 0, {}
        for i = offset + 1, math.min(offset + q.limit, 4000) do
          local hu = unit("BIGU" .. string.format("%07d", i), "Container", "FRLEH", "MTDF")
          hu.packagingCode = ("%010d"):format(i):rep(500)
          slice[#slice + 1] = hu
        end
        return page(offset, 4000, slice)
      end
      local ok, code, _, out = pcall(bulk, { "BIG", "ONE1" }, { "--json" }, c)
      walk.HELD_MAX = saved
      assert(ok, code)
      assert.are.equal(exit.API, code)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = cjson.decode(l) end
      assert.are.equal("failed", lines[1].status)
      assert.are.equal("incomplete", lines[1].error.kind)
      assert.truthy(lines[1].error.message:find("take more than 1 MiB to hold", 1, true),
        lines[1].error.message)
      local n = tonumber(lines[1].error.message:match("^stopped after (%d+) units"))
      assert.truthy(n and n >= 10 and n < 4000, lines[1].error.message)
      assert.are.equal("found", lines[2].status)   -- the next document as before
    end)

    it("leaves bulk without --documents as it was: lookups, no search", function()
      local c = fake_client(docs)
      function c:handling_units_many(qs, opts)
        self.many[#self.many + 1] = qs
        local out = {}
        for i in ipairs(qs) do
          -- (as the module: each answer to on_result when given, none kept)
          if opts and opts.on_result then opts.on_result(i, page(0, 0, {}))
          else out[i] = page(0, 0, {}) end
        end
        return out
      end
      local f = assert(io.open(file, "w"))
      f:write("CGMU2436601\n")
      f:close()
      local a = args_mod.parse { "bulk", file }
      local code, _, _, err = captured(function() return bulk_cmd(a, { client = c }) end)
      assert.are.equal(exit.NOT_FOUND, code)
      -- exact lookups, the most recent S)ONE id first
      assert.are.same({ { reference = "CGMU2436601", limit = soget.limits.limit, exact = true,
                          desc = true } }, c.many[1])
      assert.are.equal(0, #c.searches)
      assert.are.equal("soget: 1 reference: 0 found, 1 not found, 0 failed\n", err)
    end)

    it("looks references up in windows of 10,000, and none after the credentials were refused",
      function()
      local refused = setmetatable({ kind = "auth", retryable = false,
        message = "token request refused: invalid_client" },
        { __tostring = function(e) return "soget: auth: " .. e.message end })
      local c = fake_client(docs)
      function c:handling_units_many(qs, opts)
        self.many[#self.many + 1] = #qs
        -- answers in reverse order: rows are still written in input order
        for i = #qs, 1, -1 do
          opts.on_result(i, #self.many == 1 and page(0, 1, { docs.ONE1[1] }) or refused)
        end
        return {}
      end
      local refs = {}
      for i = 1, 20005 do refs[i] = ("MSCU%07d"):format(i) end
      local f = assert(io.open(file, "w"))
      f:write(table.concat(refs, "\n"), "\n")
      f:close()
      local a = args_mod.parse { "bulk", file }
      local code, _, out, err = captured(function() return bulk_cmd(a, { client = c }) end)
      assert.are.equal(exit.AUTH, code)
      -- the first window found, the second refused, the third never sent
      assert.are.same({ 10000, 10000 }, c.many)
      local n = 0
      for line in out:gmatch("[^\n]+") do
        n = n + 1
        if n > 1 then
          local ref, status = line:match("^([^,]*),([^,]*)")
          assert.are.equal(refs[n - 1], ref)
          assert.are.equal(n <= 10001 and "found" or "failed", status, line)
        end
      end
      assert.are.equal(20006, n)
      assert.are.equal("soget: 20005 references: 10000 found, 0 not found, 10005 failed\n", err)
    end)
  end)
end)
