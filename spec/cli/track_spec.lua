-- soget track / check / usage: the program run as a process against the sandbox.
local cli = require "cli.cli"
local cjson = require "cjson"
local support = cli.support

describe("soget track", function()
  it("prints a readable timeline of a found unit and exits 0", function()
    local r = cli.run { "track", "CGMU2436601" }
    assert.are.equal(0, r.code, r.err)
    local out = r.out
    assert.truthy(out:find("^CGMU2436601  Container · 22G1 · S%)ONE CNI0000063978\n"))
    assert.truthy(out:find("\n  Now at        FRLEH / MTDF\n", 1, true))
    assert.truthy(out:find("\n  Hazardous     yes, IMO class 3\n", 1, true))
    assert.truthy(out:find("\n  Reefer        no\n", 1, true))
    assert.truthy(out:find("\n  Empty         no (laden)\n", 1, true))
    assert.truthy(out:find("\n  Means         MSC EYRA  (MVE, GBR)  IMO 9360142, call sign 9HA2954\n", 1, true))
    assert.truthy(out:find("ETA           2020-05-19T22:00:00+00:00  ATA  2020-05-19T22:43:17+00:00", 1, true))
    assert.truthy(out:find("ETD           2020-05-20T23:00:00+00:00  ATD  2020-05-20T23:00:17+00:00", 1, true))
    assert.truthy(out:find("\nShipments (1)\n", 1, true))
    assert.truthy(out:find("HLCUEUR2002APIK9  DAI0000387547  705", 1, true))
    -- events in time order, as sent, in aligned columns
    local events = {}
    for _, kind in out:gmatch("\n  (%d%d%d%d%-%d%d%-%d%dT[%d:]+[+-]%d%d:%d%d)  (%u+) ") do
      events[#events + 1] = kind
    end
    assert.are.same({ "MAN", "ANN", "DIS", "HAZ", "CUS" }, events)
    assert.truthy(out:find("  2020-05-20T03:27:41+02:00  DIS    FRLEH  MTDF      In   1 sea\n", 1, true))
    -- no colour in a pipe
    assert.is_nil(out:find("\27", 1, true))
    assert.are.equal("", r.err)
  end)

  it("puts events in time order across time zones", function()
    -- the sandbox data mixes offsets; the printed order must follow real time
    local r = cli.run { "track", "--json", "MSCU", "--prefix", "--max", "5" }
    assert.are.equal(0, r.code, r.err)
    local page = cjson.decode(r.out)
    local hu = page.items[1]
    local t = cli.run { "track", hu.reference }
    assert.are.equal(0, t.code, t.err)
    local shown = {}
    for date in t.out:gmatch("\n  (%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[^ ]*)  ") do
      shown[#shown + 1] = date
    end
    assert.are.equal(#hu.events, #shown)
    local function utc(s)
      local y, mo, d, h, mi, se, sign, zh, zm =
        s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)[.%d]*([+-Z]?)(%d*):?(%d*)$")
      local days = math.floor(os.time { year = y, month = mo, day = d, hour = 12 } / 86400)
      local v = days * 86400 + h * 3600 + mi * 60 + se
      if sign == "+" then v = v - zh * 3600 - zm * 60 elseif sign == "-" then v = v + zh * 3600 + zm * 60 end
      return v
    end
    for i = 2, #shown do assert.is_true(utc(shown[i - 1]) <= utc(shown[i]), shown[i - 1] .. " > " .. shown[i]) end
  end)

  it("--json prints the decoded data for scripts", function()
    local r = cli.run { "track", "CGMU2436601", "--json" }
    assert.are.equal(0, r.code, r.err)
    local v = cjson.decode(r.out)
    assert.are.equal(1, v.total)
    local hu = v.items[1]
    assert.are.equal("CGMU2436601", hu.reference)
    assert.are.equal("CNI0000063978", hu.pswId)
    assert.are.equal("MSC EYRA", hu.transport.meansName)
    assert.are.equal(5, #hu.events)
    assert.are.equal(13030, hu.measures.weight.grossWeight.value)
    assert.is_true(hu.indicators.hazardous)
  end)

  it("looks up the reference exactly: not the units it begins", function()
    local r = cli.run { "track", "SOGET LOT 7" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("^SOGET LOT 7  BreakBulk"), r.out)
    assert.is_nil(r.out:find("SOGET LOT 70", 1, true))
    assert.is_nil(r.out:find("shown", 1, true))
    -- a break-bulk lot: no tare, and the weight its partial reports left
    assert.truthy(r.out:find("\n  Weight        gross 2500 KGM · net 2400 KGM · remaining 0 KGM\n",
      1, true), r.out)
    assert.truthy(r.out:find("\n  Packages      10, remaining 0, available 4, reported 10\n",
      1, true), r.out)
    -- in any case, as the API matches
    assert.are.equal(0, cli.run({ "track", "soget lot 7" }).code)
    -- a prefix that is no unit's reference is not found
    local m = cli.run { "track", "MSCU99" }
    assert.are.equal(1, m.code)
    assert.are.equal("soget: no handling unit matches MSCU99\n", m.err)
  end)

  it("shows every passage of a container, the most recent S)ONE id first", function()
    local r = cli.run { "track", "SOGU1000004", "--json" }
    assert.are.equal(0, r.code, r.err)
    local v = cjson.decode(r.out)
    assert.are.equal(12, v.total)
    assert.are.equal(10, v.returned)   -- --max 10 by default
    assert.are.equal("CNI0000900012", v.items[1].pswId)
    assert.are.equal("CNI0000900003", v.items[10].pswId)
    local t = cli.run { "track", "SOGU1000004", "--max", "2" }
    assert.are.equal(0, t.code, t.err)
    local _, units = t.out:gsub("\nSOGU1000004  Container", "")
    assert.are.equal(1, units + 0)                 -- the first starts the output
    assert.truthy(t.out:find("^SOGU1000004  Container · 22G1 · S%)ONE CNI0000900012\n"), t.out)
    local note = "\n2 of 12 units shown (one per passage); all of them with: soget track "
      .. "--max 12 SOGU1000004\n"
    assert.are.equal(note, t.out:sub(-#note))
  end)

  it("--prefix shows the units the reference begins, as the API lists them", function()
    local r = cli.run { "track", "SOGET LOT 7", "--prefix", "--max", "3" }
    assert.are.equal(0, r.code, r.err)
    local shown = {}
    for ref in r.out:gmatch("SOGET LOT %d+  ") do shown[#shown + 1] = ref end
    assert.are.same({ "SOGET LOT 7  ", "SOGET LOT 70  ", "SOGET LOT 71  " }, shown)
    assert.truthy(r.out:find("3 of 11 matches shown; list them all with: soget find 'SOGET LOT 7'\n",
      1, true), r.out)
    -- the hint, pasted back, lists them all
    local hint = r.out:match("list them all with: soget (find '[^\n]*')\n")
    local all = cli.run { "find", (hint:match("^find '(.*)'$")) }
    assert.are.equal(0, all.code, all.err)
    assert.are.equal(11, #cli.lines(all.out))
    local m = cli.run { "track", "MSCU99", "--prefix", "--json" }
    assert.are.equal(0, m.code, m.err)
    assert.are.equal(7, cjson.decode(m.out).total)
    -- a total the server did not send is none (the module's guess counts no
    -- matches), and no hint that counts on it
    local nt = { SOGET_BASE_URL = cli.support.fault_base("no-total") }
    m = cli.run({ "track", "MSCU0", "--prefix", "--max", "12", "--json" }, { env = nt })
    assert.are.equal(0, m.code, m.err)
    local v = cjson.decode(m.out)
    assert.is_nil(v.total)
    assert.are.equal(12, v.returned)
    assert.are.equal(12, #v.items)
  end)

  it("finds by S)ONE id", function()
    local r = cli.run { "track", "--spi", "CNI0000063978" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("^CGMU2436601"))
  end)

  it("exits 1 with a message when nothing matches", function()
    local r = cli.run { "track", "ZZZZ9999999" }
    assert.are.equal(1, r.code)
    assert.are.equal("", r.out)
    assert.are.equal("soget: no handling unit matches ZZZZ9999999\n", r.err)
    local j = cli.run { "track", "ZZZZ9999999", "--json" }
    assert.are.equal(1, j.code)
    assert.are.equal(0, cjson.decode(j.out).total)
    assert.are.same({}, cjson.decode(j.out).items)
  end)

  it("exits 4 when the credentials are refused", function()
    local r = cli.run({ "--no-token-cache", "track", "CGMU2436601" },
      { env = { SOGET_CLIENT_SECRET = "not-the-secret" } })
    assert.are.equal(4, r.code)
    assert.truthy(r.err:find("^soget: auth: "))
    assert.is_nil(r.err:find("not-the-secret", 1, true))
  end)

  it("exits 5 on a network failure", function()
    local r = cli.run({ "--retries", "0", "track", "CGMU2436601" },
      { env = { SOGET_BASE_URL = "https://127.0.0.1:1/api-tracing-code/v1" } })
    assert.are.equal(5, r.code)
    assert.truthy(r.err:find("^soget: network: "))
  end)

  it("exits 6 on a server error", function()
    local r = cli.run({ "--retries", "0", "track", "CGMU2436601" },
      { env = { SOGET_BASE_URL = support.fault_base("500") } })
    assert.are.equal(6, r.code)
    assert.truthy(r.err:find("^soget: http: .*HTTP 500"))
  end)

  it("exits 3 when the configuration is missing", function()
    local r = cli.run({ "track", "CGMU2436601" }, { env = { SOGET_API_KEY = false } })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("no API key", 1, true))
  end)
end)

describe("soget check", function()
  it("says valid and exits 0", function()
    local r = cli.run { "check", "CSQU3054383" }
    assert.are.equal(0, r.code)
    assert.are.equal("CSQU3054383: valid ISO 6346 container number\n", r.out)
  end)

  it("gives the reason and exits 1 when invalid", function()
    local r = cli.run { "check", "CGMU2436601" }
    assert.are.equal(1, r.code)
    assert.are.equal("CGMU2436601: invalid: check digit is 1, expected 8\n", r.out)
    local j = cli.run { "check", "--json", "CSQU3054383", "ab" }
    assert.are.equal(1, j.code)
    local lines = cli.lines(j.out)
    assert.is_true(cjson.decode(lines[1]).valid)
    local bad = cjson.decode(lines[2])
    assert.is_false(bad.valid)
    assert.are.equal("must be 11 characters long", bad.reason)
  end)

  it("counts characters, not bytes: a letter other than ASCII gets its position's reason", function()
    local r = cli.run { "check", "\195\132BCU1234567", "\239\188\163SQU3054383",
      "CSQ\208\1633054383", "CSQU305438\217\163", "\195\132\195\132CU12345" }
    assert.are.equal(1, r.code)
    assert.are.equal(table.concat({
      "\195\132BCU1234567: invalid: owner code (characters 1-3) must be capital letters",
      "\239\188\163SQU3054383: invalid: owner code (characters 1-3) must be capital letters",
      "CSQ\208\1633054383: invalid: category identifier (character 4) must be U, J or Z",
      "CSQU305438\217\163: invalid: serial number and check digit (characters 5-11) must be digits",
      "\195\132\195\132CU12345: invalid: must be 11 characters long", "" }, "\n"), r.out)
  end)

  it("needs no configuration", function()
    local r = cli.run({ "check", "CSQU3054383" }, { env = { SOGET_API_KEY = false,
      SOGET_CLIENT_ID = false, SOGET_CLIENT_SECRET = false } })
    assert.are.equal(0, r.code)
  end)
end)

describe("soget usage", function()
  it("has --help for the program and every command, with the exit codes", function()
    local r = cli.run { "--help" }
    assert.are.equal(0, r.code)
    assert.truthy(r.out:find("Exit codes:", 1, true))
    for _, code in ipairs { "0", "1", "2", "3", "4", "5", "6", "130" } do
      assert.truthy(r.out:find("\n%s*" .. code .. "  "), "exit code " .. code)
    end
    for _, cmd in ipairs { "track", "find", "search", "bulk", "watch", "check", "help" } do
      assert.truthy(r.out:find("\n   " .. cmd .. " "), cmd)
      local h = cli.run { cmd, "--help" }
      assert.are.equal(0, h.code, cmd)
      assert.truthy(h.out:find("^Usage: soget " .. cmd), cmd)
      -- each command: examples, then its own exit codes
      assert.truthy(h.out:find("\nExamples:\n   soget " .. cmd .. " ", 1, true), cmd .. ": " .. h.out)
      assert.truthy(h.out:find("\nExit codes:\n   0    ", 1, true), cmd)
      assert.truthy(h.out:find("\n   2    usage error", 1, true), cmd)
      if cmd ~= "check" and cmd ~= "help" then
        assert.truthy(h.out:find("\n   5    ", 1, true), cmd)
        assert.truthy(h.out:find("\n 130    ", 1, true), cmd)
      end
      local h2 = cli.run { "help", cmd }
      assert.are.equal(0, h2.code, cmd)
      assert.are.equal(h.out, h2.out)
    end
  end)

  it("exits 2 on usage errors, with the usage", function()
    for _, argv in ipairs {
      {}, { "frob" }, { "track" }, { "track", "A", "--spi", "B" }, { "find", "--limit", "x", "A" },
      { "track", "ABCDEFGHIJKLMNOPQRSTU" }, { "--color", "pink", "check", "A" },
      { "bulk" }, { "bulk", "/nonexistent/refs" }, { "watch", "A", "--every", "0" },
    } do
      local r = cli.run(argv)
      assert.are.equal(2, r.code, table.concat(argv, " ") .. ": " .. r.err)
      assert.are.equal("", r.out)
      assert.truthy(r.err:find("^Usage: soget") or r.err:find("^soget: "), r.err)
    end
  end)

  it("refuses a negative number by its option's range, and an option given twice", function()
    for _, c in ipairs {
      { { "find", "MSCU", "--limit", "-1" }, "Error: '-1' must be at least 1\n" },
      { { "search", "--document", "X", "--page-size", "-3" }, "Error: '-3' is not between 1 and 10\n" },
      { { "bulk", "-c", "-1", "refs.csv" }, "Error: '-1' is not between 1 and 64\n" },
      { { "--retries", "-1", "track", "X" }, "Error: '-1' is not between 0 and 10\n" },
      { { "watch", "X", "--every", "-.5" }, "Error: '-.5' is not between 0.1 and 86400\n" },
    } do
      local r = cli.run(c[1])
      assert.are.equal(2, r.code, r.err)
      assert.are.equal(c[2], r.err:sub(-#c[2]), r.err)
    end
    -- an option given twice is refused, not the last one taken
    for _, argv in ipairs { { "search", "--document", "A", "--document", "B" },
                            { "--timeout", "3", "--timeout", "4", "check", "CSQU3054383" },
                            { "bulk", "-c", "2", "--concurrency", "3", "refs.csv" } } do
      local r = cli.run(argv)
      assert.are.equal(2, r.code, r.err)
      assert.truthy(r.err:find("Error: option '%-[%-%w]+' must be used at most 1 time\n$"), r.err)
    end
    -- after "--", "-1" is an argument: a reference, looked up
    local r = cli.run { "track", "--max", "2", "--", "-1" }
    assert.are.equal(1, r.code, r.err)
    assert.are.equal("soget: no handling unit matches -1\n", r.err)
  end)

  it("exits 2 on usage errors even where no credentials are set, 3 once it needs them", function()
    local none = { SOGET_API_KEY = false, SOGET_CLIENT_ID = false, SOGET_CLIENT_SECRET = false }
    for _, argv in ipairs { { "track" }, { "search", "--customs", "import" },
                            { "bulk", "/nonexistent/refs" }, { "watch", "A", "--every", "0" },
                            { "find", "--limit", "0", "A" } } do
      local r = cli.run(argv, { env = none })
      assert.are.equal(2, r.code, table.concat(argv, " ") .. ": " .. r.err)
    end
    local r = cli.run({ "track", "CGMU2436601" }, { env = none })
    assert.are.equal(3, r.code, r.err)
    assert.truthy(r.err:find("no API key", 1, true), r.err)
  end)

  it("exits 74 when its results cannot be written, and says so", function()
    -- the help too (argparse's own printing), and watch at its first
    -- events, rather than polling on unseen (it would until killed)
    for _, argv in ipairs { { "check", "CSQU3054383" }, { "track", "CGMU2436601" },
                            { "find", "MSCU", "--limit", "3" }, { "--help" },
                            { "track", "--help" }, { "help", "track" }, { "help" },
                            { "watch", "CGMU2436601", "--every", "0.2" },
                            -- larger than the output's buffer: failing at a write, not the flush
                            { "completion", "bash" } } do
      local r = cli.run(argv, { out = "/dev/full", timeout = 20 })
      assert.are.equal(74, r.code, table.concat(argv, " ") .. ": " .. r.err)
      assert.truthy(r.err:find("soget: cannot write the results: ", 1, true), r.err)
    end
  end)

  it("offers the customs flags and completion's shells in its completion scripts, taking any case still", function()
    -- (bash and fish run the installed scripts: spec/install/docs_spec.lua)
    local r = cli.run { "completion", "zsh" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("]: :(Unknown Import Export Transhipment Transit)", 1, true), r.out)
    assert.truthy(r.out:find(": :(bash zsh fish)", 1, true), r.out)
    r = cli.run { "completion", "bash" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find('compgen -W "Unknown Import Export Transhipment Transit"', 1, true), r.out)
    assert.truthy(r.out:find("'completion')\n            COMPREPLY=($(compgen -W \"bash zsh fish\"", 1, true), r.out)
    -- the choices are offered, not imposed
    r = cli.run({ "search", "--document", "3714238101", "--customs", "iMPORT", "--json" })
    assert.are_not.equal(2, r.code, r.err)
  end)

  it("refuses an input larger than 16 MiB, reading no more of it", function()
    -- /dev/zero: an endless input, which took all memory
    local r = cli.run({ "bulk", "/dev/zero" }, { timeout = 20 })
    assert.are.equal(2, r.code, r.err)
    assert.are.equal("soget: /dev/zero is larger than 16 MiB: split it\n", r.err)
    assert.are.equal("", r.out)
  end)

  it("refuses more references than its cap, under 16 MiB, with no lookup and little memory", function()
    -- 8 million lines of a byte each (16 MiB less 16 bytes): a table or
    -- two a line took 3 GB and two minutes before the first lookup. The
    -- address space is bounded so that a regression fails here rather
    -- than taking the machine's memory (not under ASan, whose shadow
    -- memory needs more).
    local dir = cli.tmpdir()
    finally(function() cli.rm(dir) end)
    cli.write(dir .. "/ctl.csv", ("\1\n"):rep(8 * 1048576 - 8))
    cli.support.reset()
    local r = cli.run({ "bulk", dir .. "/ctl.csv" }, { timeout = 60,
      sh = os.getenv("SOGET_ASAN_RT") and "" or "ulimit -v 1048576; " })
    assert.are.equal(2, r.code, r.err)
    assert.are.equal("soget: " .. dir .. "/ctl.csv: more than 1000000 references: split it\n", r.err)
    assert.are.equal("", r.out)
    assert.are.equal(0, cli.support.stats().api_requests)
  end)

  it("stops fetching once its results cannot be written", function()
    -- find walked the whole listing (MSCU: 41 pages) after its first
    -- failed write
    cli.support.reset()
    local r = cli.run({ "find", "MSCU" }, { out = "/dev/full", timeout = 20 })
    assert.are.equal(74, r.code, r.err)
    assert.truthy(cli.support.stats().api_requests <= 2, cli.support.stats().api_requests)
    -- and search, with no summary of units it did not write
    for _, json in ipairs { false, true } do
      cli.support.reset()
      r = cli.run({ "search", "--document", "3714238101", json and "--json" or nil },
        { out = "/dev/full", timeout = 20 })
      assert.are.equal(74, r.code, r.err)
      assert.truthy(r.err:find("^soget: cannot write the results: [^\n]*\n$"), r.err)
      assert.are.equal(1, cli.support.stats().search_requests)
    end
  end)

  it("says so when the input of bulk cannot be read (a folder, a closed standard input)", function()
    local r = cli.run { "bulk", "spec" }
    assert.are.equal(2, r.code, r.err)
    assert.are.equal("soget: cannot read spec: Is a directory\n", r.err)
    assert.are.equal("", r.out)
    local home = cli.tmpdir()
    local err = home .. "/err"
    local code = cli.support.execute(cli.run_prefix(home) .. " bin/soget bulk - <&- >/dev/null 2>"
      .. cli.q(err))
    assert.are.equal(2, code, cli.read(err))
    assert.are.equal("soget: cannot read the standard input: it is closed\n", cli.read(err))
    cli.rm(home)
  end)

  it("exits 74 at once when its standard output is closed, sending nothing", function()
    -- libcurl's first descriptor took the number 1, and the results went
    -- into it: find, search, bulk and watch exited 0 having written nothing
    local home = cli.tmpdir()
    local err = home .. "/err"
    cli.support.reset()
    for _, argv in ipairs { "find CGMU --limit 20", "search --document 3714238101", "track CGMU2436601",
                            "watch CGMU2436601 --count 1" } do
      local code = cli.support.execute(cli.run_prefix(home) .. " bin/soget " .. argv .. " >&- 2>"
        .. cli.q(err))
      assert.are.equal(74, code, argv .. ": " .. tostring(cli.read(err)))
      assert.are.equal("soget: cannot write the results: the standard output is closed\n", cli.read(err))
    end
    assert.are.equal(0, cli.support.stats().api_requests)
    cli.rm(home)
  end)

  it("says what it would have meant on lines of their own, and exits 2 from help too", function()
    local r = cli.run { "track", "--jsn", "CGMU2436601" }
    assert.are.equal(2, r.code, r.err)
    assert.truthy(r.err:find("\n\nError: unknown option '--jsn'\nDid you mean '--json'?\n", 1, true),
      r.err)
    r = cli.run { "trak", "CGMU2436601" }
    assert.are.equal(2, r.code, r.err)
    assert.truthy(r.err:find("Error: unknown command 'trak'\nDid you mean 'track'%?\n$"), r.err)
    r = cli.run { "help", "nope" }
    assert.are.equal(2, r.code, r.err)
    assert.truthy(r.err:find("^Usage: soget help.*\n\nError: unknown command 'nope'\n$"), r.err)
  end)

  it("prints its version, the module's and libcurl's", function()
    local r = cli.run { "--version" }
    assert.are.equal(0, r.code)
    local soget = require "soget"
    assert.are.equal(string.format("soget 0.1.0 (module %s, libcurl %s)\n",
      soget._VERSION:match("[%d.]+$"), soget.libcurl_version), r.out)
    assert.truthy(soget.libcurl_version:match("^%d+%.%d+%.%d+"), soget.libcurl_version)
  end)

  it("names find's argument in its usage as its help does", function()
    local r = cli.run { "find", "--help" }
    assert.truthy(r.out:find("^Usage: soget find [^\n]*\n?[^\n]*%[<prefix>%]"), r.out)
    assert.truthy(r.out:find("\nArguments:\n   prefix ", 1, true), r.out)
    local u = cli.run { "find" }
    assert.are.equal(2, u.code)
    assert.truthy(u.err:find("give a prefix or --spi", 1, true), u.err)
  end)
end)
