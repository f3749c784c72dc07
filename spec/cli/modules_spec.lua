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

  it("writes the schema's array fields as [] and other empty tables as {}", function()
    local text = output.json { items = {}, measures = {}, events = {}, other = {} }
    for field in pairs(soget.array_fields) do
      assert.truthy(output.json({ [field] = {} }):find('"' .. field .. '":[]', 1, true), field)
    end
    assert.truthy(text:find('"measures":{}', 1, true), text)
    assert.truthy(text:find('"other":{}', 1, true), text)
    assert.truthy(text:find('"events":[]', 1, true), text)
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
      local value = ({ string = "v", number = "1", boolean = "yes" })[o.type]
      local got = config.parse_profile("[a]\n" .. o.name .. " = " .. value .. "\n", PATH, "a")
      assert.is_not_nil(got[o.name], o.name)
    end
    -- and the client takes what the profile gives
    local c = soget.client(config.parse_profile("[a]\naccess_token = t\napi_key = k\n"
      .. "gzip = true\ntimeout = 3\n", PATH, "a"))
    c:close()
  end)

  it("names lines and known settings in its errors, never a value", function()
    local secret = "c2VjcmV0LXZhbHVl"
    local cases = {
      { "[a]\nclient_id = x\nclient_secret =\n    " .. secret .. "\n",
        ":4: an indented line cannot continue the value above (put the whole value on one line)" },
      { "[a]\n" .. secret .. "= = x\n", ":2: unknown setting" },
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
    assert.are.equal("MSCU", a.reference)
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

  it("answers --version with the module's", function()
    local e = exit_of(function() args.parse { "--version" } end)
    assert.are.equal(exit.OK, e.code)
    assert.are.equal("soget (" .. soget._VERSION .. ")\n", e.out)
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
      { {}, "give a prefix or --spi ID" },
      { { reference = "A", spi = "B" }, "give a prefix or --spi, not both" },
      { { reference = "   " }, "empty a prefix" },
      { { spi = "" }, "empty S)ONE id" },
    } do
      local e = exit_of(function() query.from_args(c[1], "a prefix") end)
      assert.are.equal(exit.USAGE, e.code)
      assert.are.equal(c[2], e.message)
    end
    assert.are.equal("S)ONE id CNI1", query.text { spi = "CNI1" })
    assert.are.equal("CGMU", query.text { reference = "CGMU" })
  end)
end)

describe("soget.cli.units", function()
  local units = require "soget.cli.units"

  it("orders events by time across zones, unreadable dates last, ties kept", function()
    assert.are.equal(0, units.parse_time("1970-01-01T00:00:00Z"))
    assert.are.equal(units.parse_time("2020-05-20T01:27:41Z"), units.parse_time("2020-05-20T03:27:41+02:00"))
    assert.are.equal(86400 + 0.5, units.parse_time("1970-01-02 00:00:00.5"))
    assert.is_nil(units.parse_time("yesterday"))
    local events = {
      { eventType = "B", eventDate = "2020-05-20T10:00:00+02:00" },
      { eventType = "X", eventDate = "soon" },
      { eventType = "A", eventDate = "2020-05-20T09:00:00+00:00" },
      { eventType = "C", eventDate = "2020-05-20T08:00:00Z" },
      { eventType = "D", eventDate = "2020-05-20T10:00:00+02:00" },
    }
    local order = {}
    for i, e in ipairs(units.sorted_events(events)) do order[i] = e.eventType end
    assert.are.same({ "B", "C", "D", "A", "X" }, order)
    table.remove(events, 2)
    assert.are.equal("A", units.last_event({ events = events }).eventType)
  end)

  it("prefers the units that match exactly, whatever the case", function()
    local items = { { reference = "MSCU12" }, { reference = "mscu1" }, { pswId = "CNI1" } }
    assert.are.same({ { reference = "mscu1" } }, units.prefer_exact(items, { reference = "MSCU1" }))
    assert.are.same({ { pswId = "CNI1" } }, units.prefer_exact(items, { spi = "cni1" }))
    assert.are.equal(items, units.prefer_exact(items, { reference = "MSC" }))
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
    -- the cache file's name for a token URL and client id stays what it was
    assert.are.equal("35bb4b9652b9beeb", cache.hash_hex("https://t/token\nid"))
  end)
end)

describe("soget.cli.exit", function()
  it("maps each kind of soget error to its exit code", function()
    local want = { auth = 4, network = 5, timeout = 5, tls = 5, http = 6, api = 6, decode = 6 }
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
    assert.are.equal("soget: 'reference' is longer than 17 characters\n", err)
    code, out = run { "--version" }
    assert.are.equal(exit.OK, code)
    assert.are.equal("soget (" .. soget._VERSION .. ")\n", out)
  end)
end)
