-- Fuzz driver: the soget command's CSV reader (lua/soget/cli/csv.lua,
-- csv.parse(text, opts) -> rows | nil, message), a pure function of any
-- text. The first input byte chooses the options (separator, comment,
-- max_rows, max_field); the rest is the text. It must never raise; rows
-- are lists of strings within the limits, their lines increasing; a
-- message names the line. And what it reads, written back as RFC 4180
-- (every field quoted, LF or CRLF), reads back as the same rows.
--
-- The reader is Lua, which libFuzzer does not see: the driver asks the
-- harness to count csv.lua's lines as coverage (its second value).
local here = (debug.getinfo(1, "S").source:match("^@(.*)spec/fuzz/[^/]*$") or "")
package.path = here .. "lua/?.lua;" .. package.path
local csv = require "soget.cli.csv"

local floor, type, error, tostring, select = math.floor, type, error, tostring, select

local SEPARATORS = { ",", ";", "\t", "|" }
local COMMENTS = { false, "#", "%", "!" }
local MAX_ROWS = { false, 1, 3, 100 }
local MAX_FIELD = { false, 1, 8, 1024 }

local function write(rows, sep, eol)
  local out = {}
  for i, row in ipairs(rows) do
    local f = {}
    for k, v in ipairs(row) do f[k] = '"' .. v:gsub('"', '""') .. '"' end
    out[i] = table.concat(f, sep)
  end
  -- the last line end is optional: written after an even number of rows
  return table.concat(out, eol) .. (#out % 2 == 0 and #out > 0 and eol or "")
end

local function drive(data)
  local sel = data:byte(1) or 0
  local text = data:sub(2)
  local opts = {
    separator = SEPARATORS[sel % 4 + 1],
    comment = COMMENTS[floor(sel / 4) % 4 + 1] or nil,
    max_rows = MAX_ROWS[floor(sel / 16) % 4 + 1] or nil,
    max_field = MAX_FIELD[floor(sel / 64) % 4 + 1] or nil,
  }
  local ok, rows, why = pcall(csv.parse, text, opts)
  if not ok then error("csv.parse raised on a text: " .. tostring(rows), 0) end
  if rows == nil then
    if type(why) ~= "string" or not why:find("^line %d+") then error("not a message: " .. tostring(why), 0) end
    return
  end
  local nl = select(2, text:gsub("\n", "")) + 1
  local last = 0
  if opts.max_rows and #rows > opts.max_rows then error("more rows than max_rows", 0) end
  for i, row in ipairs(rows) do
    if type(row.line) ~= "number" or row.line <= last or row.line > nl then
      error(("row %d: line %s after %d (%d lines)"):format(i, tostring(row.line), last, nl), 0)
    end
    last = row.line
    if #row < 1 then error("an empty row", 0) end
    for _, v in ipairs(row) do
      if type(v) ~= "string" then error("a field that is not a string", 0) end
      if #v > (opts.max_field or 65536) then error("a field over max_field", 0) end
    end
  end
  -- Written back and read again: the same fields.
  local eol = floor(sel / 2) % 2 == 0 and "\n" or "\r\n"
  local again, err = csv.parse(write(rows, opts.separator, eol), opts)
  if not again then error("its own rows written back are refused: " .. tostring(err), 0) end
  if #again ~= #rows then error(("%d rows read back as %d"):format(#rows, #again), 0) end
  for i = 1, #rows do
    local a, b = rows[i], again[i]
    if #a ~= #b then error(("row %d: %d fields read back as %d"):format(i, #a, #b), 0) end
    for k = 1, #a do
      if a[k] ~= b[k] then error(("row %d, field %d: %q read back as %q"):format(i, k, a[k], b[k]), 0) end
    end
  end
end

return drive, { "lua/soget/cli/csv.lua" }
