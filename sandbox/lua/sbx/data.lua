-- Deterministic dataset of handling units for the sandbox.
--
-- generate{units = N, seed = S} returns a dataset:
--   ds.units[i] = { ref, uref (upper-cased), psw, tree (J.obj HandlingUnit),
--                   json (encoded tree) }, sorted by uref then psw
--   ds.info     = summary (counts, seed, big prefix, reference time)
-- Runs under LuaJIT (nginx) and Lua 5.4 alike: integer arithmetic stays
-- below 2^53 and no bit operations are used.
local J = require("sbx.json")
local obj, null = J.obj, J.null

local M = {}

M.NOW = 1748736000          -- 2025-06-01T00:00:00Z: the dataset's "now"
M.BIG_PREFIX = "MSCU"       -- reference prefix with more than 100 units
M.EXAMPLE_REF = "CGMU2436601"
M.EXAMPLE_PSW = "CNI0000063978"

local HOUR, DAY = 3600, 86400
local floor, format = math.floor, string.format

---------------------------------------------------------------------------
-- PRNG: Park-Miller "minimal standard" (48271), exact in doubles.
local function rng(seed)
  local s = floor(tonumber(seed) or 1) % 2147483646
  if s <= 0 then s = s + 2147483646 end
  local r = {}
  function r.next()
    s = (s * 48271) % 2147483647
    return s
  end
  -- integer in [a, b]
  function r.int(a, b)
    return a + floor((r.next() - 1) / 2147483646 * (b - a + 1))
  end
  function r.pick(t) return t[r.int(1, #t)] end
  function r.chance(p) return r.next() / 2147483647 < p end
  -- weighted pick from { {weight, value}, ... }
  function r.weighted(t)
    local total = 0
    for i = 1, #t do total = total + t[i][1] end
    local x = r.int(1, total)
    for i = 1, #t do
      x = x - t[i][1]
      if x <= 0 then return t[i][2] end
    end
    return t[#t][2]
  end
  -- warm up
  for _ = 1, 8 do r.next() end
  return r
end
M.rng = rng

---------------------------------------------------------------------------
-- ISO 6346 check digit; returns digit and the raw remainder (10 means the
-- serial should not be used).
local LETTER = {}
do
  local v = 10
  for c in ("ABCDEFGHIJKLMNOPQRSTUVWXYZ"):gmatch(".") do
    if v % 11 == 0 then v = v + 1 end
    LETTER[c] = v
    v = v + 1
  end
end

function M.iso6346_remainder(code10)
  local sum, w = 0, 1
  for i = 1, 10 do
    local c = code10:sub(i, i)
    local v = LETTER[c] or tonumber(c)
    sum = sum + v * w
    w = w * 2
  end
  return sum % 11
end

-- IMO ship number check digit (7 digits, weights 7..2).
local function imo_number(six)
  local sum = 0
  for i = 1, 6 do sum = sum + tonumber(six:sub(i, i)) * (8 - i) end
  return six .. (sum % 10)
end

---------------------------------------------------------------------------
-- Reference tables
local FR_PLACES = {
  { code = "FRLEH", off = "eu", locs = { "MTDF", "TNMSC", "TPO", "TFM" } },
  { code = "FRMRS", off = "eu", locs = { "MED", "EUROSEAS" } },
  { code = "FRFOS", off = "eu", locs = { "FOS2XL", "SEAYARD" } },
  { code = "FRDKK", off = "eu", locs = { "TFLANDRES", "TNORD" } },
  { code = "FRNTE", off = "eu", locs = { "MONTOIR" } },
}
local WORLD = {
  { code = "CNSHA", off = 480 }, { code = "CNNGB", off = 480 },
  { code = "SGSIN", off = 480 }, { code = "HKHKG", off = 480 },
  { code = "KRPUS", off = 540 }, { code = "INNSA", off = 330 },
  { code = "AEJEA", off = 240 }, { code = "NLRTM", off = "eu" },
  { code = "BEANR", off = "eu" }, { code = "DEHAM", off = "eu" },
  { code = "ESALG", off = "eu" }, { code = "MAPTM", off = 60 },
  { code = "USNYC", off = -300 }, { code = "USSAV", off = -300 },
  { code = "BRSSZ", off = -180 }, { code = "CIABJ", off = 0 },
  { code = "FRPAR", off = "eu" }, { code = "FRLYS", off = "eu" },
  { code = "FRTLS", off = "eu" },
}
local PLACE_OFF = {}
for _, p in ipairs(FR_PLACES) do PLACE_OFF[p.code] = p.off end
for _, p in ipairs(WORLD) do PLACE_OFF[p.code] = p.off end

local VESSEL_NAMES = {
  "MSC EYRA", "CMA CGM TAGE", "CMA CGM RHONE", "MAERSK KOLKATA",
  "HMM ALGECIRAS", "EVER ARM", "ONE APUS", "MSC ALINA", "CMA CGM BORNEO",
  "HAPAG BERLIN EXPRESS", "COSCO PRIDE", "APL CHANGI", "CONTSHIP ICE",
  "X-PRESS ELBE", "MARFRET GUYANE", "SAMSKIP ENDEAVOUR", "CMA CGM MONTMARTRE",
  "MSC ISABELLA", "OOCL ROTTERDAM", "YM WITNESS", "ZIM NINGBO", "NORDIC LUCIA",
}
local FLAGS = {
  { "MLT", "9H" }, { "LBR", "D5" }, { "PAN", "3E" }, { "FRA", "FN" },
  { "SGP", "9V" }, { "DNK", "OZ" }, { "HKG", "VR" }, { "MHL", "V7" },
}
local OWNERS = { "CGMU", "CMAU", "MAEU", "MRKU", "HLXU", "TGHU", "TCLU", "SEGU",
  "OOLU", "EGHU", "ONEU", "TRLU", "FCIU", "GESU", "BMOU", "TEMU", "APZU" }
local DRY = { "22G1", "22G1", "42G1", "45G1", "45G1", "L5G1", "25G1" }
local REEFER = { "22R1", "45R1", "42R1" }
local OPEN = { "22U1", "42U1" }
local TANK = { "22T6", "22T0" }
local PACKAGING = { "PK", "CT", "BG", "PX", "CR", "RO", "CS", "BX", "DR", "BE", "CL" }
local BB_GOODS = { "STL", "PAP", "WND", "COC", "TIM", "MCH", "CUP", "RAIL" }
local IMO_CLASSES = { "1.4", "2.1", "2.2", "3", "3", "4.1", "5.1", "6.1", "8", "8", "9" }
local AGENTS = { "CSGT", "CMAG", "MSCF", "MAEF", "HLAG", "ONEF", "EVGF" }
local CARRIER_BL = { "CMDU", "MEDU", "MAEU", "HLCU", "ONEY", "EGLV", "COSU" }
local SETPOINTS = { -25, -18, -1, 0.5, 2, 4, 13, -0.5 }

---------------------------------------------------------------------------
local function offset_str(off)
  local sign = off < 0 and "-" or "+"
  local a = off < 0 and -off or off
  return format("%s%02d:%02d", sign, floor(a / 60), a % 60)
end

-- Offset in minutes of a place at UTC time t: "eu" places follow the EU
-- summer time rule (last Sunday of March to last Sunday of October, 01:00 UTC).
local function last_sunday(year, month, mday)
  local t = os.time({ year = year, month = month, day = mday, hour = 12 })
  local wday = tonumber(os.date("%w", t))
  return mday - wday
end

local dst_cache = {}
local function eu_summer(t)
  local year = tonumber(os.date("!%Y", floor(t)))
  local c = dst_cache[year]
  if not c then
    local function utc(month, day)
      -- days since epoch of year-month-day (proleptic Gregorian)
      local y, m = year, month
      if m <= 2 then y = y - 1 end
      local era = floor(y / 400)
      local yoe = y - era * 400
      local mp = (m + 9) % 12
      local doy = floor((153 * mp + 2) / 5) + day - 1
      local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
      return (era * 146097 + doe - 719468) * 86400 + 3600
    end
    c = { utc(3, last_sunday(year, 3, 31)), utc(10, last_sunday(year, 10, 31)) }
    dst_cache[year] = c
  end
  return t >= c[1] and t < c[2]
end

-- ISO 8601 with the place's UTC offset (minutes; "eu" = CET/CEST)
local function ts(t, off)
  off = off or 0
  if off == "eu" then off = eu_summer(t) and 120 or 60 end
  return os.date("!%Y-%m-%dT%H:%M:%S", floor(t + off * 60)) .. offset_str(off)
end
M.ts = ts

local function ev(etype, t, place, loc, way, mode)
  return {
    t = t,
    tree = obj("EventInformation",
      "eventType", etype,
      "eventDate", ts(t, place.off),
      "eventPlace", place.code,
      "eventLocation", loc or null,
      "eventWay", way,
      "eventTransportMode", mode),
  }
end

local function measure(v, unit)
  return obj("Measure", "value", v, "unit", unit)
end

---------------------------------------------------------------------------
local function make_vessels(r)
  local vessels = {}
  for i, name in ipairs(VESSEL_NAMES) do
    local flag = FLAGS[(i - 1) % #FLAGS + 1]
    vessels[i] = {
      name = name,
      imo = imo_number(format("%d", 910000 + r.int(0, 89999))),
      callsign = flag[2] .. format("%s%d", string.char(65 + r.int(0, 25)), r.int(1000, 9999)),
      nat = flag[1],
    }
  end
  return vessels
end

local function make_voyages(r, n, vessels)
  local voyages = {}
  for i = 1, n do
    local place = r.pick(FR_PLACES)
    local vs = r.pick(vessels)
    -- eta between ~400 days ago and 2 days ahead of NOW
    local eta = M.NOW - r.int(-47, 9600) * HOUR
    eta = eta - eta % 1800
    local etd = eta + r.int(18, 72) * HOUR
    local ata = eta + r.int(-6 * 60, 12 * 60) * 60 + r.int(0, 59)
    local atd = etd + r.int(-2 * 60, 10 * 60) * 60 + r.int(0, 59)
    if ata > M.NOW then ata = nil end
    if not ata or atd > M.NOW or atd <= ata then atd = nil end
    local letters = string.char(65 + r.int(0, 25), 65 + r.int(0, 25))
    local num = r.int(100, 999)
    voyages[i] = {
      place = place, vessel = vs, eta = eta, etd = etd, ata = ata, atd = atd,
      id = format("VOS%010d", 40000 + i * 7),
      agent_id = format("VAG%010d", 20000 + r.int(1, 60)),
      agent_ref = format("%s-%s-%04d", r.pick(AGENTS), place.code:sub(3, 5), r.int(1, 9999)),
      arr_ref = format("%s%dR", letters, num),
      dep_ref = format("%s%dA", letters, num),
      means_type = r.pick({ "MVE", "MVE", "MVE", "BAR" }),
    }
  end
  return voyages
end

local function transport_tree(v)
  local off = v.place.off
  return obj("Transport",
    "meansName", v.vessel.name,
    "voyageId", v.id,
    "mode", 1,
    "meansNationality", v.vessel.nat,
    "voyageDates", obj("TransportDate",
      "eta", ts(v.eta, off),
      "etd", ts(v.etd, off),
      "ata", v.ata and ts(v.ata, off) or null,
      "atd", v.atd and ts(v.atd, off) or null),
    "schedulePlace", v.place.code,
    "voyageAgentId", v.agent_id,
    "voyageAgentReference", v.agent_ref,
    "meansType", v.means_type,
    "meansId", {
      obj("TransportMeansIdentifier", "type", "IMONumber", "name", v.vessel.imo),
      obj("TransportMeansIdentifier", "type", "CallSign", "name", v.vessel.callsign),
    },
    "arrivalScheduleReference", v.arr_ref,
    "departureScheduleReference", v.dep_ref)
end

-- Event timeline for a unit; returns events (sorted, only those <= NOW),
-- the gate-out time (or nil) and whether the unit left the terminal.
local function timeline(r, process, v, loc, land_mode)
  local P = v.place
  local list = {}
  local function add(...) list[#list + 1] = ev(...) end
  if process == "Import" or process == "Transit" then
    add("MAN", v.eta - r.int(72, 160) * HOUR, P, nil, "Undefined", 1)
    add("ANN", v.eta - r.int(24, 47) * HOUR, P, loc, "Undefined", 1)
    if v.ata then
      local dis = v.ata + r.int(1, 20) * HOUR + r.int(0, 3599)
      add("DIS", dis, P, loc, "In", 1)
      local t = dis + r.int(4, 72) * HOUR
      if r.chance(0.1) then
        add("INS", t, P, loc, "Undefined", 0)
        t = t + r.int(2, 30) * HOUR
      end
      add(process == "Transit" and "TRS" or "CUS", t, P, loc, "Undefined", 0)
      local out = t + r.int(2, 96) * HOUR + r.int(0, 3599)
      add("GOT", out, P, loc, "Out", process == "Transit" and 2 or land_mode)
    end
  elseif process == "Export" then
    local gin = v.etd - r.int(30, 140) * HOUR - r.int(0, 3599)
    add("ANN", gin - r.int(24, 72) * HOUR, P, nil, "Undefined", land_mode)
    add("GIN", gin, P, loc, "In", land_mode)
    local t = gin + r.int(2, 20) * HOUR
    if r.chance(0.1) then
      add("INS", t, P, loc, "Undefined", 0)
      t = t + r.int(1, 6) * HOUR
    end
    add("CUS", t, P, loc, "Undefined", 0)
    if v.atd then add("LOA", v.atd - r.int(1, 10) * HOUR, P, loc, "Out", 1) end
  else -- Transhipment: discharged from a feeder, loaded on the voyage
    local dis = v.etd - r.int(50, 240) * HOUR - r.int(0, 3599)
    add("ANN", dis - r.int(24, 72) * HOUR, P, nil, "Undefined", 1)
    add("DIS", dis, P, loc, "In", 1)
    if v.atd then add("LOA", v.atd - r.int(1, 10) * HOUR, P, loc, "Out", 1) end
  end
  table.sort(list, function(a, b) return a.t < b.t end)
  -- every unit has at least two events in the past
  if list[2].t > M.NOW then
    local shift = list[2].t - M.NOW + r.int(1, 48) * HOUR
    for i = 1, #list do
      list[i].t = list[i].t - shift
      list[i].tree.eventDate = ts(list[i].t, P.off)
    end
  end
  local kept = {}
  for i = 1, #list do
    if list[i].t <= M.NOW then kept[#kept + 1] = list[i] end
  end
  table.sort(kept, function(a, b) return a.t < b.t end)
  return kept
end

local function shipment_tree(r, process, v, first_t, idx)
  local origin, dest
  if process == "Export" then
    origin = r.chance(0.5) and r.pick({ "FRPAR", "FRLYS", "FRTLS" }) or v.place.code
    dest = r.pick(WORLD).code
  else
    origin, dest = r.pick(WORLD).code, r.pick({ "FRPAR", "FRLYS", "FRTLS", "FRNTE", v.place.code })
  end
  local carrier = r.pick(CARRIER_BL)
  local alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
  local tail = {}
  for i = 1, r.int(6, 10) do
    local k = r.int(1, #alnum)
    tail[i] = alnum:sub(k, k)
  end
  return obj("Shipment",
    "documentReference", carrier .. table.concat(tail),
    "documentId", format("%s%010d", process == "Export" and "DEX" or "DAI", 380000 + idx),
    "documentType", r.chance(0.85) and 705 or 706,
    "documentDate", ts(first_t - r.int(24, 400) * HOUR, PLACE_OFF[origin] or v.place.off),
    "originLocation", origin,
    "destinationLocation", dest,
    "processingIndicator", process,
    "merchantHaulage", r.chance(0.3))
end

---------------------------------------------------------------------------
local function container_unit(r, i, ref, voyages)
  local process = r.weighted({ { 45, "Import" }, { 35, "Export" }, { 12, "Transhipment" },
    { 5, "Transit" }, { 3, "Unknown" } })
  local empty = r.chance(0.15)
  local kind = r.weighted({ { 70, "dry" }, { 14, "reefer" }, { 8, "open" }, { 8, "tank" } })
  if empty and kind == "tank" then kind = "dry" end
  local size = ({ dry = DRY, reefer = REEFER, open = OPEN, tank = TANK })[kind]
  size = r.pick(size)
  local hazardous = not empty and (kind == "tank" or r.chance(0.08))
  local reefer = kind == "reefer"
  local v = r.pick(voyages)
  local loc = r.pick(v.place.locs)
  local proc_for_events = process == "Unknown" and "Import" or process
  local events = timeline(r, proc_for_events, v, loc, r.weighted({ { 80, 3 }, { 15, 2 }, { 5, 8 } }))
  local last = events[#events]
  local left = last.tree.eventType == "GOT" or last.tree.eventType == "LOA"

  local forty = size:sub(1, 1) ~= "2"
  local tare = forty and r.int(3650, 4150) or r.int(2150, 2400)
  if reefer then tare = tare + 800 end
  local cargo = empty and 0 or r.int(forty and 4000 or 3000, forty and 26500 or 24000)
  local volume = forty and (size:sub(1, 2) == "45" or size:sub(1, 1) == "L") and 76.3 or (forty and 67.7 or 33.2)

  local temps
  if reefer and not empty then
    local sp = r.pick(SETPOINTS)
    local d = r.int(1, 5)
    temps = obj("Temperatures", "setPoint", sp, "rangeMin", sp - d, "rangeMax", sp + d / 2)
  else
    temps = obj("Temperatures", "setPoint", null, "rangeMin", null, "rangeMax", null)
  end

  local hz = {}
  if hazardous then
    for k = 1, r.int(1, 2) do
      hz[k] = obj("HazardousItem", "imoClass", r.pick(IMO_CLASSES), "limitedQuantity", r.chance(0.25))
    end
  end

  local refs = {}
  if process == "Export" and not empty then
    refs[1] = obj("References", "type", "SequenceNumber",
      "value", format("%02dFR%014X", 24 + r.int(0, 1), r.int(1, 2^31 - 2) * 4096 + r.int(0, 4095)))
    if r.chance(0.3) then
      refs[2] = obj("References", "type", "Rank", "value", format("%d", r.int(1, 999)))
    end
  end

  local shipments = {}
  if not empty then
    for k = 1, (r.chance(0.15) and 2 or 1) do
      shipments[k] = shipment_tree(r, process == "Unknown" and "Import" or process, v, events[1].t, i * 3 + k)
    end
  end

  local empty_return
  if process == "Import" and not empty and last.tree.eventType == "GOT" then
    local due = last.t + r.int(5, 10) * DAY
    due = due - due % DAY + 22 * HOUR
    empty_return = obj("EmptyReturn",
      "dueDate", ts(due, 0),
      "finishDateEarliest", ts(due + DAY, 0),
      "finishDateLatest", ts(due + 2 * DAY, 0))
  end

  local evs = {}
  for k = 1, #events do evs[k] = events[k].tree end
  return obj("HandlingUnit",
    "reference", ref,
    "pswId", format("CNI%010d", 1000000 + i * 13),
    "freightFamily", "Container",
    "sizeType", size,
    "packagingCode", null,
    "measures", obj("Measures",
      "quantity", 1,
      "weight", obj("Weight",
        "tare", measure(tare, "KGM"),
        "grossWeight", measure(tare + cargo, "KGM"),
        "netWeight", measure(cargo, "KGM")),
      "volume", measure(volume, "MTQ"),
      "remainingQuantity", null,
      "availableQuantity", null,
      "reportedQuantity", null),
    "indicators", obj("Indicators",
      "hazardous", hazardous,
      "empty", empty,
      "reefer", reefer,
      "pollutant", hazardous and r.chance(0.2) or false,
      "fumigation", r.chance(0.02),
      "quarantine", r.chance(0.01)),
    "references", refs,
    "customsFlag", process,
    "huLocation", obj("HuLocation", "place", v.place.code, "location", left and null or loc),
    "actors", obj("Actors",
      "freightAgent", r.chance(0.9) and r.pick(AGENTS) or null,
      "freightForwarder", r.chance(0.8) and format("%07d", r.int(1000000, 9999999)) or null),
    "temperatures", temps,
    "shipments", shipments,
    "transport", transport_tree(v),
    "events", evs,
    "hazardousItems", hz,
    "emptyReturn", empty_return), events
end

local function breakbulk_unit(r, i, ref, voyages)
  local process = r.weighted({ { 50, "Import" }, { 40, "Export" }, { 10, "Transhipment" } })
  local v = r.pick(voyages)
  local loc = r.pick(v.place.locs)
  local events = timeline(r, process, v, loc, 3)
  local qty = r.int(2, 400)
  local reported = r.chance(0.4) and r.int(1, qty) or qty
  local available = r.int(0, reported)
  local per = r.int(40, 2500)
  local hazardous = r.chance(0.05)
  local hz = {}
  if hazardous then
    hz[1] = obj("HazardousItem", "imoClass", r.pick(IMO_CLASSES), "limitedQuantity", r.chance(0.4))
  end
  local evs = {}
  for k = 1, #events do evs[k] = events[k].tree end
  local last = events[#events]
  local left = last.tree.eventType == "GOT" or last.tree.eventType == "LOA"
  return obj("HandlingUnit",
    "reference", ref,
    "pswId", format("MAR%010d", 2000000 + i * 17),
    "freightFamily", "BreakBulk",
    "sizeType", null,
    "packagingCode", r.pick(PACKAGING),
    "measures", obj("Measures",
      "quantity", qty,
      "weight", obj("Weight",
        "grossWeight", measure(qty * per + r.int(0, 99), "KGM"),
        "netWeight", measure(qty * per, "KGM")),
      "volume", measure(r.int(10, 4000) / 10, "MTQ"),
      "remainingQuantity", qty - reported,
      "availableQuantity", available,
      "reportedQuantity", reported,
      "remainingWeight", measure((qty - reported) * per, "KGM")),
    "indicators", obj("Indicators",
      "hazardous", hazardous, "empty", false, "reefer", false,
      "pollutant", false, "fumigation", r.chance(0.05), "quarantine", false),
    "references", {},
    "customsFlag", process,
    "huLocation", obj("HuLocation", "place", v.place.code, "location", left and null or loc),
    "actors", obj("Actors",
      "freightAgent", r.pick(AGENTS),
      "freightForwarder", format("%07d", r.int(1000000, 9999999))),
    "temperatures", obj("Temperatures", "setPoint", null, "rangeMin", null, "rangeMax", null),
    "shipments", { shipment_tree(r, process, v, events[1].t, 900000 + i) },
    "transport", transport_tree(v),
    "events", evs,
    "hazardousItems", hz), events
end

-- The OpenAPI document's own example, with a rich record.
local function example_unit()
  local function e(etype, date, loc, way, mode)
    return obj("EventInformation", "eventType", etype, "eventDate", date,
      "eventPlace", "FRLEH", "eventLocation", loc, "eventWay", way, "eventTransportMode", mode)
  end
  return obj("HandlingUnit",
    "reference", M.EXAMPLE_REF,
    "pswId", M.EXAMPLE_PSW,
    "freightFamily", "Container",
    "sizeType", "22G1",
    "packagingCode", null,
    "measures", obj("Measures",
      "quantity", 10,
      "weight", obj("Weight",
        "tare", measure(2230, "KGM"),
        "grossWeight", measure(13030, "KGM"),
        "netWeight", measure(10800, "KGM")),
      "volume", measure(33.2, "MTQ"),
      "remainingQuantity", null, "availableQuantity", null, "reportedQuantity", null),
    "indicators", obj("Indicators", "hazardous", true, "empty", false, "reefer", false,
      "pollutant", false, "fumigation", false, "quarantine", false),
    "references", { obj("References", "type", "SequenceNumber", "value", "20NL050BC243E2C8A0") },
    "customsFlag", "Import",
    "huLocation", obj("HuLocation", "place", "FRLEH", "location", "MTDF"),
    "actors", obj("Actors", "freightAgent", "CSGT", "freightForwarder", "2308522"),
    "temperatures", obj("Temperatures", "setPoint", null, "rangeMin", null, "rangeMax", null),
    "shipments", {
      obj("Shipment",
        "documentReference", "HLCUEUR2002APIK9",
        "documentId", "DAI0000387547",
        "documentType", 705,
        "documentDate", "2020-05-07T14:38:54+02:00",
        "originLocation", "CNSHA",
        "destinationLocation", "FRNTE",
        "processingIndicator", "Import",
        "merchantHaulage", true),
    },
    "transport", obj("Transport",
      "meansName", "MSC EYRA",
      "voyageId", "VOS0000034525",
      "mode", 1,
      "meansNationality", "GBR",
      "voyageDates", obj("TransportDate",
        "eta", "2020-05-19T22:00:00+00:00",
        "etd", "2020-05-20T23:00:00+00:00",
        "ata", "2020-05-19T22:43:17+00:00",
        "atd", "2020-05-20T23:00:17+00:00"),
      "schedulePlace", "FRLEH",
      "voyageAgentId", "VAG0000034525",
      "voyageAgentReference", "OWL-RDM-2305",
      "meansType", "MVE",
      "meansId", {
        obj("TransportMeansIdentifier", "type", "IMONumber", "name", "9360142"),
        obj("TransportMeansIdentifier", "type", "CallSign", "name", "9HA2954"),
      },
      "arrivalScheduleReference", "BA649R",
      "departureScheduleReference", "BA649A"),
    "events", {
      e("MAN", "2020-05-14T09:12:00+02:00", null, "Undefined", 1),
      e("ANN", "2020-05-18T16:05:00+02:00", "MTDF", "Undefined", 1),
      e("DIS", "2020-05-20T03:27:41+02:00", "MTDF", "In", 1),
      e("HAZ", "2020-05-20T10:02:00+02:00", "MTDF", "Undefined", 0),
      e("CUS", "2020-05-21T08:30:12+02:00", "MTDF", "Undefined", 0),
    },
    "hazardousItems", { obj("HazardousItem", "imoClass", "3", "limitedQuantity", false) },
    "emptyReturn", obj("EmptyReturn",
      "dueDate", "2022-11-19T22:00:00+00:00",
      "finishDateEarliest", "2022-11-20T22:00:00+00:00",
      "finishDateLatest", "2022-11-21T22:00:00+00:00"))
end

---------------------------------------------------------------------------
-- Units laid down by hand, not drawn, for what the drawn ones never show:
-- one container seen on several passages (one reference, an S)ONE id per
-- passage: the document calls pswId "the single passage identificator"),
-- and break-bulk lots whose references begin one another's (a query for
-- a lot is a prefix of the others'). They take the place of the last
-- drawn break-bulk units (so a data set keeps its size), have no shipment
-- and a voyage of their own (so no search finds them), and their events
-- come in time order like every unit's.
M.FIXTURES = {
  passages = { ref = "SOGU1000004", units = 12 },   -- "SOGU100000" + its check digit
  lots = { ref = "SOGET LOT 7", extra = 10 },         -- "SOGET LOT 7", then 70..79
}

local function fixture_unit(ref, psw, k, family)
  local t = example_unit()
  local base = M.NOW - (400 - 30 * k) * DAY
  local function e(etype, at, loc, way, mode)
    return obj("EventInformation", "eventType", etype, "eventDate", ts(at, "eu"),
      "eventPlace", "FRLEH", "eventLocation", loc, "eventWay", way, "eventTransportMode", mode)
  end
  J.set(t, "reference", ref)
  J.set(t, "pswId", psw)
  J.set(t, "freightFamily", family)
  if family ~= "Container" then
    J.set(t, "sizeType", null)
    J.set(t, "packagingCode", "PK")
    J.set(t, "measures", obj("Measures",
      "quantity", 10,
      "weight", obj("Weight", "grossWeight", measure(2500 + k, "KGM"),
        "netWeight", measure(2400 + k, "KGM")),
      "volume", measure(12.5, "MTQ"),
      "remainingQuantity", 0, "availableQuantity", 4, "reportedQuantity", 10,
      "remainingWeight", measure(0, "KGM")))
  end
  J.set(t, "references", {})
  J.set(t, "shipments", {})
  J.set(t, "hazardousItems", {})
  J.set(t.indicators, "hazardous", false)
  J.set(t.transport, "voyageId", format("VOS%010d", 90000 + k))
  J.set(t.transport, "voyageAgentId", "VAG0000090000")
  J.set(t.transport, "voyageAgentReference", format("SOGET-FIX-%02d", k))
  J.set(t.transport, "voyageDates", obj("TransportDate",
    "eta", ts(base, 0), "etd", ts(base + 2 * DAY, 0),
    "ata", ts(base + HOUR, 0), "atd", ts(base + 2 * DAY + HOUR, 0)))
  J.set(t, "events", {
    e("MAN", base - 5 * DAY, null, "Undefined", 1),
    e("DIS", base + 3 * HOUR, "MTDF", "In", 1),
    e("GOT", base + 4 * DAY, "MTDF", "Out", 3),
  })
  return t
end

-- The fixtures, as units of the data set.
local function fixtures()
  local list = {}
  local P, Lt = M.FIXTURES.passages, M.FIXTURES.lots
  for k = 1, P.units do
    list[#list + 1] = fixture_unit(P.ref, format("CNI%010d", 900000 + k), k, "Container")
  end
  -- the lot that the others' references begin has the last id: listed in
  -- the order of ids (the `order` fault), the others come first, as in
  -- order of references, and only a walk that reads on finds it
  list[#list + 1] = fixture_unit(Lt.ref, format("MAR%010d", 900001 + Lt.extra), 0, "BreakBulk")
  for k = 0, Lt.extra - 1 do
    list[#list + 1] = fixture_unit(Lt.ref .. k, format("MAR%010d", 900001 + k), k + 1, "BreakBulk")
  end
  return list
end

---------------------------------------------------------------------------
-- Documents and voyages for the in-mass search. They are laid over the
-- generated units afterwards, without drawing from the generator (so every
-- unit keeps its record): only shipments are added and voyage fields changed.
M.SEARCH = {
  voyage_ref = "CMAG-LEH-2501",      -- voyageAgentReference of the big voyage
  voyage_agent = "VAG0000020061",    -- voyageAgentId of its agent (outside the drawn 20001..20060)
  voyage_place = "FRLEH",
  voyage_min = 120,                  -- the big voyage gathers whole voyages up to this many units
  documents = {                      -- bills of lading on the big voyage
    { ref = "3714238101", flag = "Import", units = 25, id = "DAI0000500001",
      origin = "CNSHA", dest = "FRPAR", days = 34 },
    { ref = "CMDULEH2501003", flag = "Export", units = 3, id = "DEX0000500002",
      origin = "FRLYS", dest = "USNYC", days = 6 },
    { ref = "HLCUSIN2501001", flag = "Transhipment", units = 1, id = "DAI0000500003",
      origin = "SGSIN", dest = "MAPTM", days = 21 },
  },
}

local function voyage_of(u)
  local t = u.tree.transport
  return J.is_obj(t) and t.voyageId or nil
end

function M.search_set(units, voyages)
  local S = M.SEARCH
  local by_id, members = {}, {}
  for _, v in ipairs(voyages) do by_id[v.id] = v end
  for i, u in ipairs(units) do
    local id = u.ref ~= M.EXAMPLE_REF and voyage_of(u)
    if id and by_id[id] then
      members[id] = members[id] or {}
      local list = members[id]
      list[#list + 1] = i
    end
  end
  -- the voyage at the place with the most units (ties: the lower id)
  local cands = {}
  for id in pairs(members) do
    if by_id[id].place.code == S.voyage_place then cands[#cands + 1] = id end
  end
  if #cands == 0 then return J.map({ documents = {}, voyage = J.map({ units = 0 }) }) end
  table.sort(cands, function(a, b)
    if #members[a] ~= #members[b] then return #members[a] > #members[b] end
    return a < b
  end)
  local V = by_id[cands[1]]
  -- then the other voyages of that place, nearest eta first
  local rest = {}
  for k = 2, #cands do rest[#rest + 1] = cands[k] end
  table.sort(rest, function(a, b)
    local da, db = math.abs(by_id[a].eta - V.eta), math.abs(by_id[b].eta - V.eta)
    if da ~= db then return da < db end
    return a < b
  end)
  local big = {}
  for _, i in ipairs(members[V.id]) do big[#big + 1] = i end
  local merged, k = { V.id }, 0
  while #big < S.voyage_min and k < #rest do
    k = k + 1
    merged[#merged + 1] = rest[k]
    for _, i in ipairs(members[rest[k]]) do big[#big + 1] = i end
  end
  table.sort(big)
  V.agent_ref, V.agent_id = S.voyage_ref, S.voyage_agent
  for _, i in ipairs(big) do units[i].tree.transport = transport_tree(V) end
  -- the agent also acts for the next voyage of the place (voyageAgentId
  -- matches more units than the voyage)
  local also, also_units = rest[k + 1], 0
  if also then
    for _, i in ipairs(members[also]) do
      J.set(units[i].tree.transport, "voyageAgentId", S.voyage_agent)
    end
    also_units = #members[also]
  end

  -- bills of lading: units of the big voyage with the document's customs
  -- flag, not empty, spread over the voyage's (sorted) units
  local used, docs = {}, {}
  for _, d in ipairs(S.documents) do
    local pool = {}
    for _, i in ipairs(big) do
      local t = units[i].tree
      if not used[i] and t.customsFlag == d.flag and not t.indicators.empty then pool[#pool + 1] = i end
    end
    local take = {}
    local n = math.min(d.units, #pool)
    for j = 1, n do take[j] = pool[floor((j - 1) * #pool / n) + 1] end
    local off = PLACE_OFF[d.origin] or 0
    for _, i in ipairs(take) do
      used[i] = true
      local list = units[i].tree.shipments
      list[#list + 1] = obj("Shipment",
        "documentReference", d.ref,
        "documentId", d.id,
        "documentType", 705,
        "documentDate", ts(V.eta - d.days * DAY + 9 * HOUR, off),
        "originLocation", d.origin,
        "destinationLocation", d.dest,
        "processingIndicator", d.flag,
        "merchantHaulage", false)
    end
    docs[#docs + 1] = J.map({ documentReference = d.ref, customsFlag = d.flag, units = n })
  end
  docs[#docs + 1] = J.map({ documentReference = "HLCUEUR2002APIK9", customsFlag = "Import", units = 1,
    example = M.EXAMPLE_REF })
  return J.map({
    documents = docs,
    voyage = J.map({
      voyageAgentReference = S.voyage_ref, voyageAgentId = S.voyage_agent, voyageId = V.id,
      schedulePlace = V.place.code, meansName = V.vessel.name, units = #big,
      merged_voyages = #merged, agent_units = #big + also_units,
    }),
  })
end

-- Exact-match indexes for the search: documentReference of any shipment,
-- voyageAgentReference and voyageAgentId of the transport -> unit indexes
-- in ascending order.
function M.search_index(units)
  local doc, vref, vid = {}, {}, {}
  local function add(map, key, i)
    if type(key) ~= "string" then return end
    local list = map[key]
    if not list then list = {}; map[key] = list end
    if list[#list] ~= i then list[#list + 1] = i end
  end
  for i, u in ipairs(units) do
    local t = u.tree
    if type(t.shipments) == "table" then
      for _, s in ipairs(t.shipments) do
        if J.is_obj(s) then add(doc, s.documentReference, i) end
      end
    end
    if J.is_obj(t.transport) then
      add(vref, t.transport.voyageAgentReference, i)
      add(vid, t.transport.voyageAgentId, i)
    end
  end
  return { documentReference = doc, voyageAgentReference = vref, voyageAgentId = vid }
end

local NONE = {}

-- q: documentReference, voyageAgentReference, voyageAgentId, customsFlag,
-- freightAgent (nil when not given); exact matches, combined with AND.
-- Returns unit indexes in ascending order (the order of handling-units).
function M.search(ds, q)
  local ix = ds.search
  local best
  for _, k in ipairs({ "documentReference", "voyageAgentReference", "voyageAgentId" }) do
    if q[k] then
      local list = ix[k][q[k]] or NONE
      if not best or #list < #best then best = list end
    end
  end
  local out = {}
  if not best then return out end
  for _, i in ipairs(best) do
    local t = ds.units[i].tree
    local ok = true
    if q.documentReference then
      ok = false
      for _, s in ipairs(t.shipments) do
        if s.documentReference == q.documentReference then ok = true break end
      end
    end
    local tr = t.transport
    if ok and q.voyageAgentReference then ok = tr.voyageAgentReference == q.voyageAgentReference end
    if ok and q.voyageAgentId then ok = tr.voyageAgentId == q.voyageAgentId end
    if ok and q.customsFlag then ok = t.customsFlag == q.customsFlag end
    if ok and q.freightAgent then ok = t.actors.freightAgent == q.freightAgent end
    if ok then out[#out + 1] = i end
  end
  return out
end

---------------------------------------------------------------------------
function M.generate(opts)
  opts = opts or {}
  local n = floor(tonumber(opts.units) or 3000)
  if n < 1 then n = 1 end
  local seed = floor(tonumber(opts.seed) or 6346)
  local r = rng(seed)
  local vessels = make_vessels(r)
  local voyages = make_voyages(r, math.max(20, floor(n / 15)), vessels)

  local used = { [M.EXAMPLE_REF] = true }
  local units = {}
  local big = math.min(150, floor(n / 2))
  local n_bb = floor(n * 0.2)
  local counts = { containers = 1, breakbulk = 0 }
  units[1] = { ref = M.EXAMPLE_REF, psw = M.EXAMPLE_PSW, tree = example_unit() }
  -- the fixtures take the place of the last draws (data sets of 100 units
  -- and more): every unit drawn before them is drawn as without them
  local fixed = n >= 100 and fixtures() or {}
  for i = 2, n - #fixed do
    local tree
    if i - 1 <= n - 1 - n_bb then
      local owner = (i - 1 <= big or r.chance(0.12)) and M.BIG_PREFIX or r.pick(OWNERS)
      local ref
      for _ = 1, 1000 do
        local code10 = owner .. format("%06d", r.int(0, 999999))
        local rem = M.iso6346_remainder(code10)
        if rem ~= 10 then
          ref = code10 .. rem
          if not used[ref] then break end
        end
        ref = nil
      end
      assert(ref, "could not draw a container number")
      used[ref] = true
      tree = container_unit(r, i, ref, voyages)
      counts.containers = counts.containers + 1
    else
      local ref
      for _ = 1, 1000 do
        ref = format("%s %06d-%02d", r.pick(BB_GOODS), r.int(0, 999999), r.int(1, 40))
        if not used[ref] then break end
      end
      used[ref] = true
      tree = breakbulk_unit(r, i, ref, voyages)
      counts.breakbulk = counts.breakbulk + 1
    end
    units[i] = { ref = tree.reference, psw = tree.pswId, tree = tree }
  end
  for _, tree in ipairs(fixed) do
    units[#units + 1] = { ref = tree.reference, psw = tree.pswId, tree = tree }
    if tree.freightFamily == "Container" then counts.containers = counts.containers + 1
    else counts.breakbulk = counts.breakbulk + 1 end
  end
  for i = 1, #units do
    local u = units[i]
    u.uref = u.ref:upper()
    u.upsw = u.psw:upper()
  end
  table.sort(units, function(a, b)
    if a.uref ~= b.uref then return a.uref < b.uref end
    return a.upsw < b.upsw
  end)
  local search_info = M.search_set(units, voyages)
  for i = 1, #units do units[i].json = J.encode(units[i].tree) end

  local big_count = 0
  for i = 1, #units do
    if units[i].uref:sub(1, #M.BIG_PREFIX) == M.BIG_PREFIX then big_count = big_count + 1 end
  end
  return {
    units = units,
    info = {
      units = #units, seed = seed, containers = counts.containers,
      breakbulk = counts.breakbulk, big_prefix = M.BIG_PREFIX,
      big_prefix_units = big_count, example = M.EXAMPLE_REF,
      fixtures = #fixed > 0 and J.map({
        passages = J.map({ reference = M.FIXTURES.passages.ref, units = M.FIXTURES.passages.units }),
        lots = J.map({ reference = M.FIXTURES.lots.ref, units = M.FIXTURES.lots.extra + 1 }),
      }) or nil,
      now = ts(M.NOW, 0),
      search = search_info,
    },
    search = M.search_index(units),
  }
end

---------------------------------------------------------------------------
-- Matching: reference and spi are case-insensitive prefixes (upper-cased by
-- the caller). Returns an array of unit indexes in ascending order.
local function lower_bound(units, prefix)
  local lo, hi = 1, #units + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if units[mid].uref < prefix then lo = mid + 1 else hi = mid end
  end
  return lo
end

function M.find(ds, uref, upsw)
  local units = ds.units
  local out = {}
  local i = (uref ~= "") and lower_bound(units, uref) or 1
  local lr, lp = #uref, #upsw
  while i <= #units do
    local u = units[i]
    if lr > 0 and u.uref:sub(1, lr) ~= uref then break end
    if lp == 0 or u.upsw:sub(1, lp) == upsw then out[#out + 1] = i end
    i = i + 1
  end
  return out
end

-- N generated events in time order for the "large" fault.
function M.many_events(unit_tree, n)
  local evs = unit_tree.events
  local base = M.NOW - 400 * DAY
  local place = "FRLEH"
  if type(evs) == "table" and evs[1] and type(evs[1].eventPlace) == "string" then
    place = evs[1].eventPlace
  end
  local types = { "MAN", "ANN", "DIS", "POS", "INS", "CUS", "GOT" }
  local ways = { "Undefined", "Undefined", "In", "Undefined", "Undefined", "Undefined", "Out" }
  local out = {}
  for k = 1, n do
    local j = (k - 1) % #types + 1
    out[k] = obj("EventInformation",
      "eventType", types[j],
      "eventDate", ts(base + k * 600, 60),
      "eventPlace", place,
      "eventLocation", "POS" .. (k % 97),
      "eventWay", ways[j],
      "eventTransportMode", j == 3 and 1 or (j == 7 and 3 or 0))
  end
  return out
end

return M
