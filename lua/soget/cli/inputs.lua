-- What `soget bulk` reads: the values of one column of a CSV file
-- (csv.lua: quoted fields, a header row, --column N or NAME), or of JSON
-- Lines (one JSON value a line: an object, whose member --column names,
-- or a string). Pure functions of the text and the options, so the specs
-- call them as they are.
local csv = require "soget.cli.csv"

local M = {}

local sys = require "soget.cli.sys"
local trim = sys.trim

-- The most columns --column may name by number (a CSV row far wider is
-- no list of references).
M.MAX_COLUMN = 100000
-- The most bytes bulk reads (about 800,000 references, a line each).
M.MAX_BYTES = 16 * 1048576
-- The most references (rows, JSON lines) bulk reads: what it holds is a
-- table or two each, so short lines under the byte cap (16 MiB of "x\n"
-- is 8 million) would take gigabytes before the first lookup; counted as
-- the text is read, which stops at the first one past it.
M.MAX_ENTRIES = 1000000

local function too_many()
  return ("more than %d references: split it"):format(M.MAX_ENTRIES)
end

-- --column's value: a number from 1, or a name (both trimmed first, as
-- a name is: " 2" is column 2).
function M.column(spec)
  if spec == nil then return nil end
  spec = trim(spec)
  local n = sys.number(spec)
  if n then
    if not (n >= 1 and n <= M.MAX_COLUMN) or n ~= math.floor(n) then
      return nil, ("--column: a number must be a whole number from 1 to %d"):format(M.MAX_COLUMN)
    end
    return math.floor(n)
  end
  if spec == "" then return nil, "--column: empty" end
  return spec
end

-- The values of a CSV text: {value, line} each, or nil and why (a line
-- and field that are not CSV, a column name missing from the header).
-- column: a number (default 1) or a header name (the first row is then a
-- header); header: the first row is a header. Blank lines and lines
-- starting with # are skipped; a row without the column gives value nil
-- (with why, the caller reports it). More than M.MAX_ENTRIES rows after
-- the header: nil and why.
function M.from_csv(text, column, header)
  local named = type(column) == "string" or header
  -- (a field as long as the input may be: a long note in another column
  -- refuses no file; a reference that long fails alone, as too long)
  local rows, why, limit = csv.parse(text, { comment = "#",
    max_rows = M.MAX_ENTRIES + (named and 1 or 0), max_field = M.MAX_BYTES })
  if not rows then return nil, limit and too_many() or why end
  local first, k = 1, column or 1
  if named then
    if #rows == 0 then return {} end
    first = 2
    if type(column) == "string" then
      k = csv.column_of(rows[1], column)
      if not k then
        return nil, ("line %d: no column named %q in the header"):format(rows[1].line, column)
      end
    end
  end
  local out = {}
  for i = first, #rows do
    local cell = rows[i][k]
    local v = cell and trim(cell)
    -- a line of white space alone is a blank line: skipped as one
    if not (#rows[i] == 1 and trim(rows[i][1]) == "") then
      local entry = { value = v, line = rows[i].line }
      if not cell then entry.why = ("line %d: no column %d"):format(rows[i].line, k)
      elseif v == "" then entry.value, entry.why = nil, ("line %d: empty"):format(rows[i].line) end
      out[#out + 1] = entry
    end
  end
  return out
end

-- The values of a JSON Lines text, through decode (dkjson.decode: value,
-- position, error): a line holding a string is that value; an object,
-- its member `member`. Blank lines are skipped; a line that is not JSON,
-- or holds neither, gives value nil and why. More than M.MAX_ENTRIES
-- lines that are not blank: nil and why.
function M.from_jsonl(text, member, decode)
  local out, line = {}, 0
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line + 1
    l = l:gsub("\r$", "")
    if l:find("%S") then
      if #out >= M.MAX_ENTRIES then return nil, too_many() end
      local ok, v, pos, err = pcall(decode, l, 1, nil)
      local entry = { line = line }
      if not ok or err or (type(pos) == "number" and l:find("%S", pos)) then
        entry.why = ("line %d: not JSON"):format(line)
      elseif type(v) == "string" then
        entry.value = trim(v)
      elseif type(v) == "table" and type(v[member]) == "string" then
        entry.value = trim(v[member])
      elseif type(v) == "table" then
        entry.why = ("line %d: no string member %q"):format(line, member)
      else
        entry.why = ("line %d: neither a string nor an object"):format(line)
      end
      if entry.value == "" then entry.value, entry.why = nil, ("line %d: empty"):format(line) end
      out[#out + 1] = entry
    end
  end
  return out
end

return M
