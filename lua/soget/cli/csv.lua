-- CSV as RFC 4180 writes it, read into rows of fields (Debian packages no
-- Lua CSV library). A pure function of its input, with no I/O and no
-- state: any string gives rows or nil and a message, never an error, so a
-- fuzz driver can call it as it is:
--
--   csv.parse(text[, opts]) -> rows | nil, message[, "max_rows"]
--
-- rows[i] is a list of the fields of a record (strings), with rows[i].line
-- the line it starts on. Fields are separated by opts.separator (one
-- byte, default ","); records end with LF or CRLF (a CR alone is part of
-- a field); the last one needs no line end. A field in double quotes may
-- hold separators, line ends and doubled quotes ("" for "). A UTF-8 byte
-- order mark at the start is skipped. Empty lines are skipped, and so are
-- lines starting with opts.comment (one byte, e.g. "#"; none by default)
-- outside quotes. Refused, with the line and field: a quote inside an
-- unquoted field, anything but a separator or a line end after a closing
-- quote, a quoted field still open at the end; more than opts.max_rows
-- records (default: no limit; refused as soon as the next one starts, with
-- the third value "max_rows", so that a caller can tell a text too long
-- for it from one that is not CSV), a field longer than opts.max_field
-- bytes (default 65536).
local M = {}

local find, sub, byte = string.find, string.sub, string.byte
local trim = require("soget.cli.sys").trim   -- (one pass: no pattern quadratic in a run of spaces)

local QUOTE, CR, LF = 34, 13, 10

-- Checks opts (a programmer's mistake raises): separator, comment,
-- max_rows, max_field.
local function options(opts)
  if opts ~= nil and type(opts) ~= "table" then error("csv.parse: opts must be a table", 3) end
  opts = opts or {}
  local sep = opts.separator or ","
  if type(sep) ~= "string" or #sep ~= 1 or sep == '"' or sep == "\r" or sep == "\n" then
    error("csv.parse: separator must be one byte other than a quote or a line end", 3)
  end
  local comment = opts.comment
  if comment ~= nil and (type(comment) ~= "string" or #comment ~= 1 or comment == '"'
      or comment == sep or comment == "\r" or comment == "\n") then
    error("csv.parse: comment must be one byte other than a quote, a line end or the separator", 3)
  end
  local max_rows, max_field = opts.max_rows, opts.max_field or 65536
  for name, v in pairs({ max_rows = max_rows or 1, max_field = max_field }) do
    if type(v) ~= "number" or v < 1 or v ~= math.floor(v) then
      error("csv.parse: " .. name .. " must be a whole number of at least 1", 3)
    end
  end
  return byte(sep), comment and byte(comment), max_rows, max_field
end

function M.parse(text, opts)
  if type(text) ~= "string" then error("csv.parse: text must be a string", 2) end
  local sep, comment, max_rows, max_field = options(opts)
  local n = #text
  local i = 1
  local line = 1
  local rows = {}
  if sub(text, 1, 3) == "\239\187\191" then i = 4 end   -- a byte order mark
  while i <= n do
    local c = byte(text, i)
    if c == LF or (c == CR and byte(text, i + 1) == LF) then       -- an empty line
      i = i + (c == CR and 2 or 1)
      line = line + 1
    elseif comment and c == comment then                            -- a comment
      local e = find(text, "\n", i, true)
      i = e and e + 1 or n + 1
      line = line + 1
    else
      if max_rows and #rows >= max_rows then
        return nil, ("line %d: more than %d records"):format(line, max_rows), "max_rows"
      end
      local row, start_line = {}, line
      while true do                                                 -- one field
        local field
        local fieldno = #row + 1
        if byte(text, i) == QUOTE then
          local parts, j = {}, i + 1
          while true do
            local q = find(text, '"', j, true)
            if not q then
              return nil, ("line %d, field %d: a quoted field is not closed"):format(line, fieldno)
            end
            local piece = sub(text, j, q - 1)
            for _ in piece:gmatch("\n") do line = line + 1 end
            parts[#parts + 1] = piece
            if byte(text, q + 1) == QUOTE then                      -- "" is a quote
              parts[#parts + 1] = '"'
              j = q + 2
            else
              i = q + 1
              break
            end
          end
          field = table.concat(parts)
          local d = byte(text, i)
          if d ~= nil and d ~= sep and d ~= LF and not (d == CR and byte(text, i + 1) == LF) then
            return nil, ("line %d, field %d: text after a closing quote"):format(line, fieldno)
          end
        else
          local j = i
          while j <= n do
            local d = byte(text, j)
            if d == sep or d == LF or (d == CR and byte(text, j + 1) == LF) then break end
            if d == QUOTE then
              return nil, ("line %d, field %d: a quote inside a field that does not start "
                .. "with one"):format(line, fieldno)
            end
            j = j + 1
          end
          field = sub(text, i, j - 1)
          i = j
        end
        if #field > max_field then
          return nil, ("line %d, field %d: longer than %d bytes"):format(line, fieldno, max_field)
        end
        row[fieldno] = field
        local d = byte(text, i)
        if d == sep then
          i = i + 1                                                 -- "a," ends with ""
        else                                                        -- a line end, or the end
          if d == CR then i = i + 2 elseif d == LF then i = i + 1 end
          line = line + 1
          break
        end
      end
      row.line = start_line
      rows[#rows + 1] = row
    end
  end
  return rows
end

-- The index of the column named name in a header row (fields trimmed),
-- or nil.
function M.column_of(header, name)
  for k, v in ipairs(header) do
    if trim(v) == name then return k end
  end
  return nil
end

return M
