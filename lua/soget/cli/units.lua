-- Facts about decoded handling units: their events in time order (dates
-- are shown as sent and parsed only to order them), which of the units a
-- search returned are exactly the one asked for, and the counts of a
-- search's summary (containers, other freight, where they are now).
local soget = require "soget"

local M = {}

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- ISO 8601 date-time -> seconds since the epoch (UTC), or nil.
function M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, sec, frac, zone = 0, 0, 0, "", ""
  if rest ~= "" then
    local hh, mm, tail = rest:match("^[Tt ](%d%d):(%d%d)(.*)$")
    if not hh then return nil end
    h, mi = tonumber(hh), tonumber(mm)
    local ss, tail2 = tail:match("^:(%d%d)(.*)$")
    if ss then sec, tail = tonumber(ss), tail2 end
    local f, tail3 = tail:match("^([.,]%d+)(.*)$")
    if f then frac, tail = f, tail3 end
    zone = tail
  end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + h * 3600 + mi * 60 + sec
  if frac ~= "" then t = t + (tonumber("0." .. frac:sub(2)) or 0) end
  if zone == "" or zone == "Z" or zone == "z" then return t end
  local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then
    sign, zh = zone:match("^([+-])(%d%d)$")
    zm = "00"
  end
  if not sign then return nil end
  local offset = tonumber(zh) * 3600 + tonumber(zm) * 60
  if sign == "+" then return t - offset end
  return t + offset
end

-- A copy of events sorted by time (stable; unreadable dates last).
function M.sorted_events(events)
  local list = {}
  for i, e in ipairs(events or {}) do
    list[#list + 1] = { e = e, t = M.parse_time(e.eventDate), i = i }
  end
  table.sort(list, function(a, b)
    if a.t and b.t then
      if a.t ~= b.t then return a.t < b.t end
      return a.i < b.i
    end
    if a.t then return true end
    if b.t then return false end
    return a.i < b.i
  end)
  for i, x in ipairs(list) do list[i] = x.e end
  return list
end

function M.last_event(hu)
  local events = M.sorted_events(hu.events)
  return events[#events]
end

-- Keeps the units whose reference (or S)ONE id) is exactly the one asked,
-- when there are any: the API matches prefixes.
function M.prefer_exact(items, q)
  local exact = {}
  for _, hu in ipairs(items) do
    if (q.reference and hu.reference and hu.reference:upper() == q.reference:upper())
       or (q.spi and hu.pswId and hu.pswId:upper() == q.spi:upper()) then
      exact[#exact + 1] = hu
    end
  end
  if #exact > 0 then return exact end
  return items
end

-- Whether a unit is a container: its freight family says so when it has
-- one (the schema's FreightFamily: Container, BreakBulk, ...); without
-- one, when its reference is a valid ISO 6346 container number.
function M.is_container(hu)
  local family = hu.freightFamily
  if type(family) == "string" and family ~= "" then return family == "Container" end
  return type(hu.reference) == "string" and soget.check_container_number(hu.reference) == true
end

-- Where a unit is now, as find's NOW AT column shows it: "place /
-- location", one of them, or nil when it has neither.
function M.now_at(hu)
  local loc = type(hu.huLocation) == "table" and hu.huLocation or {}
  local place = loc.place ~= "" and loc.place or nil
  local location = loc.location ~= "" and loc.location or nil
  if place and location then return place .. " / " .. location end
  return place or location
end

-- The counts of a search's summary: units, containers, other freight,
-- and units by where they are now (add each unit listed).
local Tally = {}
Tally.__index = Tally

function M.tally()
  return setmetatable({ units = 0, containers = 0, other = 0, at = {} }, Tally)
end

function Tally:add(hu)
  self.units = self.units + 1
  if M.is_container(hu) then self.containers = self.containers + 1
  else self.other = self.other + 1 end
  local where = M.now_at(hu) or false     -- false: unknown
  self.at[where] = (self.at[where] or 0) + 1
end

-- {where, count} pairs, most units first, then by name; unknown (where
-- false) last among equals.
function Tally:places()
  local list = {}
  for where, n in pairs(self.at) do list[#list + 1] = { where, n } end
  table.sort(list, function(a, b)
    if a[2] ~= b[2] then return a[2] > b[2] end
    if a[1] == false or b[1] == false then return b[1] == false and a[1] ~= false end
    return a[1] < b[1]
  end)
  return list
end

return M
