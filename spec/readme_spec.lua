-- The README's Lua examples, run as they are written against the sandbox:
-- each ```lua block is loaded from README.md itself, so an example that
-- drifts from the module fails here. What a block takes from its context
-- (a `client`, a unit `hu`, a `send` and a `sleep` for the Call driver, the
-- file it reads) is given to it; placeholders ("…") become the sandbox's
-- credentials; results written as `--> value` are compared. The two
-- OpenResty blocks need nginx: they are only compiled here (what they do,
-- the token cache, paging with sng.iter, a timer loop, runs in nginx in
-- spec/openresty/).
local S = require "support"
local soget = require "soget"

local function readme_blocks()
  local f = assert(io.open("README.md", "rb"))
  local text = f:read("*a")
  f:close()
  local blocks = {}
  for code in text:gmatch("\n```lua\n(.-\n)```\n") do blocks[#blocks + 1] = code end
  return blocks
end

local blocks = readme_blocks()

-- The block holding `needle` (exactly one).
local function block(needle)
  local found
  for _, b in ipairs(blocks) do
    if b:find(needle, 1, true) then
      assert(not found, "two README blocks hold " .. needle)
      found = b
    end
  end
  return assert(found, "no README block holds " .. needle)
end

-- Loads `code` with `env` as its globals, on every runtime.
local function compile(code, name, env)
  if setfenv then   -- 5.1, LuaJIT
    local fn, err = loadstring(code, "=" .. name)
    if fn and env then setfenv(fn, env) end
    return fn, err
  end
  return load(code, "=" .. name, "t", env)
end

-- The credentials a placeholder stands for: `client_id = "…"` is the
-- sandbox's SOGET_CLIENT_ID.
local function with_credentials(code)
  return (code:gsub('([%w_]+) = "…"', function(name)
    return ("%s = os.getenv(%q)"):format(name, "SOGET_" .. name:upper())
  end))
end

-- Runs a block; returns what it printed (lines) and what it returned.
local function run(code, name, given)
  local out = {}
  local env = setmetatable({
    soget = soget,   -- as the blocks after the first have it
    print = function(...)
      local parts = {}
      for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
      out[#out + 1] = table.concat(parts, "\t")
    end,
  }, { __index = _G })
  for k, v in pairs(given or {}) do env[k] = v end
  local fn = assert(compile(with_credentials(code), name, env))
  local results = { fn() }
  return out, results
end

describe("the README's Lua examples", function()
  local client
  setup(function() client = soget.client() end)   -- the sandbox's, from the environment
  teardown(function() client:close() end)

  it("are all found, and every one compiles", function()
    assert.is_true(#blocks >= 14, "README.md has " .. #blocks .. " ```lua blocks")
    for i, b in ipairs(blocks) do
      local fn, err = compile(b, "README block " .. i)
      assert.truthy(fn, err)
    end
  end)

  it("the quick start tracks CGMU2436601 exactly and prints its events", function()
    local out = run(block('soget.client{\n  client_id = "…"'), "quick start")
    assert.truthy(#out > 1, table.concat(out, "\n"))
    assert.truthy(out[1]:find("^CGMU2436601\tCNI%d+"), out[1])
    for i = 2, #out do
      local line = out[i]
      if not line:find("^\t") then
        assert.truthy(line:find("^CGMU2436601\t"), line)   -- exact: no other reference
      end
    end
    local dates = 0
    for _, line in ipairs(out) do
      if line:find("^\t%d%d%d%d%-%d%d%-%d%dT") then dates = dates + 1 end
    end
    assert.truthy(dates > 0, "no event printed:\n" .. table.concat(out, "\n"))
  end)

  it("the query forms each answer a page", function()
    run(block('client:handling_units("CGMU2436601"))          -- shortcut'), "queries",
      { client = client })
  end)

  it("the search finds the units of a bill of lading and of a voyage", function()
    local out = run(block("handling_units_search(\"HLCUEUR2002APIK9\")"), "search",
      { client = client })
    assert.are.same({ "CGMU2436601" }, out)
  end)

  it("page:iter follows the pages, up to max_items", function()
    local out = run(block("page:iter{ max_items = 250 }"), "paging", { client = client })
    assert.truthy(#out > 10, "more than one page: " .. #out)   -- limit 10 a page
    assert.truthy(#out <= 250, #out)
    for _, ref in ipairs(out) do assert.truthy(ref:find("^MSCU"), ref) end
  end)

  it("handling_units_many answers each query in its place", function()
    local out = run(block("client:handling_units_many("), "bulk", { client = client })
    assert.are.equal(3, #out, table.concat(out, "\n"))
    for i, line in ipairs(out) do
      assert.truthy(line:find("^" .. i .. "\t%d+$"), line)   -- a total each, no failure
    end
  end)

  it("soget.decode reads a saved response", function()
    local path = os.tmpname()
    S.write_file(path, S.read_file("spec/fixtures/page.json"))
    local files = setmetatable({
      open = function(name, mode)
        return io.open(name == "response.json" and path or name, mode)
      end,
    }, { __index = io })
    local code = block('soget.decode(io.open("response.json")') .. "\nreturn page, err\n"
    local _, r = run(code, "decode", { io = files })
    os.remove(path)
    assert.is_nil(r[2])
    assert.are.equal(3, r[1].total)
    assert.are.equal("CGMU2436601", r[1].items[1].reference)
  end)

  it("soget.encode writes a page back as JSON", function()
    local written = {}
    local fake_io = setmetatable({
      write = function(...) for i = 1, select("#", ...) do written[#written + 1] = (select(i, ...)) end end,
    }, { __index = io })
    run(block("io.write(soget.encode("), "encode", { client = client, io = fake_io })
    local text = table.concat(written)
    assert.are.equal("\n", text:sub(-1))
    local page = assert(soget.decode(text:sub(1, -2)))
    assert.are.equal("CGMU2436601", page.items[1].reference)
  end)

  it("events_in_order gives the events oldest first", function()
    local page = assert(client:handling_units("CGMU2436601"))
    local out = run(block("for _, e in ipairs(soget.events_in_order(hu)) do print(e.eventDate"),
      "events", { hu = page.items[1] })
    assert.are.equal(#page.items[1].events, #out)
  end)

  -- `expression  --> results` (or the results on the next line): each
  -- expression gives exactly the values written.
  local function check_results(code, name)
    local lines, checked = {}, 0
    for line in code:gmatch("[^\n]+") do lines[#lines + 1] = line end
    for i, line in ipairs(lines) do
      local expr, want = line:match("^(.-)%s*%-%->%s*(.+)$")
      if expr == "" then expr = lines[i - 1] end
      if expr then
        local env = setmetatable({ soget = soget }, { __index = _G })
        local got = { assert(compile("return " .. expr, name, env))() }
        local expected = { assert(compile("return " .. want, name, env))() }
        assert.are.same(expected, got, expr)
        checked = checked + 1
      end
    end
    assert.truthy(checked > 0, "no --> result in " .. name)
  end

  it("check_container_number answers as written", function()
    check_results(block('soget.check_container_number("CSQU3054383")'), "check digits")
  end)

  it("check_query answers as written", function()
    check_results(block("soget.check_query{ reference = \"ABCDEFGHIJKLMNOPQRSTU\" }"),
      "check_query")
  end)

  it("the Call driver loop, with curl as its I/O, returns the page", function()
    local waited = 0
    local code = block("local call = client:begin{")
    local _, r = run(code, "Call driver", {
      client = client,
      send = function(req)
        local status, headers, body = S.curl_send(req)
        if status == 0 then return nil end
        return status, body, headers["retry-after"], headers["location"]
      end,
      sleep = function(s)
        waited = waited + s
        if s > 0 then os.execute("sleep " .. s) end
      end,
    })
    assert.is_nil(r[2])
    assert.are.equal("CGMU2436601", r[1].items[1].reference)
    assert.are.equal(0, waited)
  end)

  it("the annotated example runs", function()
    local out = run(block("-- hu: soget.HandlingUnit"), "annotations")
    assert.truthy(#out > 0)
    for _, line in ipairs(out) do
      assert.truthy(line:find("^%d%d%d%d%-%d%d%-%d%dT[^\t]*\t%a+$"), line)
    end
  end)
end)
