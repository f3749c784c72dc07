-- Ctrl-C in the standalone interpreter (lua, luajit) while soget waits in
-- C: a request out, a retry's wait, the token request, a batch. The
-- interpreter's SIGINT handler sets a hook that raises "interrupted!" at
-- the next instruction; the call must return at once for it to run, not
-- when the server answers. Each case runs a script under the interpreter
-- of the suite (in the background, bounded by timeout(1)), sends it SIGINT
-- once its request is at the sandbox, and times how long it takes to end:
-- the sandbox would hold the request (or the retry would wait) 30 s or more.
local S = require "support"

local q = S.shell_quote
local MODULE_DIR = os.getenv("SOGET_MODULE_DIR") or "build/lua5.4"
local JIT = os.getenv("LUA_VERSION") == "jit"

local function sh(cmd) return S.execute(cmd) == 0 end

local function sleep(s) sh("sleep " .. s) end

local function alive(pid) return sh("kill -0 " .. pid .. " 2>/dev/null") end

-- The script's head: the module, and a client for the fault `fault` on
-- the API URL (`on = "token"`: on the token URL).
local function head(fault, on)
  local o = {
    "package.cpath = " .. ("%q"):format(MODULE_DIR .. "/?.so;") .. " .. package.cpath",
    "local soget = require 'soget'",
    "local opts = { timeout = 60, retries = 3 }",
  }
  if on == "token" then
    o[#o + 1] = "opts.token_url = " .. ("%q"):format(S.fault_token(fault))
  else
    o[#o + 1] = "opts.base_url = " .. ("%q"):format(S.fault_base(fault))
  end
  o[#o + 1] = "local c = soget.client(opts)"
  return table.concat(o, "\n") .. "\n"
end

local dir

-- Runs script in the background; once the sandbox has counted `requests`
-- of the kind `counter` (its stats, counted as they arrive), sends SIGINT.
-- Returns the seconds from the signal to the script's end (nil: still
-- running 10 s later, then killed), its stdout, stderr and exit status.
local function interrupt(script, counter, requests)
  local file = dir .. "/script.lua"
  S.write_file(file, script)
  S.reset()
  os.remove(dir .. "/rc")
  -- --foreground: timeout(1) hands a signal on to the interpreter alone;
  -- else it sends it to its process group too, and the interpreter, whose
  -- handler gives SIGINT back its default action, could get a second
  -- Ctrl-C that ends it at once, before its hook runs
  local pid = tonumber(S.popen_read("(timeout --foreground -s KILL 90 " .. S.lua .. " " .. q(file)
    .. " >" .. q(dir .. "/out") .. " 2>" .. q(dir .. "/err") .. " </dev/null; echo $? >"
    .. q(dir .. "/rc") .. ") >/dev/null 2>&1 & echo $!"):match("%d+"))
  assert(pid, "the script did not start")
  local seen = 0
  for _ = 1, 200 do
    seen = S.stats()[counter] or 0
    if seen >= requests then break end
    sleep(0.05)
  end
  assert(seen >= requests, "the script's requests did not reach the sandbox: "
    .. S.read_file(dir .. "/err"))
  sleep(0.3)   -- the request out (or the wait begun) well before the signal
  local t0 = S.now()
  sh("pkill -INT -P " .. pid)   -- timeout(1), which hands it on to the interpreter
  local took
  for _ = 1, 200 do
    if not alive(pid) then
      took = S.now() - t0
      break
    end
    sleep(0.05)
  end
  if not took then   -- the interpreter too, which timeout(1) killed would leave
    sh("pkill -KILL -f " .. q(file) .. "; kill -KILL " .. pid .. " 2>/dev/null")
  end
  return took, S.read_file(dir .. "/out"), S.read_file(dir .. "/err"), S.read_file(dir .. "/rc")
end

local function ended_at_once(took, out, err, rc)
  assert.truthy(took, "still running 10 s after Ctrl-C\nstdout: " .. out .. "\nstderr: " .. err)
  assert.truthy(took < 5, ("ended %.1f s after Ctrl-C"):format(took))
  assert.truthy(err:find("interrupted!", 1, true), err)
  -- the interpreter's exit for an error (valgrind's for its findings: 97)
  assert.are.equal("1\n", rc, err)
end

describe("Ctrl-C in the standalone interpreter", function()
  setup(function()
    dir = S.popen_read("mktemp -d"):gsub("%s+$", "")
  end)
  teardown(function()
    if dir and dir:find("^/tmp/") then sh("rm -rf " .. q(dir)) end
  end)

  it("ends a lookup whose request is out at once, with the interpreter's error", function()
    ended_at_once(interrupt(head("delay:ms=30000") .. "c:handling_units('CGMU2436601')\n",
      "api_requests", 1))
  end)

  it("ends a retry's wait at once", function()
    ended_at_once(interrupt(head("429:retry-after=40") .. "c:handling_units('CGMU2436601')\n",
      "api_requests", 1))
  end)

  it("ends the token request at once", function()
    ended_at_once(interrupt(head("delay:ms=30000", "token") .. "c:handling_units('CGMU2436601')\n",
      "token_requests", 1))
  end)

  it("ends a page walk at once, with the interpreter's error", function()
    -- its second page needs a token from a token URL that holds it: the
    -- first page's expires after one request (on 5.1 and LuaJIT the error
    -- the walk raised met the interpreter's hook in its message handler:
    -- "error in error handling")
    local script = table.concat({
      "package.cpath = " .. ("%q"):format(MODULE_DIR .. "/?.so;") .. " .. package.cpath",
      "local soget = require 'soget'",
      "local helper = soget.client()",
      "local c = soget.client{ timeout = 60, retries = 3,",
      "  base_url = " .. ("%q"):format(S.fault_base("expire-token:after=1:id=" .. S.uid("walk"))) .. ",",
      "  token_url = " .. ("%q"):format(S.fault_token("delay:ms=30000")) .. " }",
      "c:set_token(assert(helper:token()), 3600)",
      "local page = assert(c:handling_units{ reference = 'MSCU', limit = 10 })",
      "local n = 0",
      "for _ in page:iter() do n = n + 1 end",
      "print('walked', n)",
    }, "\n") .. "\n"
    local took, out, err, rc = interrupt(script, "token_requests", 2)
    ended_at_once(took, out, err, rc)
    assert.are.equal("", out)
    assert.is_nil(err:find("error in error handling", 1, true), err)
  end)

  it("ends a batch at once, every lookup not answered yet interrupted", function()
    -- in a coroutine, so that the batch returns before the hook raises
    -- (but on LuaJIT, see below)
    local took, out, err, rc = interrupt(head("delay:ms=30000") .. [[
local qs = {}
for i = 1, 12 do qs[i] = 'CGMU2436601' end
coroutine.wrap(function()
  local results = c:handling_units_many(qs, { concurrency = 3 })
  local kinds = {}
  for i, r in ipairs(results) do kinds[i] = r.kind or 'page' end
  print(#results, table.concat(kinds, ','))
end)()
]], "api_requests", 3)
    ended_at_once(took, out, err, rc)
    if JIT then   -- its hook is global: it raised in the coroutine already
      assert.are.equal("", out)
    else
      assert.are.equal("12\t" .. ("interrupted,"):rep(11) .. "interrupted\n", out)
    end
  end)

  it("gives the call an interrupted error in a coroutine; calls begun after are not stopped", function()
    -- The hook is the main thread's: it raises once the coroutine is done
    -- (LuaJIT's hooks are the whole state's: there it raises in the
    -- coroutine, at once).
    local took, out, err, rc = interrupt(head("delay:ms=30000") .. [[
coroutine.wrap(function()
  local page, e = c:handling_units('CGMU2436601')
  print(page, e.kind, e.retryable, tostring(e))
  local c2 = soget.client()
  local p = assert(c2:handling_units('CGMU2436601'))
  local results = c2:handling_units_many({ 'CGMU2436601', 'CGMU2436601' })
  print('again', p.total > 0, #results, results[1].total == p.total, results[2].total == p.total)
end)()
]], "api_requests", 1)
    ended_at_once(took, out, err, rc)
    if JIT then
      assert.are.equal("", out)
    else
      assert.are.equal("nil\tinterrupted\tfalse\tsoget: interrupted: stopped before the call completed\n"
        .. "again\ttrue\t2\ttrue\ttrue\n", out)
    end
  end)
end)
