-- Facts about decoded handling units: their events in time order (dates
-- are shown as sent and parsed only to order them), and which of the
-- units a search returned are exactly the one asked for.
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

return M
