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

  it("exits 1 when the unit never appears", function()
    local r = cli.run { "watch", "ZZZZ0000000", "--every", "0.1", "--count", "2" }
    assert.are.equal(1, r.code)
    assert.are.equal("soget: no handling unit matches ZZZZ0000000 yet\n", r.err)
  end)
end)
