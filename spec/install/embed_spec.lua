-- examples/embed: a C host with soget linked in from libsoget.a, built with
-- make for the runtime under test and run against the sandbox (spec/run
-- exports SOGET_BASE_URL and the other settings the default client reads).
local sh = require "install.shell"
require "support"   -- fails early, and clearly, without a sandbox

local build = "build/lua" .. sh.runtime
local prog = build .. "/soget-embed"
local script = "examples/embed/track.lua"

local function embed(args, seconds)
  return sh.run(sh.quote(prog) .. " " .. args, seconds or 60)
end

describe("soget-embed", function()
  local tmp

  setup(function()
    sh.check("make embed LUA_VERSION=" .. sh.runtime)
    tmp = sh.mktemp()
  end)
  teardown(function() sh.rmtree(tmp) end)

  local function script_file(name, body)
    local path = tmp .. "/" .. name
    local f = assert(io.open(path, "w"))
    f:write(body)
    f:close()
    return path
  end

  it("is built from libsoget.a", function()
    assert.is_true(sh.exists(build .. "/libsoget.a"))
    assert.is_true(sh.exists(prog))
    -- The archive carries the entry point the host registers.
    local out = sh.check("nm " .. sh.quote(build .. "/libsoget.a"))
    assert.truthy(out:find(" T luaopen_soget\n", 1, true))
  end)

  it("runs the sample script: one line about the container, exit 0", function()
    local code, out = embed(sh.quote(script))
    assert.are.equal(0, code, out)
    assert.truthy(out:match("^CGMU2436601 CNI0000063978 %S+: %u+ %d%d%d%d%-%d%d%-%d%dT[^\n]* %(%d+ events%)\n$"), out)
  end)

  it("loads soget without opening the file its argv[0] names (a FIFO there would hang it)", function()
    -- the module pins the shared object it lives in (src/io/pin.c); linked
    -- into a program, it is the program, whose name glibc gives as argv[0]
    local path = script_file("load.lua", 'require "soget"; print("loaded")')
    local fifo = tmp .. "/fifo"
    sh.check("mkfifo " .. sh.quote(fifo))
    local code, out = sh.run("bash -c " .. sh.quote("exec -a " .. sh.quote(fifo) .. " " .. sh.quote(prog) .. " "
      .. sh.quote(path)), 20)
    assert.are.equal(0, code, out)
    assert.are.equal("loaded\n", out)
  end)

  it("passes arguments and reports a lookup that finds nothing with exit 1", function()
    local code, out = embed(sh.quote(script) .. " MSCU0000000")
    assert.are.equal(1, code, out)
    assert.truthy(out:find("no handling unit for MSCU0000000", 1, true), out)
  end)

  it("gives the script arg, its arguments and the preloaded module", function()
    local path = script_file("args.lua", [[
      local soget = require "soget"
      print(soget._VERSION, arg[0] == ..., select("#", ...), arg[1], arg[2])
    ]])
    -- `...` holds the arguments after the script, so `arg[0] == ...` is false.
    local code, out = embed(sh.quote(path) .. " one 'two words'")
    assert.are.equal(0, code, out)
    assert.are.equal(require("soget")._VERSION .. "\tfalse\t2\tone\ttwo words\n", out)
  end)

  it("exits with 1 and the message on an error, 2 without a script", function()
    local path = script_file("boom.lua", 'error("boom")\n')
    local code, out = embed(sh.quote(path))
    assert.are.equal(1, code, out)
    assert.truthy(out:find("boom", 1, true), out)
    -- a soget.Error raised as it is: its own words (__tostring)
    path = script_file("raised.lua", [[
local s = require "soget"
local c = s.client { access_token = "t", api_key = "k", retries = 0,
  base_url = "http://127.0.0.1:9/api-tracing-code/v1" }
local _, e = c:handling_units("CGMU2436601")
error(e)
]])
    code, out = embed(sh.quote(path))
    assert.are.equal(1, code, out)
    assert.truthy(out:find("soget-embed: soget: network: ", 1, true), out)
    code, out = embed(sh.quote(tmp .. "/missing.lua"))
    assert.are.equal(1, code, out)
    code, out = embed("")
    assert.are.equal(2, code, out)
    assert.truthy(out:find("usage:", 1, true), out)
  end)

  it("exits with the whole number from 0 to 255 a script returns, 1 for any other", function()
    for _, c in ipairs { { "3", 3 }, { "0", 0 }, { "255", 255 }, { "256", 1 }, { "-1", 1 },
                         { "2.5", 1 }, { "1e100", 1 }, { "0/0", 1 }, { "false", 1 }, { "true", 0 } } do
      local path = script_file("ret.lua", "return " .. c[1] .. "\n")
      local code, out = embed(sh.quote(path))
      assert.are.equal(c[2], code, c[1] .. ": " .. out)
    end
  end)

  it("is valgrind-clean: no errors, no leaks", function()
    assert.is_true(sh.have("valgrind"), "valgrind is needed (Debian package valgrind; make deps)")
    local code, out = sh.run("valgrind -q --leak-check=full --show-leak-kinds=all"
      .. " --errors-for-leak-kinds=all --error-exitcode=99 "
      .. sh.quote(prog) .. " " .. sh.quote(script), 300)
    assert.are.equal(0, code, out)
    assert.truthy(out:match("^CGMU2436601 [^\n]*\n$"), out)
  end)
end)
