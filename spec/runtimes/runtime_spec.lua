-- What numbers look like on each runtime. From Lua 5.3 on, the API's
-- integer fields (and whole numbers below 2^53 in unknown fields) are Lua
-- integers; on Lua 5.1, LuaJIT and Lua 5.2 every number is a double, exact
-- for whole numbers up to 2^53. Either way a whole number prints without ".0".
local soget = require "soget"

local has_integers = math.type ~= nil

local body = [[
{"total": 250, "returned": 1, "first": 100, "items": [
  {"reference": "CGMU2436601",
   "measures": {"quantity": 3, "volume": {"value": 12.5, "unit": "m3"},
                "weight": {"grossWeight": {"value": 24000, "unit": "kg"}}},
   "transport": {"mode": 1},
   "extra": {"count": 7, "ratio": 7.5, "big": 9007199254740991, "past": 9007199254740992}}]}
]]

describe("numbers on " .. _VERSION .. (rawget(_G, "jit") and " (LuaJIT)" or ""), function()
  local page = assert(soget.decode(body))
  local unit = page.items[1]

  it("are plain Lua numbers with the JSON values", function()
    assert.are.equal("number", type(page.total))
    assert.are.equal(250, page.total)
    assert.are.equal(100, page.first)
    assert.are.equal(3, unit.measures.quantity)
    assert.are.equal(12.5, unit.measures.volume.value)
    assert.are.equal(24000, unit.measures.weight.grossWeight.value)
    assert.are.equal(1, unit.transport.mode)
    assert.are.equal(7, unit.extra.count)
    assert.are.equal(2 ^ 53 - 1, unit.extra.big)
    assert.are.equal(2 ^ 53, unit.extra.past)
  end)

  it("print whole numbers without a fraction", function()
    assert.are.equal("250", tostring(page.total))
    assert.are.equal("3", tostring(unit.measures.quantity))
    assert.are.equal("7", tostring(unit.extra.count))
    assert.are.equal("12.5", tostring(unit.measures.volume.value))
    assert.are.equal("250", string.format("%d", page.total))
  end)

  if has_integers then
    it("are integers for integer fields and whole numbers (5.3+)", function()
      assert.are.equal("integer", math.type(page.total))
      assert.are.equal("integer", math.type(page.returned))
      assert.are.equal("integer", math.type(page.first))
      assert.are.equal("integer", math.type(unit.measures.quantity))
      assert.are.equal("integer", math.type(unit.transport.mode))
      assert.are.equal("integer", math.type(unit.extra.count))
      assert.are.equal("integer", math.type(unit.extra.big))
      assert.are.equal("float", math.type(unit.extra.past))   -- 2^53 + 1 reads as 2^53
      assert.are.equal("float", math.type(unit.extra.ratio))
      assert.are.equal("float", math.type(unit.measures.volume.value))
    end)
  else
    it("are doubles, with no math.type (5.1, LuaJIT, 5.2)", function()
      assert.is_nil(math.type)
      assert.are.equal(0, page.total % 1)
      assert.are.equal(0, unit.measures.quantity % 1)
      assert.are.equal(7.5, unit.extra.ratio)
    end)
  end

  it("rejects a fractional value in an integer field on every runtime", function()
    local p, err = soget.decode('{"total": 1.5, "items": []}')
    assert.is_nil(p)
    assert.truthy(tostring(err):find("integer", 1, true), tostring(err))
  end)
end)

describe("the module on " .. _VERSION, function()
  it("is the build for this runtime", function()
    local dir = os.getenv("SOGET_MODULE_DIR")
    if not dir or not package.searchpath then return end  -- 5.1 has no searchpath
    local path = package.searchpath("soget", package.cpath)
    assert.are.equal(dir .. "/soget.so", path)
  end)

  it("gives clients and pages their methods", function()
    local c = soget.client { client_id = "a", client_secret = "s", api_key = "k",
                             base_url = "https://a.invalid", token_url = "https://a.invalid/t" }
    assert.truthy(tostring(c):match("^soget%.Client %("), tostring(c))
    assert.is_function(c.handling_units)
    c:close()
    assert.are.equal("soget.Client (closed)", tostring(c))
    local page = assert(soget.decode('{"items": []}'))
    assert.is_function(page.iter)
    assert.are.equal(0, page.total)
  end)
end)
