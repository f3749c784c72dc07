-- The baseline a careful user would write instead of soget.decode:
-- cjson.decode, then one Lua pass that gives what soget's contract
-- promises (README, "Results"):
--   * JSON null (cjson.null) becomes nil, also inside unknown fields;
--   * array fields are always tables, empty when null or absent;
--   * integer fields become Lua integers (5.3+), and so do whole numbers
--     outside the schema below 2^53 in magnitude, -0 excepted;
--   * an object with none of the page's fields is not a page;
--   * every known field's type is checked, errors carry the 1-based path.
-- It is written to be fast: the schema is a table of tables looked up by
-- key, the path is a stack of segments joined only on error, no closures
-- or string building on the normal path.
local cjson = require "cjson"

local null = cjson.null
local type, pairs, next, rawlen = type, pairs, next, rawlen or function(t) return #t end
-- Where Lua has no integer subtype (5.1, 5.2, LuaJIT), an integer field's
-- -0 is still 0, as soget gives it (math.tointeger(-0.0) is 0 on 5.3+).
local floor = math.floor
local tointeger = math.tointeger or function(x) if x == 0 then return 0 end return x end
local concat = table.concat

local S, I, N, B = "string", "integer", "number", "boolean"
local function obj(fields) return { kind = "object", fields = fields } end
local function arr(of) return { kind = "array", of = of } end

local Measure = obj { value = N, unit = S }
local Weight = obj { tare = Measure, grossWeight = Measure, netWeight = Measure }
local Measures = obj { quantity = I, weight = Weight, volume = Measure, remainingQuantity = I,
  availableQuantity = I, reportedQuantity = I, remainingWeight = Measure }
local Indicators = obj { hazardous = B, empty = B, reefer = B, pollutant = B, fumigation = B, quarantine = B }
local References = obj { type = S, value = S }
local HuLocation = obj { place = S, location = S }
local Actors = obj { freightAgent = S, freightForwarder = S }
local Temperatures = obj { setPoint = N, rangeMin = N, rangeMax = N }
local Shipment = obj { documentReference = S, documentId = S, documentType = I, documentDate = S,
  originLocation = S, destinationLocation = S, processingIndicator = S, merchantHaulage = B }
local TransportDate = obj { eta = S, etd = S, ata = S, atd = S }
local MeansId = obj { type = S, name = S }
local Transport = obj { meansName = S, voyageId = S, mode = I, meansNationality = S,
  voyageDates = TransportDate, schedulePlace = S, voyageAgentId = S, voyageAgentReference = S,
  meansType = S, meansId = arr(MeansId), arrivalScheduleReference = S, departureScheduleReference = S }
local Event = obj { eventType = S, eventDate = S, eventPlace = S, eventLocation = S, eventWay = S,
  eventTransportMode = I }
local Hazardous = obj { imoClass = S, limitedQuantity = B }
local EmptyReturn = obj { dueDate = S, finishDateEarliest = S, finishDateLatest = S }
local HandlingUnit = obj { reference = S, pswId = S, freightFamily = S, sizeType = S,
  packagingCode = S, measures = Measures, indicators = Indicators, references = arr(References),
  customsFlag = S, huLocation = HuLocation, actors = Actors, temperatures = Temperatures,
  shipments = arr(Shipment), transport = Transport, events = arr(Event),
  hazardousItems = arr(Hazardous), emptyReturn = EmptyReturn }
local Page = obj { total = I, returned = I, first = I, items = arr(HandlingUnit) }

-- The array fields of each object schema, to fill in when absent.
for _, s in ipairs { Measure, Weight, Measures, Indicators, References, HuLocation, Actors,
    Temperatures, Shipment, TransportDate, MeansId, Transport, Event, Hazardous, EmptyReturn,
    HandlingUnit, Page } do
  local a = {}
  for k, f in pairs(s.fields) do if type(f) == "table" and f.kind == "array" then a[#a + 1] = k end end
  s.arrays = a
end

local path, depth = {}, 0

local function jtype(v)
  if v == null then return "null" end
  local t = type(v)
  if t == "table" then return rawlen(v) > 0 and "array" or "object" end
  return t
end

local function fail(expected, v)
  local parts = {}
  for i = 1, depth do
    local s = path[i]
    if type(s) == "number" then parts[#parts + 1] = "[" .. s .. "]"
    else parts[#parts + 1] = (#parts > 0 and "." or "") .. s end
  end
  error({ path = concat(parts), msg = (depth > 0 and concat(parts) or "response") ..
    ": expected " .. expected .. ", got " .. jtype(v) }, 0)
end

local TWO_53 = 2 ^ 53

-- A number outside the schema that is an integer: whole, below 2^53, not -0.
local function exact_whole(v)
  return v == floor(v) and v > -TWO_53 and v < TWO_53 and (v ~= 0 or 1 / v > 0)
end

local function strip(t)
  for k, v in next, t do
    if v == null then t[k] = nil
    elseif type(v) == "table" then strip(v)
    elseif type(v) == "number" and exact_whole(v) then
      t[k] = tointeger(v)
    end
  end
end

local walk

local function value(t, k, f, v)
  if f == S then
    if type(v) ~= "string" then fail("string", v) end
  elseif f == I then
    if type(v) ~= "number" or v ~= floor(v) or v < -2147483648 or v > 2147483647 then fail("integer", v) end
    t[k] = tointeger(v)
  elseif f == N then
    if type(v) ~= "number" then fail("number", v) end
  elseif f == B then
    if type(v) ~= "boolean" then fail("boolean", v) end
  elseif f.kind == "object" then
    if type(v) ~= "table" or rawlen(v) > 0 then fail("object", v) end
    walk(v, f)
  else
    if type(v) ~= "table" then fail("array", v) end
    local n = rawlen(v)
    if n == 0 and next(v) ~= nil then fail("array", v) end
    local of = f.of
    depth = depth + 1
    for i = 1, n do
      local e = v[i]
      path[depth] = i
      if type(e) ~= "table" or rawlen(e) > 0 then fail("object", e) end
      walk(e, of)
    end
    depth = depth - 1
  end
end

function walk(t, s)
  local fields = s.fields
  for k, v in next, t do
    local f = fields[k]
    if f == nil then
      if v == null then t[k] = nil elseif type(v) == "table" then strip(v)
      elseif type(v) == "number" and exact_whole(v) then t[k] = tointeger(v) end
    elseif v == null then
      if type(f) == "table" and f.kind == "array" then t[k] = {} else t[k] = nil end
    else
      depth = depth + 1
      path[depth] = k
      value(t, k, f, v)
      depth = depth - 1
    end
  end
  local a = s.arrays
  for i = 1, #a do
    local k = a[i]
    if t[k] == nil then t[k] = {} end
  end
end

local M = {}

-- body -> page table | nil, message
function M.decode(body)
  local doc, err = cjson.decode(body)
  if doc == nil then return nil, err end
  depth = 0
  if type(doc) ~= "table" or rawlen(doc) > 0 then return nil, "response: expected object, got " .. jtype(doc) end
  if doc.total == nil and doc.returned == nil and doc.first == nil and doc.items == nil then
    return nil, "response body is not a page: none of total, returned, first, items"
  end
  local ok, e = pcall(walk, doc, Page)
  if not ok then
    if type(e) == "table" then return nil, e.msg end
    error(e, 0)
  end
  return doc
end

return M
