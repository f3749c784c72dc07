-- Tracks one container and prints its timeline.
--   lua5.4 examples/track.lua [REFERENCE]
-- Credentials and URLs come from the SOGET_* environment variables (see
-- README.md); `eval "$(sandbox/run start)"` sets them for the sandbox.
local soget = require "soget"

local reference = arg[1] or "CGMU2436601"

-- A server's text, shown with whatever could act on the terminal (escape
-- sequences, bidi controls, invisible characters) made visible.
local function text(v, missing)
  if v == nil then return missing or "?" end
  return soget.printable(tostring(v))
end

local function show(label, value)
  if value ~= nil and value ~= "" then print(("  %-14s %s"):format(label, text(value))) end
end

local client = soget.client()
-- exact: only the units whose reference is this one (the API's own filter
-- is a prefix); a container seen on several passages has one unit each
local page, err = client:handling_units{ reference = reference, exact = true }
if not page then
  io.stderr:write(tostring(err), "\n")
  os.exit(err.kind == "auth" and 3 or 4)
end
if page.total == 0 then
  print(text(reference) .. ": not found")
  os.exit(1)
end

for hu in page:iter() do
  print(("%s  (S)ONE id %s)"):format(text(hu.reference), text(hu.pswId)))
  show("family", hu.freightFamily)
  show("size type", hu.sizeType)
  show("packaging", hu.packagingCode)
  if hu.huLocation then
    show("now at", text(hu.huLocation.place) .. " / " .. text(hu.huLocation.location))
  end
  local ind = hu.indicators or {}
  local flags = {}
  for _, k in ipairs{ "hazardous", "reefer", "empty", "pollutant", "fumigation", "quarantine" } do
    if ind[k] then flags[#flags + 1] = k end
  end
  show("indicators", #flags > 0 and table.concat(flags, ", ") or "none")
  if ind.reefer and hu.temperatures then
    local t = hu.temperatures
    show("temperature", ("set %s °C, range %s..%s °C"):format(text(t.setPoint), text(t.rangeMin),
      text(t.rangeMax)))
  end
  local tr = hu.transport
  if tr then
    show("transport", ("%s (mode %s, voyage %s)"):format(text(tr.meansName), text(tr.mode),
      text(tr.voyageId)))
    local vd = tr.voyageDates or {}
    show("ETA", vd.eta); show("ATA", vd.ata); show("ETD", vd.etd); show("ATD", vd.atd)
  end
  -- the API does not say in what order it sends events: put them in time
  -- order (dates are compared as instants, their offsets applied)
  print("  events")
  for _, e in ipairs(soget.events_in_order(hu)) do
    print(("    %-25s %-4s %-6s %-8s %-9s mode %s"):format(text(e.eventDate), text(e.eventType, ""),
      text(e.eventPlace, ""), text(e.eventLocation, ""), text(e.eventWay, ""),
      text(e.eventTransportMode)))
  end
  for _, s in ipairs(hu.shipments) do
    show("shipment", ("%s %s -> %s"):format(text(s.documentReference), text(s.originLocation),
      text(s.destinationLocation)))
  end
end
client:close()
