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

  it("show a hostile server's strings with their escapes visible, and take null fields", function()
    local hostile = require "cli.hostile"
    local srv = hostile.start()
    local ok, err = pcall(function()
      -- every string with a terminal title, a screen clear, a bidi override
      local bad = "\\u001b]0;pwned\\u0007\\u001b[2J\\u202e"
      local unit = ('{"reference":"CGMU2436601","pswId":"CNI1%s","freightFamily":"C%s",'
        .. '"huLocation":{"place":"FRLEH%s","location":null},"indicators":{"reefer":true},'
        .. '"temperatures":{"setPoint":null},"transport":{"meansName":"M%s","mode":null},'
        .. '"events":[{"eventType":null,"eventDate":"2020-05-21T08:30:12+02:00","eventPlace":"P%s"},'
        .. '{"eventType":"DIS%s"}],"shipments":[{"documentReference":"B%s"}]}'):gsub("%%s", bad)
      local page = '{"total":1,"returned":1,"first":0,"items":[' .. unit .. ']}'
      srv:handle("local PAGE = " .. hostile.literal(page) .. "\n"
        .. "return function(req)\n"
        .. "  if req.path == '/token' then return 200, "
        .. hostile.literal('{"access_token":"t","expires_in":3600,"token_type":"Bearer"}') .. " end\n"
        .. "  return 200, PAGE\n"
        .. "end\n")
      local env = ("SOGET_BASE_URL=%s SOGET_TOKEN_URL=%s "):format(S.shell_quote(srv.url .. "/api"),
        S.shell_quote(srv.url .. "/token"))
      for _, script in ipairs { "examples/track.lua", "examples/prefix.lua", "examples/embed/track.lua" } do
        local cmd = ("%sLUA_CPATH=%s timeout 60 %s %s CGMU2436601 2>&1; echo \"exit=$?\""):format(env,
          S.shell_quote(package.cpath), S.lua, script)
        local p = io.popen(cmd)
        local out = p:read("*a")
        p:close()
        assert.truthy(out:find("exit=0%s*$"), script .. ": " .. out)
        assert.is_nil(out:gsub("\n", ""):find("%c"), script .. ": a control character in " .. out)
        assert.is_nil(out:find("\226\128\174", 1, true), script .. ": U+202E raw in " .. out)
        assert.truthy(out:find("CNI1\\x1b]0;pwned\\x07\\x1b[2J\\u202e", 1, true), script .. ": " .. out)
      end
    end)
    srv:stop()
    assert(ok, err)
  end)

  it("errors.lua shows each way a call can fail", function()
    local out, code = run("examples/errors.lua")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("raised:\tfalse\thandling_units: 'limit'", 1, true), out)
    assert.truthy(out:find("ZZZZ0000000:\tnot found", 1, true), out)
    assert.truthy(out:find("(R003)", 1, true), out)
  end)

  -- make demo's script, with the runtime's own build (as make demo builds
  -- it): in the plain runs, whose module is that build.
  local V = os.getenv("LUA_VERSION") or "5.4"
  local BUILD = V == "jit" and "build/luajit" or "build/lua" .. V
  if os.getenv("SOGET_MODULE_DIR") == BUILD then
    it("demo.sh (make demo) tracks CGMU2436601 on its own sandbox, leaving no token file", function()
      local home = os.tmpname()
      os.remove(home)
      assert(os.execute("mkdir -m 700 " .. S.shell_quote(home)))
      -- with the suite's sandbox in its environment, as a shell that ran
      -- `eval "$(sandbox/run start)"` has: the script starts and stops its
      -- own, and leaves that one running (it stopped it)
      S.reset()
      local p = io.popen(("env -u XDG_CACHE_HOME HOME=%s LUA_VERSION=%s "
        .. "timeout 120 examples/demo.sh 2>&1; echo \"exit=$?\""):format(
        S.shell_quote(home), S.shell_quote(V)))
      local out = p:read("*a")
      p:close()
      local left = io.popen("find " .. S.shell_quote(home) .. " -mindepth 1"):read("*a")
      os.execute("rm -rf " .. S.shell_quote(home))
      assert.are.equal("0", out:match("exit=(%d+)%s*$"), out)
      assert.truthy(out:find("== soget track CGMU2436601", 1, true), out)
      assert.truthy(out:find("now at", 1, true), out)
      local url = out:match("== sandbox on (%S+)")
      assert.truthy(url and url ~= S.base_url, out)
      assert.are.equal("", left, "left in HOME: " .. left)
      assert.are.equal(0, S.stats().api_requests)   -- the suite's sandbox: running, unused
    end)
  end
end)
