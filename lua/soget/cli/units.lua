-- Facts about decoded handling units: their last event (the module's
-- soget.events_in_order puts them in time order: dates are shown as sent
-- and parsed only to order them) and the counts of a search's summary
-- (containers, other freight, where they are now).
local soget = require "soget"

local M = {}

-- The page's total as the server sent it; nil when it sent none (the
-- module then fills in first + returned for scripts, which counts no
-- matches).
function M.total(page)
  if type(page.total) ~= "number" or not soget.total_given(page) then return nil end
  return page.total
end

-- The unit's events oldest first (soget.events_in_order).
function M.events(hu)
  return soget.events_in_order(hu)
end

-- The instant an event's date stands for, as events_in_order reads it:
-- seconds and nanoseconds, or nil for what is not such a date.
function M.instant(date)
  return soget.instant(date)
end

-- The unit's last event: the latest of those whose date is one
-- (events_in_order puts the others after them); when none is, the last of
-- the others in the API's order.
function M.last_event(hu)
  local events = soget.events_in_order(hu)
  for i = #events, 1, -1 do
    if M.instant(events[i].eventDate) then return events[i] end
  end
  return events[#events]
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
  return setmetatable({ units = 0, containers = 0, other = 0, at = {}, names = {} }, Tally)
end

-- A place is at most a few characters in the API: a server's longer one is
-- counted by its digest and named by its start, so that what a search's
-- summary keeps per place stays small whatever the server sends.
M.PLACE_KEPT = 256

function Tally:add(hu)
  self.units = self.units + 1
  if M.is_container(hu) then self.containers = self.containers + 1
  else self.other = self.other + 1 end
  local where = M.now_at(hu) or false     -- false: unknown
  local key = where
  if where and #where > M.PLACE_KEPT then
    key = "digest " .. soget._privfile.digest(where)
    if not self.names[key] then
      local cut = M.PLACE_KEPT
      -- (at a character's first byte: the rest of UTF-8 stays whole)
      while cut > 1 and where:byte(cut + 1) and where:byte(cut + 1) >= 0x80
        and where:byte(cut + 1) < 0xC0 do cut = cut - 1 end
      self.names[key] = where:sub(1, cut) .. "..."
    end
  end
  self.at[key] = (self.at[key] or 0) + 1
end

-- {where, count} pairs, most units first, then by name; unknown (where
-- false) last among equals.
function Tally:places()
  local list = {}
  for key, n in pairs(self.at) do list[#list + 1] = { self.names[key] or key, n } end
  table.sort(list, function(a, b)
    if a[2] ~= b[2] then return a[2] > b[2] end
    if a[1] == false or b[1] == false then return b[1] == false and a[1] ~= false end
    return a[1] < b[1]
  end)
  return list
end

return M
