-- What the module tells programs built on it: soget.limits, soget.options,
-- soget.array_fields and soget.check_query. Each is checked against what
-- the module does (and the limits against the C headers they come from).
local S = require "support"
local soget = require "soget"

local q = S.shell_quote
local MODULE_DIR = os.getenv("SOGET_MODULE_DIR") or "build/lua5.4"

-- A client that never reaches a server: only its checks run.
local function offline_client()
  return soget.client { base_url = "http://127.0.0.1:1", access_token = "t", api_key = "k",
                        retries = 0, timeout = 1 }
end

local function macro(file, name)
  local v = S.read_file(file):match("#define " .. name .. " +([%d.]+)")
  return assert(tonumber(v), name .. " not found in " .. file)
end

describe("soget.limits", function()
  local L = soget.limits

  it("holds the C headers' values", function()
    assert.are.equal(macro("src/core/request.h", "SOGET_REFERENCE_MAX"), L.reference)
    assert.are.equal(macro("src/core/request.h", "SOGET_SPI_MAX"), L.spi)
    assert.are.equal(macro("src/core/request.h", "SOGET_SEARCH_VALUE_MAX"), L.search_value)
    assert.are.equal(macro("src/core/request.h", "SOGET_LIMIT_MAX"), L.limit)
    assert.are.equal(macro("src/core/request.h", "SOGET_OFFSET_MAX"), L.offset)
    assert.are.equal(macro("src/core/request.h", "SOGET_HEADER_VALUE_MAX"), L.header_value)
    assert.are.equal(macro("src/core/request.h", "SOGET_URL_MAX"), L.url)
    assert.are.equal(macro("src/lua/soget.h", "SOGET_BULK_MAX"), L.concurrency)
    assert.are.equal(macro("src/core/auth.h", "SOGET_TOKEN_MARGIN"), L.token_margin)
    assert.are.same({ "concurrency", "header_value", "limit", "offset", "reference",
                      "search_value", "spi", "token_margin", "url" }, (function()
      local keys = {}
      for k in pairs(L) do keys[#keys + 1] = k end
      table.sort(keys)
      return keys
    end)())
  end)

  it("are the bounds the client applies", function()
    local c = offline_client()
    local function fits(query) return (soget.check_query(query)) == true end
    assert.is_true(fits { reference = ("é"):rep(L.reference) })   -- characters, not bytes
    assert.is_false(fits { reference = ("e"):rep(L.reference + 1) })
    assert.is_true(fits { spi = ("é"):rep(L.spi) })
    assert.is_false(fits { spi = ("e"):rep(L.spi + 1) })
    assert.is_true(fits { reference = "A", limit = L.limit })
    assert.is_false(fits { reference = "A", limit = L.limit + 1 })
    assert.is_true(fits { reference = "A", offset = L.offset })
    assert.is_false(fits { reference = "A", offset = L.offset + 1 })
    assert.is_true((pcall(c.handling_units_many, c, {}, { concurrency = L.concurrency })))
    local ok, err = pcall(c.handling_units_many, c, {}, { concurrency = L.concurrency + 1 })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("between 1 and " .. L.concurrency, 1, true), err)
    c:close()
    local long = ("a"):rep(L.header_value)
    assert.is_true((pcall(soget.client, { access_token = long, api_key = "k" })))
    ok, err = pcall(soget.client, { access_token = long .. "a", api_key = "k" })
    assert.is_false(ok)
    assert.truthy(tostring(err):find(L.header_value .. " bytes", 1, true), err)
    -- Each URL option, and the proxy, up to L.url bytes and not one more:
    -- refused when the client is made, not when a request fails.
    for _, name in ipairs { "base_url", "token_url", "search_base_url", "proxy" } do
      -- (a proxy URL has no path: its length is its password's)
      local head, tail = "http://127.0.0.1:1/", ""
      if name == "proxy" then head, tail = "http://u:", "@127.0.0.1:1" end
      local function url(n) return head .. ("a"):rep(n - #head - #tail) .. tail end
      local at_most = url(L.url)
      c = soget.client { access_token = "t", api_key = "k", [name] = at_most }
      c:close()
      ok, err = pcall(soget.client, { access_token = "t", api_key = "k", [name] = url(L.url + 1) })
      assert.is_false(ok, name)
      assert.are.equal(("soget.client: option '%s' is longer than %d bytes"):format(name, L.url),
                       tostring(err):match("soget%.client: .*"), name)
    end
  end)
end)

describe("soget.options", function()
  local by_name = {}
  for _, o in ipairs(soget.options) do by_name[o.name] = o end

  it("lists every option soget.client takes, in the documented order", function()
    local names = {}
    for i, o in ipairs(soget.options) do names[i] = o.name end
    assert.are.same({ "client_id", "client_secret", "access_token", "api_key", "base_url",
      "token_url", "search_base_url", "search_api_key", "ca_file", "verify_tls", "timeout", "connect_timeout", "retries",
      "user_agent", "max_response_size", "gzip", "proxy", "no_proxy" }, names)
    -- every one is known to soget.client, with the listed type
    local wrong = { string = true, number = "x", boolean = 1 }
    local want = { string = "a string", number = "a number", boolean = "a boolean" }
    for _, o in ipairs(soget.options) do
      local ok, err = pcall(soget.client, { [o.name] = wrong[o.type] })
      assert.is_false(ok, o.name)
      assert.truthy(tostring(err):find("option '" .. o.name .. "' must be " .. want[o.type], 1, true),
        o.name .. ": " .. tostring(err))
    end
    local ok, err = pcall(soget.client, { gzipp = true })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("unknown option 'gzipp'", 1, true))
  end)

  it("gives numbers the ranges the client checks", function()
    for _, o in ipairs(soget.options) do
      if o.type == "number" then
        local base = { access_token = "t", api_key = "k" }
        base[o.name] = o.min
        assert.is_true((pcall(soget.client, base)), o.name .. " = min")
        base[o.name] = o.max
        assert.is_true((pcall(soget.client, base)), o.name .. " = max")
        for _, bad in ipairs { o.max + 1, o.min - 1 } do
          base[o.name] = bad
          local ok, err = pcall(soget.client, base)
          assert.is_false(ok, o.name .. " = " .. bad)
          assert.truthy(tostring(err):find("must be between", 1, true), err)
        end
        base[o.name] = o.min + 0.5
        assert.are.equal(not o.whole, (pcall(soget.client, base)), o.name .. " whole")
      else
        assert.is_nil(o.min)
        assert.is_nil(o.whole)
      end
    end
    assert.is_true(by_name.retries.whole)
  end)

  it("marks the credentials secret", function()
    local secret = {}
    for _, o in ipairs(soget.options) do
      assert.is_boolean(o.secret)
      if o.secret then secret[#secret + 1] = o.name end
    end
    assert.are.same({ "client_secret", "access_token", "api_key", "search_api_key", "proxy" }, secret)
  end)

  -- A fresh interpreter with only the given environment variables.
  local function run_with_env(env, chunk)
    local parts = { "env -i PATH=/usr/bin:/bin LUA_CPATH=" .. q(MODULE_DIR .. "/?.so;;") }
    for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. q(v) end
    return S.popen_read(table.concat(parts, " ") .. " timeout 30 " .. S.lua .. " -e "
      .. q('local soget = require "soget"; ' .. chunk) .. " 2>&1")
  end

  it("names the environment variables the client reads", function()
    local env_of = {}
    for _, o in ipairs(soget.options) do
      if o.env then env_of[o.name] = o.env end
    end
    local lookup = 'local c = soget.client(); local p, e = c:handling_units("CGMU2436601"); '
      .. 'print(p and ("found " .. p.total) or tostring(e))'
    -- every setting from the environment alone, under the names listed
    local env = {
      [env_of.client_id] = S.client_id, [env_of.client_secret] = S.client_secret,
      [env_of.api_key] = S.api_key, [env_of.base_url] = S.base_url,
      [env_of.token_url] = S.token_url, [env_of.ca_file] = S.ca_file,
    }
    assert.are.equal("found 1\n", run_with_env(env, lookup))
    -- a token instead of client credentials
    local c = S.client()
    local token = assert(c:token())
    c:close()
    env[env_of.client_id], env[env_of.client_secret] = nil, nil
    env[env_of.access_token] = token
    assert.are.equal("found 1\n", run_with_env(env, lookup))
    -- a value from the environment is checked like an option
    env[env_of.access_token] = "a\nb"
    assert.truthy(run_with_env(env, lookup):find("option 'access_token' (from the environment)",
      1, true))
  end)
end)

describe("soget.array_fields", function()
  it("are the fields a decoded page always holds as tables", function()
    local page = assert(soget.decode('{"total":1,"items":[{"transport":{}}]}'))
    -- every table the decoder added where the body had nothing is an array
    local made = { items = true }
    local function walk(t)
      for k, v in pairs(t) do
        if type(v) == "table" then
          if next(v) == nil then made[k] = true end
          walk(v)
        end
      end
    end
    walk(page.items[1])
    assert.are.same(made, soget.array_fields)
    assert.are.same({ events = true, hazardousItems = true, items = true, meansId = true,
                      references = true, shipments = true }, soget.array_fields)
  end)
end)

describe("soget.check_query", function()
  it("answers true for a query the client takes", function()
    for _, query in ipairs {
      "CGMU2436601", { reference = "CGMU" }, { spi = "CNI0000063978", desc = true },
      { reference = "MSCU", limit = 10, offset = 0 }, { reference = ("ü"):rep(17) },
    } do
      local ok, msg = soget.check_query(query)
      assert.is_true(ok)
      assert.is_nil(msg)
    end
  end)

  it("answers nil and the very message client:handling_units raises", function()
    local c = offline_client()
    for _, query in ipairs {
      {}, "", { reference = "" }, { reference = ("e"):rep(18) }, { spi = ("e"):rep(14) },
      { reference = "a\27[2J" }, { reference = "\255" }, { reference = "A", limit = 0 },
      { reference = "A", limit = 2.5 }, { reference = "A", offset = -1 },
      { reference = "A", desc = "yes" }, { reference = "A", page = 2 }, { [1] = "A" },
      { reference = 42 }, 42, false,
    } do
      local ok, msg = soget.check_query(query)
      assert.is_nil(ok)
      local raised, err = pcall(c.handling_units, c, query)
      assert.is_false(raised)
      assert.are.equal(err, msg)
      assert.truthy(msg:find("^handling_units: "), msg)
    end
    c:close()
  end)
end)
