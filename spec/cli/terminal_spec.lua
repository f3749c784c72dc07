-- On a terminal (tmux): colours, the progress bar, Ctrl-C. In a pipe: none.
local cli = require "cli.cli"

-- Whether `text` on the screen is drawn with SGR attribute `code` (tmux
-- re-encodes attributes, so look at the escapes just before the text).
local function styled(screen, text, code)
  local at = screen:find(text, 1, true)
  if not at then return false end
  local before = screen:sub(math.max(1, at - 24), at - 1):match("[^\n]*$")
  for seq in before:gmatch("\27%[([%d;]*)m") do
    for n in seq:gmatch("%d+") do
      if n == code then return true end
    end
  end
  return false
end

local function has_tmux()
  return cli.support.execute("command -v tmux >/dev/null 2>&1") == 0
end

describe("soget on a terminal", function()
  it("has tmux to run on (Debian package tmux; make deps)", function()
    assert.is_true(has_tmux())
  end)
  if not has_tmux() then return end

  local home, term
  before_each(function()
    home = cli.tmpdir()
    term = cli.term(home)
  end)
  after_each(function()
    if term then term:kill() end
    cli.rm(home)
  end)

  it("colours the timeline on a terminal, not with NO_COLOR, not in a pipe", function()
    local done = term:type { "track", "CGMU2436601" }
    local screen = assert(term:wait_for(done))
    assert.truthy(screen:find("rc=0", 1, true))
    local colored = term:screen(true)
    assert.is_true(styled(colored, "CGMU2436601", "1"), colored)
    assert.is_true(styled(colored, "yes, IMO class 3", "31"), colored)
    assert.is_true(styled(colored, "In", "32"), colored)
    assert.is_false(styled(colored, "Import", "31"))

    term.env.NO_COLOR = "1"
    done = term:type { "track", "CGMU2436601" }
    screen = assert(term:wait_for(done))
    assert.truthy(screen:find("Events (5, oldest first)", 1, true))
    assert.is_nil(term:screen(true):find("\27%[1m"))

    term.env.NO_COLOR = false
    done = term:type({ "track", "CGMU2436601" }, " | cat")
    screen = assert(term:wait_for(done))
    assert.truthy(screen:find("Events (5, oldest first)", 1, true))
    assert.is_nil(term:screen(true):find("\27%[1m"))
  end)

  it("shows a progress bar on stderr when it is a terminal, and not in a pipe", function()
    local refs = {}
    for i = 1, 40 do refs[i] = string.format("MSCU%07d", i) end
    refs[#refs + 1] = "CGMU2436601"
    cli.write(home .. "/refs.txt", table.concat(refs, "\n") .. "\n")
    term:record()
    local done = term:type({ "bulk", home .. "/refs.txt", "--concurrency", "2" }, " >" .. cli.q(home .. "/out.csv"))
    local screen = assert(term:wait_for(done))
    assert.truthy(screen:find("41 references: 1 found, 40 not found, 0 failed", 1, true), screen)
    assert.truthy(screen:find("rc=1", 1, true))
    local raw = term:raw()
    assert.truthy(raw:find("41/41  found 1  not found 40  failed 0", 1, true), raw)
    assert.truthy(raw:find("█", 1, true))
    assert.truthy(raw:find("\r\27[K", 1, true))
    -- the summary on the terminal (stderr) coloured, stdout a file
    assert.is_true(styled(term:screen(true), "1 found", "32"), term:screen(true))
    -- the bar is gone from the screen once done
    assert.is_nil(screen:find("█", 1, true))

    local done2 = term:type({ "bulk", home .. "/refs.txt" }, " 2>" .. cli.q(home .. "/err.txt") .. " >/dev/null")
    assert(term:wait_for(done2))
    local err = cli.read(home .. "/err.txt")
    assert.are.equal("soget: 41 references: 1 found, 40 not found, 0 failed\n", err)
    -- stderr a file, stdout the terminal: no colour in the file either
    local done4 = term:type({ "bulk", home .. "/refs.txt" }, " 2>" .. cli.q(home .. "/err2.txt"))
    assert(term:wait_for(done4))
    assert.are.equal("soget: 41 references: 1 found, 40 not found, 0 failed\n", cli.read(home .. "/err2.txt"))

    -- rows on the same terminal: the bar is cleared before each, which
    -- begins its own line (the bar ran into the first row)
    local done3 = term:type({ "bulk", home .. "/refs.txt", "--concurrency", "2" })
    screen = assert(term:wait_for(done3))
    assert.truthy(screen:find("\nCGMU2436601,found,1,", 1, true), screen)
    assert.truthy(screen:find("\nMSCU0000001,not_found,0,", 1, true), screen)
    assert.is_nil(screen:find("failed %d+MSCU"), screen)
    assert.is_nil(screen:find("█", 1, true))
  end)

  it("counts ambiguous prefixes in the progress bar as in the summary (--prefix)", function()
    cli.write(home .. "/prefixes.txt", "MSCU\nCGMU2436601\nZZZU9\n")
    term:record()
    local done = term:type({ "bulk", home .. "/prefixes.txt", "--prefix" }, " >/dev/null")
    local screen = assert(term:wait_for(done))
    assert.truthy(screen:find("3 references: 1 found, 1 ambiguous, 1 not found, 0 failed", 1, true),
      screen)
    local raw = term:raw()
    assert.truthy(raw:find("3/3  found 1  ambiguous 1  not found 1  failed 0", 1, true), raw)
  end)

  it("stops watch cleanly on Ctrl-C while it sleeps, exiting 130", function()
    local done = term:type { "watch", "CGMU2436601", "--every", "30" }
    assert(term:wait_for("CUS", 20))
    term:keys("C-c")
    local screen = assert(term:wait_for(done, 10))
    assert.truthy(screen:find("rc=130", 1, true), screen)
    assert.is_nil(screen:lower():find("traceback", 1, true))
    assert.is_nil(screen:find("interrupted!", 1, true))
    assert.is_nil(screen:find("lua5.4:", 1, true))
  end)

  it("stops cleanly on Ctrl-C in the middle of a request, at once, exiting 130", function()
    -- the server would hold the request 30 s: the program ends well before
    term.env.SOGET_BASE_URL = cli.support.fault_base("delay:ms=30000")
    cli.support.reset()
    local done = term:type { "track", "CGMU2436601" }
    -- Ctrl-C once the request is at the server (bounded wait), whatever
    -- the machine's speed
    for _ = 1, 100 do
      if cli.support.stats().api_requests >= 1 then break end
      cli.sleep(0.1)
    end
    cli.sleep(0.2)
    term:keys("C-c")
    local screen = assert(term:wait_for(done, 10))
    assert.truthy(screen:find("rc=130", 1, true), screen)
    assert.is_nil(screen:lower():find("traceback", 1, true))
    assert.is_nil(screen:find("interrupted!", 1, true))
    assert.is_nil(screen:find("CGMU2436601  Container", 1, true))
  end)
end)
