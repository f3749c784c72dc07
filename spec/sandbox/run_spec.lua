-- sandbox/run: start/stop/status, two sandboxes at once, loud failures.
package.path = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/sandbox") .. "/?.lua;" .. package.path
local H = require("helper")
local E = H.env()

local RUN = H.root .. "/sandbox/run"
local KEYS = { "SOGET_SANDBOX_DIR", "SOGET_SANDBOX_PID", "SOGET_SANDBOX_HTTP", "SOGET_SANDBOX_HTTPS",
  "SOGET_BASE_URL", "SOGET_TOKEN_URL", "SOGET_CLIENT_ID", "SOGET_CLIENT_SECRET", "SOGET_API_KEY",
  "SOGET_CA_FILE", "SOGET_SEARCH_BASE_URL", "SOGET_SANDBOX_SEARCH_KEY" }

-- runs sandbox/run with a clean sandbox environment plus `vars`
local function run(args, vars)
  local pre = { "env" }
  for _, k in ipairs(KEYS) do pre[#pre + 1] = "-u " .. k end
  for k, v in pairs(vars or {}) do pre[#pre + 1] = k .. "=" .. H.q(v) end
  local errf = os.tmpname()
  local out, code = H.sh(table.concat(pre, " ") .. " " .. H.q(RUN) .. " " .. args .. " 2>" .. H.q(errf))
  local err = H.slurp(errf)
  os.remove(errf)
  return out, code, err
end

local function parse(out)
  local v, export = {}, nil
  for line in out:gmatch("[^\n]+") do
    local k, val = line:match("^([%w_]+)='(.*)'$")
    if k then v[k] = val:gsub("'\\''", "'") end
    if line:match("^export ") then export = line end
  end
  return v, export
end

local function alive(pid)
  local _, code = H.sh("kill -0 " .. tonumber(pid) .. " 2>/dev/null")
  return code == 0
end

local started = {}

local function start(vars)
  local out, code, err = run("start", vars)
  assert.equal(0, code, err)
  local v, export = parse(out)
  started[#started + 1] = v
  return v, export, out
end

local function stop(v)
  local out, code = run("stop " .. H.q(v.SOGET_SANDBOX_DIR))
  return out, code
end

describe("sandbox/run", function()
  teardown(function()
    -- whatever a failing test left behind: stop by run directory / PID
    for _, v in ipairs(started) do
      if v.SOGET_SANDBOX_DIR then stop(v) end
      if v.SOGET_SANDBOX_PID and alive(v.SOGET_SANDBOX_PID) then
        H.sh("kill " .. tonumber(v.SOGET_SANDBOX_PID))
      end
    end
  end)

  it("reports the running sandbox", function()
    local out, code = run("status " .. H.q(E.SOGET_SANDBOX_DIR))
    assert.equal(0, code)
    assert.equal("running\n", out)
    assert.truthy(alive(E.SOGET_SANDBOX_PID))
  end)

  it("starts a second sandbox beside the first, prints shell assignments, and stops it", function()
    local v, export, out = start({ SOGET_SANDBOX_UNITS = "300", SOGET_SANDBOX_SEED = "42",
      SOGET_API_KEY = "given-key-123" })
    for _, k in ipairs(KEYS) do
      assert.is_string(v[k], k)
      assert.truthy(export:find(" " .. k, 1, true), k)
    end
    assert.truthy(out:match("\nexport [^\n]+\n$"))
    assert.are_not.equal(E.SOGET_SANDBOX_DIR, v.SOGET_SANDBOX_DIR)
    assert.are_not.equal(E.SOGET_SANDBOX_HTTP, v.SOGET_SANDBOX_HTTP)
    assert.are_not.equal(E.SOGET_SANDBOX_HTTPS, v.SOGET_SANDBOX_HTTPS)
    assert.truthy(v.SOGET_SANDBOX_HTTP:match("^http://127%.0%.0%.1:%d+$"))
    local https = v.SOGET_SANDBOX_HTTPS
    assert.truthy(https:match("^https://127%.0%.0%.1:%d+$"))
    assert.equal(https .. "/api-tracing-code/v1", v.SOGET_BASE_URL)
    assert.equal(https .. "/soget-connect/v1/openid-connect/token", v.SOGET_TOKEN_URL)
    assert.equal(v.SOGET_SANDBOX_DIR .. "/ca.pem", v.SOGET_CA_FILE)
    assert.equal("given-key-123", v.SOGET_API_KEY)
    assert.truthy(#v.SOGET_CLIENT_SECRET >= 16)
    assert.equal(https .. "/api-tracing-code-in-mass/v1", v.SOGET_SEARCH_BASE_URL)
    assert.truthy(#v.SOGET_SANDBOX_SEARCH_KEY >= 16)
    assert.are_not.equal(v.SOGET_API_KEY, v.SOGET_SANDBOX_SEARCH_KEY)
    assert.is_nil(v.SOGET_SEARCH_API_KEY)   -- clients default the search key to the API key
    assert.truthy(alive(v.SOGET_SANDBOX_PID))

    -- both answer, each with its own data and its own CA
    local info2 = H.curl(v.SOGET_SANDBOX_HTTPS .. "/_control/info",
      { args = { "--cacert", v.SOGET_CA_FILE }, cacert = false })
    assert.equal(200, info2.status)
    assert.equal(300, H.json(info2.body).units)
    assert.equal(42, H.json(info2.body).seed)
    local info1 = H.control("/_control/info").json
    assert.is_false(info1.units == 300 and info1.seed == 42)
    local wrong_ca = H.curl(v.SOGET_SANDBOX_HTTPS .. "/_control/info")
    assert.equal(60, wrong_ca.exit)

    -- the second sandbox's credentials work there
    local tok = H.curl(v.SOGET_TOKEN_URL, { cacert = false, method = "POST",
      args = { "--cacert", v.SOGET_CA_FILE },
      data = "client_id=" .. v.SOGET_CLIENT_ID .. "&client_secret=" .. v.SOGET_CLIENT_SECRET })
    assert.equal(200, tok.status)

    -- stop: by PID, waits, removes the run dir
    local o2, c2 = stop(v)
    assert.equal(0, c2)
    assert.equal("stopped\n", o2)
    assert.is_false(alive(v.SOGET_SANDBOX_PID))
    local _, gone = H.sh("test -e " .. H.q(v.SOGET_SANDBOX_DIR))
    assert.are_not.equal(0, gone)
    local so, sc = run("status " .. H.q(v.SOGET_SANDBOX_DIR))
    assert.equal(1, sc)
    assert.equal("stopped\n", so)

    -- the first one is untouched
    assert.equal(200, H.api("reference=CGMU2436601").status)
  end)

  it("generates the same data for the same seed and size", function()
    local a = start({ SOGET_SANDBOX_UNITS = "200", SOGET_SANDBOX_SEED = "7" })
    local b = start({ SOGET_SANDBOX_UNITS = "200", SOGET_SANDBOX_SEED = "7" })
    local c = start({ SOGET_SANDBOX_UNITS = "200", SOGET_SANDBOX_SEED = "8" })
    local function units(v)
      return H.curl(v.SOGET_SANDBOX_HTTP .. "/_control/units?reference=").body
    end
    local ua, ub, uc = units(a), units(b), units(c)
    assert.truthy(#ua > 10000)
    assert.equal(ua, ub)
    assert.are_not.equal(ua, uc)
    for _, v in ipairs({ a, b, c }) do
      local _, code = stop(v)
      assert.equal(0, code)
      assert.is_false(alive(v.SOGET_SANDBOX_PID))
    end
  end)

  it("uses SOGET_SANDBOX_DIR and the given ports, and stop defaults to $SOGET_SANDBOX_DIR", function()
    local base = H.sh("mktemp -d"):gsub("%s+$", "")
    local dir = base .. "/run dir"
    local v = start({ SOGET_SANDBOX_DIR = dir, SOGET_SANDBOX_UNITS = "50" })
    assert.equal(dir, v.SOGET_SANDBOX_DIR)
    -- refuses a second start in the same run dir
    local _, code, err = run("start", { SOGET_SANDBOX_DIR = dir })
    assert.are_not.equal(0, code)
    assert.truthy(err:find("already runs", 1, true))
    local port = tonumber(v.SOGET_SANDBOX_HTTP:match(":(%d+)$"))
    local o, c = run("stop", { SOGET_SANDBOX_DIR = dir })
    assert.equal(0, c)
    assert.equal("stopped\n", o)
    assert.is_false(alive(v.SOGET_SANDBOX_PID))
    -- start again on the same fixed port (a freed port is in the ephemeral
    -- range: an outgoing connection of another process may hold it for a
    -- moment, so a busy port is tried again, a bounded number of times)
    local vars = { SOGET_SANDBOX_DIR = dir, SOGET_SANDBOX_PORT = tostring(port), SOGET_SANDBOX_UNITS = "50" }
    for _ = 1, 10 do
      local _, code2, err2 = run("status", { SOGET_SANDBOX_DIR = dir })
      assert.are_not.equal(0, code2, err2)
      if H.sh("ss -Htln 'sport = :" .. port .. "' 2>/dev/null; ss -Htn 'sport = :" .. port .. "' 2>/dev/null") == "" then break end
      H.sh("sleep 1")
    end
    local v2 = start(vars)
    assert.equal("http://127.0.0.1:" .. port, v2.SOGET_SANDBOX_HTTP)
    assert.equal(0, select(2, stop(v2)))
    H.sh("rmdir " .. H.q(base))
  end)

  it("fails loudly when nginx cannot come up", function()
    local port = E.SOGET_SANDBOX_HTTP:match(":(%d+)$")
    local out, code, err = run("start", { SOGET_SANDBOX_PORT = port, SOGET_SANDBOX_UNITS = "20" })
    assert.are_not.equal(0, code)
    assert.equal("", out)
    assert.truthy(err:find("Address already in use", 1, true), err)
    -- the first sandbox still answers
    assert.equal(200, H.api("reference=CGMU2436601").status)
  end)

  it("listens on 127.0.0.1 only", function()
    local conf = H.slurp(E.SOGET_SANDBOX_DIR .. "/nginx.conf")
    local n = 0
    for addr in conf:gmatch("\n%s*listen%s+([^%s;]+)") do
      n = n + 1
      assert.truthy(addr:match("^127%.0%.0%.1:%d+$"), addr)
    end
    assert.equal(2, n)
  end)
end)
