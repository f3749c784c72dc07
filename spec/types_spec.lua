-- The lua-language-server annotations (lua/soget/types/) against what they
-- describe: the built module's functions, methods, options and limits,
-- soget.ngx's functions, and the pages soget decodes, from a fixture and
-- from the sandbox over loopback (every unit checked field by field against
-- its class). Also the annotation reader itself (tools/luacats.lua), on
-- broken annotations, so that `make check-types` cannot pass vacuously.
package.path = "tools/?.lua;" .. package.path
local luacats = require "luacats"
local S = require "support"
local soget = require "soget"

local FILES = { "lua/soget/types/soget.lua", "lua/soget/types/soget/models.lua",
                "lua/soget/types/soget/ngx.lua" }

local function read_model(files)
  local list = {}
  for i, name in ipairs(files) do
    local text = S.read_file(name)
    assert(text ~= "", name .. " is missing")
    list[i] = { name = name, text = text }
  end
  return luacats.read(list)
end

local model, errors = read_model(FILES)

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- Checks value v against type node t; adds "path: problem" lines to out.
local check
local function check_class(name, v, path, out)
  if type(v) ~= "table" then
    out[#out + 1] = path .. ": " .. name .. " expected, got " .. type(v)
    return
  end
  local fields = luacats.all_fields(model, name)
  for k, f in pairs(fields) do check(f.type, v[k], path .. "." .. k, out, f.optional) end
  for k in pairs(v) do
    if not fields[k] then out[#out + 1] = path .. "." .. tostring(k) .. ": not in " .. name end
  end
end

function check(t, v, path, out, optional)
  if v == nil then
    if not optional and t.kind ~= "optional" then
      out[#out + 1] = path .. ": nil, but " .. luacats.show(t) .. " is not optional"
    end
    return
  end
  local k = t.kind
  if k == "optional" then return check(t.of, v, path, out) end
  if k == "literal" then
    if v ~= t.value then out[#out + 1] = path .. ": " .. tostring(v) .. " is not " .. luacats.show(t) end
  elseif k == "union" then
    for _, u in ipairs(t.of) do
      local tmp = {}
      check(u, v, path, tmp)
      if #tmp == 0 then return end
    end
    out[#out + 1] = path .. ": " .. tostring(v) .. " is none of " .. luacats.show(t)
  elseif k == "array" then
    if type(v) ~= "table" then
      out[#out + 1] = path .. ": array expected, got " .. type(v)
      return
    end
    local n = #v
    for key in pairs(v) do
      if type(key) ~= "number" or key < 1 or key > n or key % 1 ~= 0 then
        out[#out + 1] = path .. ": key " .. tostring(key) .. " in an array"
      end
    end
    for i = 1, n do check(t.of, v[i], path .. "[" .. i .. "]", out) end
  elseif k == "fun" then   -- (its parameters are not checked)
    if type(v) ~= "function" then out[#out + 1] = path .. ": function expected, got " .. type(v) end
  elseif k == "name" then
    local name = t.name
    if name == "string" or name == "boolean" or name == "table" then
      if type(v) ~= name then out[#out + 1] = path .. ": " .. name .. " expected, got " .. type(v) end
    elseif name == "number" then
      if type(v) ~= "number" then out[#out + 1] = path .. ": number expected, got " .. type(v) end
    elseif name == "integer" then
      if type(v) ~= "number" or v % 1 ~= 0 or (math.type and math.type(v) ~= "integer") then
        out[#out + 1] = path .. ": integer expected, got " .. tostring(v)
      end
    elseif model.aliases[name] then
      check(model.aliases[name].type, v, path, out)
    elseif model.classes[name] then
      check_class(name, v, path, out)
    else
      out[#out + 1] = path .. ": cannot check " .. name
    end
  else
    out[#out + 1] = path .. ": cannot check " .. luacats.show(t)
  end
end

local function page_problems(page)
  local out = {}
  check_class("soget.Page", page, "page", out)
  return out
end

describe("the annotations", function()
  it("read without a problem", function()
    assert.are.same({}, errors)
  end)

  it("annotate every function and field of the module, and nothing else", function()
    local m = model.modules.soget
    local want = {}
    for name, v in pairs(soget) do
      -- _privfile, _sleep, _credentials, _token_invalid: helpers of the
      -- soget command and of soget.ngx, not an API
      if name ~= "_privfile" and name ~= "_sleep" and name ~= "_credentials"
        and name ~= "_token_invalid" then
        want[#want + 1] = name .. ":" .. type(v)
      end
    end
    table.sort(want)
    local got = {}
    for name in pairs(m.functions) do got[#got + 1] = name .. ":function" end
    for name, f in pairs(m.fields) do
      got[#got + 1] = name .. ":" .. (f.type.kind == "name" and f.type.name == "string" and "string" or "table")
    end
    table.sort(got)
    assert.are.same(want, got)
  end)

  it("give each class exactly the methods of its metatable", function()
    local registry = debug.getregistry()
    for _, name in ipairs{ "soget.Client", "soget.Pager", "soget.Call", "soget.Page",
                           "soget.HttpParser", "soget.Error" } do
      local mt = registry[name]
      assert.is_table(mt, name)
      local index = rawget(mt, "__index")
      local want = type(index) == "table" and sorted_keys(index) or {}
      assert.is_table(model.classes[name], name)
      assert.are.same(want, sorted_keys(model.classes[name].methods), name)
    end
    -- and the objects are those classes
    local c = soget.client { base_url = "http://127.0.0.1:1", access_token = "t", api_key = "k" }
    assert.are.equal(registry["soget.Client"], getmetatable(c))
    assert.are.equal(registry["soget.Call"], getmetatable(c:begin("CGMU2436601")))
    assert.are.equal(registry["soget.HttpParser"], getmetatable(soget.http_parser()))
    local page = assert(soget.decode(S.read_file("spec/fixtures/page.json")))
    assert.are.equal(registry["soget.Page"], getmetatable(page))
    assert.are.equal(registry["soget.Pager"], getmetatable((page:iter())))
    assert.are.equal(registry["soget.Error"], getmetatable(select(2, soget.decode(""))))
    c:close()
  end)

  it("type soget.client's options as soget.options describes them, in its order", function()
    local fields = model.classes["soget.ClientOptions"].fields.list
    local want, got = {}, {}
    for i, o in ipairs(soget.options) do
      local t = o.type
      if t == "number" and o.whole then t = "integer" end
      want[i] = o.name .. "?" .. t
    end
    for i, f in ipairs(fields) do
      got[i] = f.name .. (f.optional and "?" or "") .. luacats.show(f.type)
    end
    assert.are.same(want, got)
  end)

  it("make exact the tables whose other keys soget refuses, and accept each key they declare", function()
    local c = soget.client { base_url = "http://127.0.0.1:1", access_token = "t", api_key = "k" }
    local page = assert(soget.decode(S.read_file("spec/fixtures/page.json")))
    local VALID = {   -- a valid value of each declared key, by class
      ["soget.Query"] = { reference = "CGMU2436601", spi = "CNI0000063978", desc = true,
                          limit = 10, offset = 0, exact = false },
      ["soget.SearchQuery"] = { documentReference = "3714238101", voyageAgentReference = "V",
                                voyageAgentId = "VAG0000020061", customsFlag = "Import",
                                freightAgent = "CMAG", desc = false, limit = 1, offset = 5 },
      ["soget.IterOptions"] = { max_items = 1, max_pages = 1, manual = true },
      ["soget.ManyOptions"] = { concurrency = 3, exact = true, on_result = function() end },
      ["soget.Search"] = { search = "3714238101" },
      ["soget.DecodeOptions"] = { parser = "auto" },
    }
    local TRY = {     -- raises on a bad table
      ["soget.ClientOptions"] = function(t) return soget.client(t) end,
      ["soget.Query"] = function(t) assert(soget.check_query(t)) end,
      ["soget.SearchQuery"] = function(t) assert(soget.check_query{ search = t }) end,
      ["soget.Search"] = function(t) assert(soget.check_query(t)) end,
      ["soget.IterOptions"] = function(t) page:iter(t):close() end,
      ["soget.ManyOptions"] = function(t) c:handling_units_many({}, t) end,
      ["soget.DecodeOptions"] = function(t) assert(soget.decode('{"items":[]}', t)) end,
    }
    local exact = {}
    for name, class in pairs(model.classes) do
      if class.exact and class.file ~= "lua/soget/types/soget/ngx.lua" then exact[#exact + 1] = name end
    end
    table.sort(exact)
    assert.are.same(sorted_keys(TRY), exact)
    for name, try in pairs(TRY) do
      local valid = VALID[name]
      if valid then
        assert.are.same(sorted_keys(valid), sorted_keys(luacats.all_fields(model, name)), name)
        local out = {}
        check_class(name, valid, name, out)
        assert.are.same({}, out)
        local ok, err = pcall(try, valid)
        assert(ok, name .. ": " .. tostring(err))
      end
      local bad = {}
      for k, v in pairs(valid or {}) do bad[k] = v end
      bad.not_a_key = 1
      local ok, err = pcall(try, bad)
      assert(not ok, name .. " accepted not_a_key")
      assert.truthy(tostring(err):find("not_a_key", 1, true)
        or tostring(err):find("with no other key", 1, true), tostring(err))
    end
    c:close()
  end)

  it("type soget.limits' fields as integers, and soget.limits holds them", function()
    local want = sorted_keys(soget.limits)
    local got = {}
    for _, f in ipairs(model.classes["soget.Limits"].fields.list) do
      got[#got + 1] = f.name
      assert.are.equal("integer", luacats.show(f.type), f.name)
    end
    table.sort(got)
    assert.are.same(want, got)
    assert.are.same({}, (function()
      local out = {}
      check_class("soget.Limits", soget.limits, "limits", out)
      return out
    end)())
  end)

  it("type soget.options' entries and the array fields", function()
    for i, o in ipairs(soget.options) do
      local out = {}
      check_class("soget.OptionInfo", o, "options[" .. i .. "]", out)
      assert.are.same({}, out)
    end
    -- soget.array_fields names exactly the fields typed as arrays, none optional
    local arrays = {}
    for _, class in pairs(model.classes) do
      if class.file:match("models%.lua$") then
        for _, f in ipairs(class.fields.list) do
          if f.type.kind == "array" then
            assert.is_false(f.optional, class.name .. "." .. f.name)
            arrays[f.name] = true
          end
        end
      end
    end
    assert.are.same(sorted_keys(soget.array_fields), sorted_keys(arrays))
  end)

  it("annotate soget.ngx's public functions, and only those", function()
    local src = S.read_file("lua/soget/ngx.lua")
    local want = {}
    for name in src:gmatch("\nfunction M%.([%w_]+)%(") do want[#want + 1] = name end
    assert.truthy(src:match("local M = { _VERSION = "))
    want[#want + 1] = "_VERSION"
    table.sort(want)
    local m = model.modules["soget.ngx"]
    local got = sorted_keys(m.functions)
    for name in pairs(m.fields) do got[#got + 1] = name end
    table.sort(got)
    assert.are.same(want, got)
  end)

  it("annotate every field of soget.ngx.stats()", function()
    -- its counters' table, and the two it adds (t.name = ...)
    local src = S.read_file("lua/soget/ngx.lua")
    local want = {}
    for name in assert(src:match("\nlocal stats = (%b{})")):gmatch("([%w_]+) = ") do
      want[#want + 1] = name
    end
    local body = assert(src:match("\nfunction M%.stats%(%)(.-)\nend\n"))
    for name in body:gmatch("\n  t%.([%w_]+) = 0") do want[#want + 1] = name end
    table.sort(want)
    assert.are.same(want, sorted_keys(model.classes["soget.ngx.Stats"].fields.by_name))
  end)

  it("match a decoded page with every field of the fixture", function()
    local page = assert(soget.decode(S.read_file("spec/fixtures/page.json")))
    -- The fixture's break-bulk unit leaves out fields the document does
    -- not mark nullable (customsFlag, eventTransportMode...): the
    -- annotations type them as present, as the API sends them. Every other
    -- field must match.
    local out = {}
    for _, p in ipairs(page_problems(page)) do
      if not p:match(": nil, but ") then out[#out + 1] = p end
    end
    assert.are.same({}, out)
    assert.are.same({}, page_problems({ total = 0, returned = 0, first = 0, items = {} }))
  end)

  it("match every unit the sandbox sends, field by field", function()
    local c = S.client()
    local n = 0
    local function walk(page)
      assert.are.same({}, page_problems(page))
      for hu in page:iter() do
        n = n + 1
        local out = {}
        check_class("soget.HandlingUnit", hu, hu.reference or "?", out)
        assert.are.same({}, out)
      end
    end
    walk(assert(c:handling_units{ reference = "MSCU", limit = 10 }))
    walk(assert(c:handling_units("CGMU2436601")))
    walk(assert(c:handling_units_search{ documentReference = "3714238101", limit = 10 }))
    walk(assert(c:handling_units_search{ voyageAgentId = "VAG0000020061", limit = 10 }))
    walk(assert(c:handling_units("ZZZZ0000000")))   -- nothing found: the empty page
    c:close()
    assert.is_true(n > 300, "units checked: " .. n)
  end)

  it("type soget.Error and client:stats() as they come", function()
    local c = soget.client { base_url = "http://127.0.0.1:1", access_token = "t", api_key = "k",
                             retries = 0, timeout = 2 }
    local page, err = c:handling_units("CGMU2436601")
    assert.is_nil(page)
    local out = {}
    check_class("soget.Error", err, "err", out)
    check_class("soget.ClientStats", c:stats(), "stats", out)
    local it = assert(soget.decode(S.read_file("spec/fixtures/page.json"))):iter()
    check_class("soget.PagerStats", it:stats(), "pager", out)
    assert.are.same({}, out)
    c:close()
  end)
end)

describe("the annotation reader", function()
  local GOOD = table.concat({
    "---@meta m",
    "---@class m.A",
    "---@field x? string A field.",
    "local A = {}",
    "",
    "---A method.",
    "---@param y integer",
    "---@return m.A",
    "function A:f(y) end",
    "",
    "local m = {}",
    "",
    "---@type m.A",
    "m.a = nil",
    "",
    "return m",
  }, "\n")

  local function problems(text)
    local _, errs = luacats.read({ { name = "t.lua", text = text } })
    return errs
  end

  it("reads a good file", function()
    assert.are.same({}, problems(GOOD))
  end)

  local BROKEN = {
    { "---@field x? string A field.", "---@field x? m.B A field.", "t.lua:3: unknown type m.B" },
    { "---@param y integer", "---@param z integer", "t.lua:9: A:f: @param z, but the parameters are y" },
    { "---@field x? string A field.", "---@field x? string|", "t.lua:3: @field x: bad type: a type is missing" },
    { "---@field x? string A field.", "---@field x? string|A field.", "t.lua:3: unknown type A" },
    { "---@return m.A", "---@return fun(a: string", "t.lua:8: @return: bad type: expected ')'" },
    { "---@param y integer", "---@parm y integer", "t.lua:7: unknown tag @parm" },
    { "---A method.\n---@param y integer\n---@return m.A\n", "", "t.lua:6: A:f has no annotations" },
    { "---@type m.A\n", "", "t.lua:13: m.a has no @type" },
    { "---@field x? string A field.", "---@field x? string\n---@field x integer", "t.lua:4: m.A.x is declared twice" },
    { "---@meta m", "---@meta _", "t.lua:1: @meta _ with module functions: name the module" },
    { "---@field x? string A field.", "---@field x? table<string, boolean A field.", "t.lua:3: @field x: bad type: expected '>'" },
  }
  for _, case in ipairs(BROKEN) do
    it("refuses " .. case[3]:gsub("^t%.lua:%d+: ", ""), function()
      local text, n = GOOD:gsub(case[1]:gsub("%p", "%%%0"), (case[2]:gsub("%%", "%%%%")))
      assert.are.equal(1, n)
      local errs = problems(text)
      assert.are.same(case[3], errs[1])
    end)
  end
end)
