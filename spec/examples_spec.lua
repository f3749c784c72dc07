-- The scripts in examples/ run against the sandbox as a user would run them.
local S = require "support"

local function run(script, args)
  local cmd = ("LUA_CPATH=%s timeout 60 %s %s %s 2>&1; echo \"exit=$?\""):format(
    S.shell_quote(package.cpath), S.lua, script, args or "")
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out, tonumber(out:match("exit=(%d+)%s*$"))
end

describe("examples", function()
  it("track.lua prints the timeline of CGMU2436601", function()
    local out, code = run("examples/track.lua", "CGMU2436601")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("CGMU2436601", 1, true))
    assert.truthy(out:find("now at", 1, true), out)
    assert.truthy(out:find("events", 1, true), out)
    -- events print oldest first (UTC), whatever their offsets
    local last
    for date in out:gmatch("\n    (%d%d%d%d%-%d%d%-%d%dT[%d:]+[^ ]*)") do
      if last then assert.truthy(date >= last or date:sub(20) ~= last:sub(20), date) end
      last = date
    end
    assert.truthy(last, "at least one event")
  end)

  it("track.lua looks the reference up exactly: one lot, every passage of a container", function()
    local out, code = run("examples/track.lua", "'SOGET LOT 7'")
    assert.are.equal(0, code, out)
    local _, n = out:gsub("S%)ONE id", "")
    assert.are.equal(1, n, out)
    assert.is_nil(out:find("SOGET LOT 70", 1, true))
    out, code = run("examples/track.lua", "SOGU1000004")
    assert.are.equal(0, code, out)
    _, n = out:gsub("%(S%)ONE id CNI00009000%d%d%)", "")
    assert.are.equal(12, n, out)
  end)

  it("track.lua exits 1 for a container that is not there", function()
    local out, code = run("examples/track.lua", "ZZZZ0000000")
    assert.are.equal(1, code, out)
    assert.truthy(out:find("not found", 1, true))
  end)

  it("prefix.lua walks every match lazily on one connection", function()
    local out, code = run("examples/prefix.lua", "MSCU")
    assert.are.equal(0, code, out)
    local total = tonumber(out:match("^(%d+) units match"))
    local lines = 0
    for _ in out:gmatch("\n%s*%d+  ") do lines = lines + 1 end
    assert.are.equal(total, lines)
    assert.truthy(out:find("1 token request(s), 1 connection(s)", 1, true), out)
  end)

  it("errors.lua shows each way a call can fail", function()
    local out, code = run("examples/errors.lua")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("raised:\tfalse\thandling_units: 'limit'", 1, true), out)
    assert.truthy(out:find("ZZZZ0000000:\tnot found", 1, true), out)
    assert.truthy(out:find("(R003)", 1, true), out)
  end)
end)
