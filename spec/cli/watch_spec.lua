-- soget watch: new events only, through transient failures.
local cli = require "cli.cli"
local cjson = require "cjson"
local support = cli.support

describe("soget watch", function()
  it("prints each event once over several polls", function()
    local r = cli.run { "watch", "CGMU2436601", "--every", "0.1", "--count", "3" }
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(5, #lines)
    assert.truthy(lines[1]:find("^2020%-05%-14T09:12:00%+02:00  MAN"))
    assert.truthy(lines[5]:find("^2020%-05%-21T08:30:12%+02:00  CUS"))
    assert.truthy(lines[3]:find("  In  ", 1, true))
    assert.truthy(lines[5]:find("CGMU2436601$"))
  end)

  it("keeps going through transient failures with a note on stderr", function()
    local base = support.fault_base("503-then-ok:n=2:id=" .. support.uid("watch"))
    local r = cli.run({ "--retries", "0", "watch", "CGMU2436601", "--every", "0.1",
      "--count", "4", "--json" }, { env = { SOGET_BASE_URL = base } })
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(5, #lines)
    assert.are.equal("MAN", cjson.decode(lines[1]).eventType)
    assert.are.equal("CGMU2436601", cjson.decode(lines[1]).reference)
    local notes = cli.lines(r.err)
    assert.are.equal(2, #notes)
    for _, n in ipairs(notes) do
      assert.truthy(n:find("^soget: %d%d:%d%d:%d%d temporary failure, will retry: .*HTTP 503"), n)
    end
  end)

  it("stops on a failure that is not transient", function()
    local r = cli.run({ "--no-token-cache", "watch", "CGMU2436601", "--every", "0.1", "--count", "3" },
      { env = { SOGET_CLIENT_SECRET = "wrong" } })
    assert.are.equal(4, r.code)
    assert.are.equal("", r.out)
  end)

  it("exits 5 when every poll failed on the network", function()
    local r = cli.run({ "--retries", "0", "--timeout", "2", "watch", "CGMU2436601", "--every", "0.1",
      "--count", "3" }, { env = { SOGET_BASE_URL = "https://127.0.0.1:1/api-tracing-code/v1" } })
    assert.are.equal(5, r.code, r.err)
    assert.are.equal("", r.out)
    local notes = cli.lines(r.err)
    assert.are.equal(4, #notes)   -- one a poll, then the end
    assert.truthy(notes[1]:find("temporary failure, will retry: network: ", 1, true), notes[1])
    assert.truthy(notes[4]:find("^soget: every poll failed %(3%); the last: network: "), notes[4])
    -- a server that fails every poll: its code (6)
    local base = support.fault_base("503-then-ok:n=9:id=" .. support.uid("wall"))
    local s = cli.run({ "--retries", "0", "watch", "CGMU2436601", "--every", "0.1", "--count", "2" },
      { env = { SOGET_BASE_URL = base } })
    assert.are.equal(6, s.code, s.err)
    -- one poll that answers is enough for the usual codes
    local base2 = support.fault_base("503-then-ok:n=1:id=" .. support.uid("wone"))
    local t = cli.run({ "--retries", "0", "watch", "ZZZZ0000000", "--every", "0.1", "--count", "2" },
      { env = { SOGET_BASE_URL = base2 } })
    assert.are.equal(1, t.code, t.err)
  end)

  it("watches the reference exactly, or with --prefix the first page of units it begins", function()
    local r = cli.run { "watch", "SOGET LOT 7", "--every", "0.1", "--count", "1", "--json" }
    assert.are.equal(0, r.code, r.err)
    local refs = {}
    for _, l in ipairs(cli.lines(r.out)) do refs[cjson.decode(l).reference] = true end
    assert.are.same({ ["SOGET LOT 7"] = true }, refs)
    local p = cli.run { "watch", "SOGET LOT 7", "--prefix", "--every", "0.1", "--count", "1", "--json" }
    assert.are.equal(0, p.code, p.err)
    refs = {}
    for _, l in ipairs(cli.lines(p.out)) do refs[cjson.decode(l).reference] = true end
    assert.truthy(refs["SOGET LOT 70"])
    -- 11 units begin so, a page holds 10: said, once
    assert.are.equal("soget: watching the first 10 of the 11 units SOGET LOT 7 begins: narrow "
      .. "the prefix to watch the others\n", p.err)
    local n = 0
    for _ in pairs(refs) do n = n + 1 end
    assert.truthy(n <= 10, n)
  end)

  it("takes a page that announces units and holds none for a failed poll, and counts no total the server did not send", function()
    local r = cli.run({ "watch", "SOGET LOT 7", "--prefix", "--every", "0.1", "--count", "2" },
      { env = { SOGET_BASE_URL = cli.support.fault_base("inconsistent:mode=short") } })
    assert.are.equal(6, r.code, r.err)
    assert.truthy(r.err:find("soget: every poll failed (2); the last: api: the server's page "
      .. "announces 11 units and holds none\n", 1, true), r.err)
    -- no total: a full page may not be all
    local p = cli.run({ "watch", "SOGET LOT 7", "--prefix", "--every", "0.1", "--count", "1" },
      { env = { SOGET_BASE_URL = cli.support.fault_base("no-total") } })
    assert.are.equal(0, p.code, p.err)
    assert.are.equal("soget: watching the first 10 units SOGET LOT 7 begins (the server sent no "
      .. "total: there may be more): narrow the prefix to watch any others\n", p.err)
  end)

  it("exits 1 when the unit never appears", function()
    local r = cli.run { "watch", "ZZZZ0000000", "--every", "0.1", "--count", "2" }
    assert.are.equal(1, r.code)
    assert.are.equal("soget: no handling unit matches ZZZZ0000000 yet\n", r.err)
  end)

  it("exits 130 at once when SIGINT reaches it alone while it waits (kill -INT, a supervisor)", function()
    -- Ctrl-C on a terminal signals the whole group (terminal_spec.lua); a
    -- `sleep` child, run with SIGINT ignored in soget, lost a signal sent
    -- to soget alone, and the watch went on
    local work = cli.tmpdir()
    local q = support.shell_quote
    local prefix = cli.run_prefix(work)
    support.execute("( sh -c " .. q("echo $$ > " .. q(work .. "/pid") .. "; exec " .. prefix
      .. " bin/soget watch CGMU2436601 --every 30 --count 2 --json >" .. q(work .. "/out")
      .. " 2>" .. q(work .. "/err") .. " </dev/null") .. "; echo $? > " .. q(work .. "/rc") .. " ) &")
    local pid
    for _ = 1, 200 do   -- the first poll printed: the watch now waits 30 s
      pid = (cli.read(work .. "/pid") or ""):match("%d+")
      if pid and #cli.lines(cli.read(work .. "/out") or "") >= 5 then break end
      cli.sleep(0.1)
    end
    assert.truthy(pid, "soget watch did not start")
    assert.are.equal(5, #cli.lines(cli.read(work .. "/out") or ""), cli.read(work .. "/err"))
    cli.sleep(0.3)
    support.execute("kill -INT " .. pid)
    local rc
    for _ = 1, 50 do
      rc = (cli.read(work .. "/rc") or ""):match("%d+")
      if rc then break end
      cli.sleep(0.1)
    end
    if not rc then support.execute("kill -KILL " .. pid .. " 2>/dev/null") end
    local err = cli.read(work .. "/err") or ""
    cli.rm(work)
    assert.are.equal("130", rc, "still watching 5 s after SIGINT")
    assert.is_nil(err:lower():find("traceback", 1, true), err)
  end)
end)
