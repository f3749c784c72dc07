-- Sample script for soget-embed: prints one line about a container (its
-- most recent passage: the exact lookup's first unit, in descending order).
--
--   soget-embed track.lua [REFERENCE]
--
-- The client is configured from the environment (SOGET_CLIENT_ID,
-- SOGET_CLIENT_SECRET, SOGET_API_KEY, SOGET_BASE_URL, ...). Returns 1 (the
-- host's exit status) when the lookup fails or finds nothing.
local soget = require "soget"

local reference = arg[1] or "CGMU2436601"
local page, err = soget.handling_units { reference = reference, exact = true, desc = true }
if not page then
  io.stderr:write("track: ", tostring(err), "\n")
  return 1
end
local unit = page.items[1]
if not unit then
  io.stderr:write("track: no handling unit for ", reference, "\n")
  return 1
end

-- A server's text (any field may be missing or null), with whatever could
-- act on the terminal made visible.
local function text(v) return v == nil and "-" or soget.printable(tostring(v)) end

local events = soget.events_in_order(unit)   -- oldest first, whatever the API's order
local last = events[#events]                 -- (events without a date come last)
local where = unit.huLocation and unit.huLocation.place
print(string.format("%s %s %s: %s%s (%d events)",
  text(unit.reference), text(unit.pswId), text(unit.sizeType),
  last and (text(last.eventType) .. " " .. text(last.eventDate)) or "no events",
  where and (" at " .. text(where)) or "",
  #events))
