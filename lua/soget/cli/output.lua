-- What the program writes: text made printable, messages on stderr,
-- colours, aligned columns, JSON and CSV.
--
-- Text from outside soget (a server above all) is made safe to show on a
-- terminal by the module's soget.printable: C0 controls (ESC, CR, TAB,
-- NUL...), DEL, C1 controls (U+0080-U+009F), bidirectional controls, line
-- and paragraph separators, characters that show nothing of their own
-- (zero-width, format, tags), and bytes that are not UTF-8 are shown as
-- escapes: \x1b, \r, \t, \u202e, \u200b, \xff. Every human-readable output of
-- server data and every message on stderr goes through it; JSON output
-- (escaped by the encoder) does not.
local soget = require "soget"
local sys = require "soget.cli.sys"

-- Standard output, remembering the first write or flush that failed (a
-- full disk): the program then says so and exits 74, never 0 with its
-- results cut (init.lua).
local Out = {}
Out.__index = Out

function Out:write(...)
  if not self.failed then
    local ok, err = io.stdout:write(...)
    if not ok then self.failed = err or "write failed" end
  end
  return self
end

function Out:flush()
  if not self.failed then
    local ok, err = io.stdout:flush()
    if not ok then self.failed = err or "write failed" end
  end
  return self
end

local M = {
  PROGRAM = "soget",
  out = setmetatable({}, Out),   -- results
  err = io.stderr,    -- messages
  verbose = false,    -- note() writes only when set (-v)
  color = false,      -- paint() colours only when set (decide_color)
  color_err = false,  -- paint_err() likewise, for stderr
}

-- s made printable; keep_lines keeps LF and TAB (a traceback's layout).
function M.printable(s, keep_lines)
  s = tostring(s)
  if not s:find("[%c\128-\255]") then return s end
  return soget.printable(s, keep_lines)
end

-- A copy of decoded data with every string made printable, for display.
function M.printable_tree(v)
  if type(v) == "string" then return M.printable(v) end
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = M.printable_tree(x) end
  return t
end

-- A message on stderr, "soget: ..." with every part made printable (it
-- may quote a server).
function M.say(...)
  local parts = { M.PROGRAM, ": " }
  for i = 1, select("#", ...) do parts[#parts + 1] = M.printable((select(i, ...))) end
  parts[#parts + 1] = "\n"
  M.err:write(table.concat(parts))
end

-- A message only with -v.
function M.note(...)
  if M.verbose then M.say(...) end
end

---------------------------------------------------------------------------
-- Colours: only on a terminal, never with NO_COLOR

local SGR = {
  bold = "1", dim = "2", red = "31", green = "32", yellow = "33",
  blue = "34", magenta = "35", cyan = "36", boldred = "1;31",
}

local function painted(on, style, s)
  if not on or s == "" or not style then return s end
  return "\27[" .. SGR[style] .. "m" .. s .. "\27[0m"
end

-- s in style on stdout (M.color), on stderr (M.color_err): each decided
-- for its own stream.
function M.paint(style, s) return painted(M.color, style, s) end
function M.paint_err(style, s) return painted(M.color_err, style, s) end

-- --color WHEN for the stream fd (default 1, stdout): always, never, or
-- auto (the stream a terminal, no NO_COLOR, TERM not dumb).
function M.decide_color(when, fd)
  if when == "always" then return true end
  if when == "never" then return false end
  if sys.getenv("NO_COLOR") then return false end
  if os.getenv("TERM") == "dumb" then return false end
  return sys.isatty(fd or 1)
end

---------------------------------------------------------------------------
-- Text layout

function M.strwidth(s)
  if utf8 and utf8.len then return utf8.len(s) or #s end
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

function M.pad(s, w)
  local n = M.strwidth(s)
  if n >= w then return s end
  return s .. string.rep(" ", w - n)
end

-- A number as people write it: whole numbers without ".0".
function M.fmtnum(x)
  if type(x) ~= "number" then return tostring(x) end
  if x == math.floor(x) and x > -1e15 and x < 1e15 then
    return string.format("%d", x)
  end
  return (string.format("%.10g", x))
end

function M.dash(v)
  if v == nil or v == "" then return "-" end
  return tostring(v)
end

-- Prints rows of cells in aligned columns. styles[i] colours column i
-- (a style name or a function of the cell's text); styles.header the
-- first row.
function M.print_table(rows, indent, styles)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      local w = M.strwidth(cell)
      if not widths[i] or w > widths[i] then widths[i] = w end
    end
  end
  for r, row in ipairs(rows) do
    local parts = {}
    for i, cell in ipairs(row) do
      local text = i < #row and M.pad(cell, widths[i]) or cell
      local style = styles and styles[i]
      if r == 1 and styles and styles.header then style = styles.header
      elseif type(style) == "function" then style = style(cell) end
      if style then
        local body = sys.rtrim(text)
        text = M.paint(style, body) .. text:sub(#body + 1)
      end
      parts[#parts + 1] = text
    end
    M.out:write(indent or "", sys.rtrim(table.concat(parts, "  ")), "\n")
  end
end

---------------------------------------------------------------------------
-- JSON: the module's soget.encode writes it, the same bytes on every run:
-- a page's and a unit's fields in the document's order (others sorted),
-- the schema's array fields always [], text escaped so that it cannot act
-- on a terminal. Each command's shape is in README.md.

-- soget.encode of what a server sent: what it cannot write (an array
-- field outside the schema too sparse to write, say) ends the program as
-- an unusable answer (exit 6), not as a bug.
local function encode(v, schema)
  local ok, text = pcall(soget.encode, v, schema)
  if ok then return text end
  local exit = require "soget.cli.exit"   -- (which requires this module)
  exit.fail(exit.API, "the server's answer cannot be written as JSON: "
    .. tostring(text):gsub("^soget%.encode: ", ""))
end

-- v as one line of JSON: schema "page", "unit", "event" or "value" (keys
-- sorted); by default a page when v has items, else a unit.
function M.json(v, schema)
  return encode(v, schema)
end

-- One JSON object whose members come in the order given: fields is a list
-- of {key, value[, schema]}, a nil value left out; schema "units" writes a
-- list of units.
function M.json_object(fields)
  local parts = {}
  for _, f in ipairs(fields) do
    local k, v, schema = f[1], f[2], f[3]
    if v ~= nil then
      local text
      if schema == "units" then
        local list = {}
        for i, hu in ipairs(v) do list[i] = encode(hu, "unit") end
        text = "[" .. table.concat(list, ",") .. "]"
      else
        text = encode(v, schema or "value")
      end
      parts[#parts + 1] = encode(k) .. ":" .. text
    end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

---------------------------------------------------------------------------
-- CSV

-- A CSV cell: made printable, and a cell a spreadsheet would take for a
-- formula (starting with = + - @, a tab or a carriage return, also after
-- spaces) gets a leading single quote and is quoted (OWASP's advice on CSV
-- injection).
function M.csv_field(s)
  s = s == nil and "" or M.printable(s)
  local formula = s:find("^%s*[=+%-@]") or s:find("^[\t\r]")
  if formula then s = "'" .. s end
  if formula or s:find('[,"\r\n]') or s:match("^%s") or s:match("%s$") then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

function M.csv_row(cells, n)
  local t = {}
  for i = 1, n or #cells do t[i] = M.csv_field(cells[i]) end
  return table.concat(t, ",")
end

return M
