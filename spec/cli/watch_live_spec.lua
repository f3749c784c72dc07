-- soget watch while it runs: an event that arrives during the watch is
-- printed, once, and the watch goes on through the server going away and
-- coming back. The server is spec/cli/hostile.lua's nginx, stopped and
-- started again on its port by PID; the program runs in the background
-- (bounded by timeout(1)) and is stopped by its PID once the spec has seen
-- what it waits for.
local cli = require "cli.cli"
local hostile = require "cli.hostile"
local cjson = require "cjson"
local support = cli.support
local q = cli.q

local NGINX = os.getenv("SOGET_SANDBOX_NGINX")
  or (support.popen_read("command -v nginx || echo /usr/sbin/nginx"):gsub("%s+$", ""))

local TOKEN = '{"access_token":"watch-token","expires_in":3600,"token_type":"Bearer"}'
local EVENTS = {
  '{"eventType":"MAN","eventDate":"2020-05-14T09:12:00+02:00","eventPlace":"FRLEH"}',
  '{"eventType":"DIS","eventDate":"2020-05-18T14:40:00+02:00","eventPlace":"FRLEH","eventWay":"In"}',
  -- arrives while the server is away
  '{"eventType":"LOA","eventDate":"2020-05-23T10:05:00+02:00","eventPlace":"FRLEH","eventWay":"Out"}',
}

local function sh(cmd) return support.execute(cmd) == 0 end

-- What the program printed so far, for a failure's message.
local shown = function() return "" end

-- Waits (at most `limit` seconds) until f() is true.
local function wait_until(f, limit, what)
  local deadline = os.time() + (limit or 20)
  repeat
    if f() then return end
    cli.sleep(0.1)
  until os.time() > deadline
  error("waited " .. (limit or 20) .. " s for " .. what .. shown())
end

local function alive(pid)
  return pid and sh("kill -0 " .. pid .. " 2>/dev/null")
end

describe("soget watch, live", function()
  local srv, home, work, pid

  -- nginx gone, its directory kept: the server is away.
  local function server_away()
    sh("kill -TERM " .. srv.pid .. " 2>/dev/null")
    wait_until(function() return not alive(srv.pid) end, 10, "the server to stop")
    srv.pid = nil
  end

  -- The same nginx again, on the same port.
  local function server_back()
    os.remove(srv.dir .. "/nginx.pid")
    assert(sh("env -u LD_PRELOAD " .. q(NGINX) .. " -p " .. q(srv.dir .. "/") .. " -c "
      .. q(srv.dir .. "/nginx.conf") .. " -e " .. q(srv.dir .. "/error.log") .. " >/dev/null 2>&1"),
      "nginx did not start again")
    wait_until(function()
      srv.pid = support.read_file(srv.dir .. "/nginx.pid"):match("%d+")
      return srv.pid and sh("curl -s -o /dev/null --max-time 1 " .. q(srv.url .. "/ping"))
    end, 10, "the server to answer again")
  end

  local function out_lines() return cli.lines(support.read_file(work .. "/out")) end
  local function api_polls()
    local n = 0
    for _, r in ipairs(srv:requests()) do
      if r.path == "/api/handling-units" then n = n + 1 end
    end
    return n
  end

  setup(function()
    srv = hostile.start()
    home, work = cli.tmpdir(), cli.tmpdir()
  end)
  teardown(function()
    if pid then
      sh("pkill -KILL -P " .. pid .. " 2>/dev/null; kill -KILL " .. pid .. " 2>/dev/null")
    end
    if srv then srv:stop() end
    cli.rm(home)
    cli.rm(work)
  end)

  it("prints an event that arrives while it watches, once, through the server going away", function()
    local flag = work .. "/arrived"
    srv:handle("local TOKEN, FLAG = " .. hostile.literal(TOKEN) .. ", " .. hostile.literal(flag) .. "\n"
      .. "local E = { " .. hostile.literal(EVENTS[1]) .. ", " .. hostile.literal(EVENTS[2]) .. ", "
      .. hostile.literal(EVENTS[3]) .. " }\n" .. [[
return function(req)
  if req.path == "/token" then return 200, TOKEN end
  if req.path ~= "/api/handling-units" then return 404, "{}" end
  local events = { E[1], E[2] }
  local f = io.open(FLAG, "rb")
  if f then f:close(); events[3] = E[3] end
  return 200, '{"total":1,"returned":1,"first":0,"items":[{"reference":"CGMU2436601",'
    .. '"pswId":"CNI0000063978","events":[' .. table.concat(events, ",") .. ']}]}'
end
]])
    local env = cli.env(home, { SOGET_BASE_URL = srv.url .. "/api", SOGET_TOKEN_URL = srv.url .. "/token" })
    local parts, sets = { "env" }, {}
    for k, v in pairs(env) do
      if v == false then parts[#parts + 1] = "-u " .. k else sets[#sets + 1] = k .. "=" .. q(v) end
    end
    for _, a in ipairs(sets) do parts[#parts + 1] = a end
    pid = tonumber(support.popen_read(table.concat(parts, " ") .. " timeout 60 " .. cli.lua
      .. " bin/soget watch CGMU2436601 --every 0.2 --json </dev/null >" .. q(work .. "/out")
      .. " 2>" .. q(work .. "/err") .. " & echo $!"):match("%d+"))
    assert(pid, "soget watch did not start")
    shown = function()
      return "\nstdout:\n" .. support.read_file(work .. "/out") .. "stderr:\n" .. support.read_file(work .. "/err")
    end

    wait_until(function() return #out_lines() >= 2 end, 20, "the first two events")
    server_away()
    wait_until(function() return support.read_file(work .. "/err"):find("temporary failure", 1, true) end,
      20, "a note that the server is away")
    cli.write(flag, "")                            -- the event arrives meanwhile
    server_back()
    wait_until(function() return #out_lines() >= 3 end, 20, "the event that arrived")
    local polls = api_polls()
    wait_until(function() return api_polls() >= polls + 3 end, 20, "three more polls")
    assert.truthy(alive(pid), "soget watch ended on its own")
    sh("pkill -TERM -P " .. pid .. " 2>/dev/null")
    wait_until(function() return not alive(pid) end, 10, "soget watch to stop")
    pid = nil

    local types = {}
    for _, l in ipairs(out_lines()) do types[#types + 1] = cjson.decode(l).eventType end
    assert.are.same({ "MAN", "DIS", "LOA" }, types)   -- each once, the new one after
    local lines = out_lines()
    local loa = cjson.decode(lines[3])
    assert.are.equal("CGMU2436601", loa.reference)
    assert.are.equal("2020-05-23T10:05:00+02:00", loa.eventDate)
    local notes = cli.lines(support.read_file(work .. "/err"))
    assert.truthy(#notes >= 1)
    for _, n in ipairs(notes) do
      assert.truthy(n:find("^soget: %d%d:%d%d:%d%d temporary failure, will retry: network: "), n)
    end
  end)
end)
