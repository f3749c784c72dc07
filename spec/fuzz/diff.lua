-- Fuzz driver: soget.decode against an independent reference decode, on
-- schema-valid bodies. The input bytes are the choices of a generator
-- that writes a response body from the OpenAPI document
-- (spec/fuzz/pagegen.lua); the reference is lua-cjson plus the Lua pass
-- that keeps soget's contract (spec/fuzz/contract.lua, README "Results": nulls
-- removed, array fields always tables, integer fields Lua integers, whole
-- numbers outside the schema below 2^53 integers too). The two must agree
-- field for field: the same keys, the same types, numbers of the same
-- subtype and value, zeros of the same sign; or both refuse the body with
-- the same message (a body with none of the page's fields). Any
-- disagreement is a finding, in soget or in the reference.
--
-- The first input byte's top bits choose the parser soget is asked to use
-- (the default, or libyajl alone for one body in four); the rest of it and
-- the other bytes are the generator's.
local soget = require "soget"

local here = (debug.getinfo(1, "S").source:match("^@(.*)spec/fuzz/[^/]*$") or "")
local pagegen = dofile(here .. "spec/fuzz/pagegen.lua")
local contract = dofile(here .. "spec/fuzz/contract.lua")

local type, next, tostring, error, floor = type, next, tostring, error, math.floor

-- Lua 5.1, 5.2 and LuaJIT have no integer subtype: there both decodes give
-- plain numbers, and a whole number stands for an integer.
local mtype = math.type or function(x)
  if type(x) ~= "number" then return nil end
  return x == floor(x) and "integer" or "float"
end

-- What soget fills in a page that lacks them, for paging and scripts to
-- rely on (README "Results"), and the contract pass does not: returned is
-- the number of items, first the offset (0 here), total first + returned.
local function fill_counts(ref)
  if ref.returned == nil then ref.returned = #ref.items end
  if ref.first == nil then ref.first = 0 end
  if ref.total == nil then ref.total = ref.first + ref.returned end
end

local path, depth = {}, 0
local body

local function show(v)
  if type(v) == "number" then return (mtype(v) or "number") .. " " .. string.format("%.17g", v) end
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function fail(what, a, b)
  local parts = { "page" }
  for i = 1, depth do parts[#parts + 1] = tostring(path[i]) end
  error(table.concat(parts, ".") .. ": " .. what .. ": soget " .. show(a) .. ", the reference "
    .. show(b) .. "\nbody: " .. body:sub(1, 2000), 0)
end

-- a (soget's) and b (the reference's) are the same value.
local function same(a, b)
  local ta = type(a)
  if ta ~= type(b) then fail("not the same type", a, b) end
  if ta == "table" then
    depth = depth + 1
    for k, v in next, a do
      path[depth] = k
      same(v, b[k])
    end
    for k, v in next, b do
      if a[k] == nil then path[depth] = k; fail("only the reference has it", nil, v) end
    end
    depth = depth - 1
  elseif ta == "number" then
    if mtype(a) ~= mtype(b) then fail("not the same subtype", a, b) end
    if a ~= b then fail("not the same number", a, b) end
    if a == 0 and 1 / a ~= 1 / b then fail("zeros of two signs", a, b) end
  elseif a ~= b then
    fail("not the same value", a, b)
  end
end

return function(input)
  local extended
  body, extended = pagegen.body(input)
  local sel = input:byte(1) or 0
  local parser = floor(sel / 64) == 3 and "yajl" or "auto"
  local page, err = soget.decode(body, { parser = parser })
  local ok, ref, rerr = pcall(contract.decode, body)
  if not ok then error("the reference raised: " .. tostring(ref) .. "\nbody: " .. body:sub(1, 2000), 0) end
  local filled = ref and ref.total == nil and (ref.first or 0) + (ref.returned or #ref.items)
  if page == nil and filled and (filled > 2147483647 or filled < -2147483648) then
    -- no total to fill within int32 (README "Results"): refused
    if not err.message:find("past the int32 range of a total", 1, true) then
      depth = 0
      fail("not the refusal of a total past int32", err.message, "a refusal")
    end
    return
  end
  if page == nil or ref == nil then
    depth = 0
    if page == nil and ref == nil then
      if err.message ~= rerr then fail("not the same error", err.message, rerr) end
      if rerr ~= "response body is not a page: none of total, returned, first, items" then
        fail("a schema-valid body refused", err.message, rerr)
      end
      return
    end
    fail(page and "only soget decodes it" or "only the reference decodes it",
      page and "a page" or tostring(err), ref and "a page" or rerr)
  end
  fill_counts(ref)
  depth = 0
  same(page, ref)
  return page, extended
end
