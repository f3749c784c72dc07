-- Every method of every class raises on a wrong self (a method called with
-- '.' instead of ':', or on another object), as Lua's own libraries do:
-- never a crash, a silent no-op, or a nil, err a script would take for a
-- failed call. The methods are read from the metatables, so a method added
-- later is covered too.
local S = require "support"
local soget = require "soget"

local PAGE = '{"total":1,"returned":1,"first":0,"items":[{"pswId":"P1","reference":"R"}]}'

-- One object of each class, and the name its metatable goes by.
local function objects()
  local c = S.client()
  local page = assert(soget.decode(PAGE))
  return {
    { name = "soget.Client", obj = c },
    { name = "soget.Call", obj = c:begin("CGMU2436601") },
    { name = "soget.Pager", obj = page:iter() },
    { name = "soget.Page", obj = page },
  }, c
end

-- name -> function: the methods (__index) and the metamethods a script can
-- reach through getmetatable.
local function methods(obj)
  local mt = getmetatable(obj)
  local t = {}
  for k, v in pairs(mt.__index) do t[k] = v end
  for _, k in ipairs{ "__gc", "__close", "__tostring", "__call" } do
    if mt[k] then t[k] = mt[k] end
  end
  return t
end

describe("a wrong self", function()
  local all, client
  before_each(function() all, client = objects() end)
  after_each(function() client:close() end)

  for _, class in ipairs{ "soget.Client", "soget.Call", "soget.Pager", "soget.Page" } do
    it("raises from every method of " .. class, function()
      local mine
      for _, o in ipairs(all) do if o.name == class then mine = o.obj end end
      local wrong = { false, 42, "CGMU2436601", {}, { items = {} } }
      for _, o in ipairs(all) do
        if o.name ~= class then wrong[#wrong + 1] = o.obj end
      end
      local n = 0
      for name, fn in pairs(methods(mine)) do
        n = n + 1
        for _, w in ipairs(wrong) do
          local ok, msg = pcall(fn, w, "CGMU2436601", 1)
          assert.is_false(ok, class .. "." .. name .. " accepted a " .. type(w))
          assert.are.equal("string", type(msg))
          assert.truthy(msg:find(class .. " expected", 1, true),
            class .. "." .. name .. ": " .. msg)
        end
        -- and no self at all
        local ok, msg = pcall(fn)
        assert.is_false(ok, class .. "." .. name .. " accepted no self")
        assert.truthy(msg:find(class .. " expected", 1, true), msg)
      end
      assert.truthy(n >= (class == "soget.Page" and 1 or 4), class .. ": " .. n .. " methods")
      -- the objects still work after all that
      assert.are.equal("table", type(client:stats()))
    end)
  end

  it("leaves a page's iter() working on pages only", function()
    local page = assert(soget.decode(PAGE))
    local seen = {}
    for hu in page:iter() do seen[#seen + 1] = hu.pswId end
    assert.are.same({ "P1" }, seen)
    local copy = { total = 1, returned = 1, first = 0, items = page.items }
    assert.has_error(function() page.iter(copy) end)
  end)
end)
