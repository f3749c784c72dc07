-- Handling units as text: track's full view, find's (and search's) one
-- line per unit, search's summary, watch's one line per event. Every unit given here is made printable
-- first (output.printable_tree).
local output = require "soget.cli.output"
local units = require "soget.cli.units"
local sys = require "soget.cli.sys"

local M = {}

local paint, pad, dash, fmtnum = output.paint, output.pad, output.dash, output.fmtnum

local MODES = {  -- UNECE Recommendation 19
  [0] = "unspecified", [1] = "sea", [2] = "rail", [3] = "road", [4] = "air",
  [5] = "mail", [6] = "multimodal", [7] = "fixed inst.", [8] = "inland water",
  [9] = "n/a",
}

function M.mode_text(m)
  if m == nil then return "-" end
  local name = MODES[m]
  if name then return fmtnum(m) .. " " .. name end
  return fmtnum(m)
end

local function measure(m)
  if type(m) ~= "table" or m.value == nil then return nil end
  if m.unit and m.unit ~= "" then return fmtnum(m.value) .. " " .. m.unit end
  return fmtnum(m.value)
end

-- The parts of list that are given, in order: a part may be nil (a field
-- the unit lacks), so the list is read to its highest index, not to its
-- first hole as ipairs would.
local function joined(list, sep)
  local t, n = {}, 0
  for k in pairs(list) do
    if type(k) == "number" and k > n then n = k end
  end
  for i = 1, n do
    local v = list[i]
    if v and v ~= "" then t[#t + 1] = v end
  end
  return table.concat(t, sep or " · ")
end

local function place_text(place, location)
  if place == "" then place = nil end       -- (an empty field is none: no stray " / ")
  if location == "" then location = nil end
  if place and location then return place .. " / " .. location end
  return place or location
end

function M.way_style(w)
  if w == "In" then return "green" elseif w == "Out" then return "yellow" end
  return nil
end

local LABEL = 14
local function line(label, value, style)
  if value == nil or value == "" then return end
  output.out:write("  ", paint("dim", pad(label, LABEL)), paint(style, value), "\n")
end

local function yesno(b)
  if b == true then return "yes" elseif b == false then return "no" end
  return nil
end

local function temp(x) return x and (fmtnum(x) .. " °C") or nil end

-- track: one unit with its place, indicators, measures, transport, events
-- in time order and shipments.
function M.print_unit(hu)
  local out = output.out
  local ind = hu.indicators or {}
  local title = joined({ hu.reference or hu.pswId or "(no reference)" }, "")
  local sub = joined({ hu.freightFamily, hu.sizeType or hu.packagingCode,
                       hu.pswId and ("S)ONE " .. hu.pswId) })
  out:write(paint("bold", title), sub ~= "" and ("  " .. sub) or "", "\n")

  local loc = hu.huLocation or {}
  line("Now at", place_text(loc.place, loc.location) or "unknown", "bold")
  line("Customs", hu.customsFlag)

  -- indicators
  local haz = yesno(ind.hazardous)
  if ind.hazardous then
    local classes = {}
    for _, h in ipairs(hu.hazardousItems or {}) do
      local c = h.imoClass and ("IMO class " .. h.imoClass) or "IMO class ?"
      if h.limitedQuantity then c = c .. " (limited quantity)" end
      classes[#classes + 1] = c
    end
    if #classes > 0 then haz = "yes, " .. table.concat(classes, ", ") end
  end
  line("Hazardous", haz, ind.hazardous and "boldred" or nil)
  local t = hu.temperatures or {}
  local reefer = yesno(ind.reefer)
  if ind.reefer or t.setPoint or t.rangeMin or t.rangeMax then
    local parts = {}
    if t.setPoint then parts[#parts + 1] = "set point " .. temp(t.setPoint) end
    if t.rangeMin or t.rangeMax then
      parts[#parts + 1] = "range " .. (t.rangeMin and fmtnum(t.rangeMin) or "?")
        .. " to " .. (t.rangeMax and fmtnum(t.rangeMax) or "?") .. " °C"
    end
    reefer = joined({ ind.reefer == false and "no" or "yes", joined(parts, ", ") }, ", ")
  end
  line("Reefer", reefer, ind.reefer and "cyan" or nil)
  if ind.empty ~= nil then line("Empty", ind.empty and "yes" or "no (laden)") end
  local other = {}
  for _, k in ipairs { "pollutant", "fumigation", "quarantine" } do
    if ind[k] then other[#other + 1] = k end
  end
  line("Also", table.concat(other, ", "), "yellow")

  -- measures
  local m = hu.measures or {}
  local w = m.weight or {}
  line("Weight", joined({
    measure(w.grossWeight) and ("gross " .. measure(w.grossWeight)),
    measure(w.tare) and ("tare " .. measure(w.tare)),
    measure(w.netWeight) and ("net " .. measure(w.netWeight)),
    measure(m.remainingWeight) and ("remaining " .. measure(m.remainingWeight)) }))
  line("Volume", measure(m.volume))
  if m.quantity or m.remainingQuantity or m.availableQuantity or m.reportedQuantity then
    line("Packages", joined({
      m.quantity and fmtnum(m.quantity),
      m.remainingQuantity and ("remaining " .. fmtnum(m.remainingQuantity)),
      m.availableQuantity and ("available " .. fmtnum(m.availableQuantity)),
      m.reportedQuantity and ("reported " .. fmtnum(m.reportedQuantity)) }, ", "))
  end
  local a = hu.actors or {}
  line("Actors", joined({ a.freightAgent and ("agent " .. a.freightAgent),
                          a.freightForwarder and ("forwarder " .. a.freightForwarder) }))
  local refs = {}
  for _, r in ipairs(hu.references or {}) do
    refs[#refs + 1] = joined({ r.type, r.value }, " ")
  end
  line("References", table.concat(refs, ", "))
  local er = hu.emptyReturn
  if er and (er.dueDate or er.finishDateEarliest or er.finishDateLatest) then
    line("Empty return", joined({ er.dueDate and ("due " .. er.dueDate),
      (er.finishDateEarliest or er.finishDateLatest) and
        ("finish " .. dash(er.finishDateEarliest) .. " to " .. dash(er.finishDateLatest)) }))
  end

  -- transport
  local tr = hu.transport
  if tr then
    out:write("\n", paint("bold", "Transport"), "\n")
    local ids = {}
    for _, id in ipairs(tr.meansId or {}) do
      local kind = id.type == "IMONumber" and "IMO" or id.type == "CallSign" and "call sign"
        or id.type
      ids[#ids + 1] = joined({ kind, id.name }, " ")
    end
    local extra = joined({ tr.meansType, tr.meansNationality }, ", ")
    line("Means", joined({ tr.meansName, extra ~= "" and ("(" .. extra .. ")") or nil,
                           table.concat(ids, ", ") }, "  "), "bold")
    if tr.mode ~= nil then line("Mode", M.mode_text(tr.mode)) end
    line("Voyage", joined({ tr.voyageId,
      (tr.voyageAgentId or tr.voyageAgentReference) and
        ("agent " .. joined({ tr.voyageAgentId, tr.voyageAgentReference }, " ")) }))
    line("Schedule", joined({ tr.schedulePlace,
      tr.arrivalScheduleReference and ("arrival " .. tr.arrivalScheduleReference),
      tr.departureScheduleReference and ("departure " .. tr.departureScheduleReference) }))
    local vd = tr.voyageDates or {}
    local rows = {}
    for _, pair in ipairs { { "ETA", vd.eta, "ATA", vd.ata }, { "ETD", vd.etd, "ATD", vd.atd } } do
      if pair[2] or pair[4] then
        rows[#rows + 1] = { pad(pair[1], LABEL - 2), dash(pair[2]), pair[3], dash(pair[4]) }
      end
    end
    if #rows > 0 then output.print_table(rows, "  ", { "dim", nil, "dim", nil }) end
  end

  -- events
  local events = units.events(hu)
  out:write("\n", paint("bold", "Events"), " (", tostring(#events),
            #events > 1 and ", oldest first)" or ")", "\n")
  if #events == 0 then
    out:write("  none\n")
  else
    local rows = { { "DATE", "EVENT", "PLACE", "LOCATION", "WAY", "MODE" } }
    for _, e in ipairs(events) do
      rows[#rows + 1] = { dash(e.eventDate), dash(e.eventType), dash(e.eventPlace),
        dash(e.eventLocation), e.eventWay and e.eventWay ~= "Undefined" and e.eventWay or "-",
        M.mode_text(e.eventTransportMode) }
    end
    output.print_table(rows, "  ", { nil, "bold", nil, nil, M.way_style, header = "dim" })
  end

  -- shipments
  local shipments = hu.shipments or {}
  if #shipments > 0 then
    out:write("\n", paint("bold", "Shipments"), " (", tostring(#shipments), ")\n")
    local rows = { { "DOCUMENT", "ID", "TYPE", "DATE", "FROM", "TO", "PROCESSING", "HAULAGE" } }
    for _, s in ipairs(shipments) do
      local haulage = s.merchantHaulage == true and "merchant"
        or s.merchantHaulage == false and "carrier" or "-"
      rows[#rows + 1] = { dash(s.documentReference), dash(s.documentId),
        dash(s.documentType and fmtnum(s.documentType)), dash(s.documentDate),
        dash(s.originLocation), dash(s.destinationLocation), dash(s.processingIndicator),
        haulage }
    end
    output.print_table(rows, "  ", { "bold", header = "dim" })
  end
end

-- find: one line per unit, in columns under find_header().
local FIND_COLS = { 17, 13, 11, 4, 14, 5 }

function M.find_header()
  local head = { "REFERENCE", "S)ONE ID", "FAMILY", "TYPE", "NOW AT", "LAST EVENT" }
  local parts = {}
  for i, h in ipairs(head) do parts[i] = FIND_COLS[i] and pad(h, FIND_COLS[i]) or h end
  return paint("dim", table.concat(parts, "  "))
end

function M.find_line(hu)
  local loc = hu.huLocation or {}
  local last = units.last_event(hu) or {}
  local cells = {
    dash(hu.reference), dash(hu.pswId), dash(hu.freightFamily),
    dash(hu.sizeType or hu.packagingCode),
    dash(place_text(loc.place, loc.location)),
    dash(last.eventType), dash(last.eventDate),
  }
  local parts = {}
  for i, c in ipairs(cells) do
    local text = FIND_COLS[i] and pad(c, FIND_COLS[i]) or c
    if i == 1 then text = paint("bold", c) .. text:sub(#c + 1) end
    parts[#parts + 1] = text
  end
  return sys.rtrim(table.concat(parts, "  "))
end

-- search: the summary line of the units listed (a units.tally), total
-- the number the search announced: "25 units: 24 containers, 1 other
-- freight; now at FRLEH / MTDF 20, FRLEH 4, unknown 1". The places with
-- the most units come first; after SUMMARY_PLACES of them, the rest is
-- counted ("..., 9 more in 4 other places").
M.SUMMARY_PLACES = 5

local function count(n, one, many)
  return fmtnum(n) .. " " .. (n == 1 and one or many)
end

function M.search_summary(tally, total)
  local head = count(tally.units, "unit", "units")
  if total and total > tally.units then
    head = fmtnum(tally.units) .. " of " .. count(total, "unit", "units")
  end
  local places, at = tally:places(), {}
  local more, more_units = 0, 0
  for i, p in ipairs(places) do
    if i <= M.SUMMARY_PLACES then
      at[#at + 1] = (p[1] or "unknown") .. " " .. fmtnum(p[2])
    else
      more, more_units = more + 1, more_units + p[2]
    end
  end
  if more > 0 then
    at[#at + 1] = fmtnum(more_units) .. " more in " .. count(more, "other place", "other places")
  end
  local text = head .. ": " .. count(tally.containers, "container", "containers") .. ", "
    .. fmtnum(tally.other) .. " other freight"
  if #at > 0 then text = text .. "; now at " .. table.concat(at, ", ") end
  return text
end

-- watch: one line per event (e carries its unit's reference).
function M.event_line(e)
  local way = e.eventWay and e.eventWay ~= "Undefined" and e.eventWay or "-"
  return table.concat {
    pad(dash(e.eventDate), 25), "  ", paint("bold", pad(dash(e.eventType), 5)),
    "  ", pad(dash(e.eventPlace), 5), "  ", pad(dash(e.eventLocation), 8), "  ",
    paint(M.way_style(way), pad(way, 3)), "  ", pad(M.mode_text(e.eventTransportMode), 14),
    "  ", dash(e.reference) }
end

return M
