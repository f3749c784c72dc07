-- Writes the manual page soget(1), in roff, to stdout, from the soget
-- command's own parser (soget.cli.args): its description and usage, the
-- options, every command with its usage, description, arguments, options
-- and epilog (examples, exit codes), and the program's epilog. The page
-- says what --help says, and changes with it. make install runs it:
--
--   SOGET_MODULE_DIR=build/lua5.4 lua5.4 tools/man.lua > soget.1
--
-- SOURCE_DATE_EPOCH, when set, dates the page (for reproducible builds);
-- otherwise it carries no date. Uses lua-argparse's element methods
-- (_get_label_lines, _get_description) so that labels read as in --help.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path

local soget, why = require("soget.cli").load_module(here .. "/../bin")
if not soget then
  io.stderr:write("tools/man.lua: ", why, "\n")
  os.exit(1)
end
local parser = require("soget.cli.args").parser()

local out = {}
local function emit(s) out[#out + 1] = s end

-- A UTF-8 character as roff's \[uXXXX], so that the page is ASCII and
-- needs no preconv; a byte that starts no character as \[uFFFD].
local function uchar(c)
  local b1, n = c:byte(1), #c
  local cp
  if n == 2 and b1 >= 0xC2 and b1 <= 0xDF then
    cp = (b1 - 0xC0) * 64 + (c:byte(2) - 0x80)
  elseif n == 3 and b1 >= 0xE0 and b1 <= 0xEF then
    cp = ((b1 - 0xE0) * 64 + (c:byte(2) - 0x80)) * 64 + (c:byte(3) - 0x80)
  elseif n == 4 and b1 >= 0xF0 and b1 <= 0xF4 then
    cp = (((b1 - 0xF0) * 64 + (c:byte(2) - 0x80)) * 64 + (c:byte(3) - 0x80)) * 64 + (c:byte(4) - 0x80)
  end
  local least = ({ 0x80, 0x800, 0x10000 })[n - 1]   -- no overlong forms
  if not cp or cp < least or (cp >= 0xD800 and cp <= 0xDFFF) or cp > 0x10FFFF then
    return ("\\[uFFFD]"):rep(n)
  end
  return ("\\[u%04X]"):format(cp)
end

-- Text for roff: backslashes and hyphens escaped, control characters
-- dropped, other characters than ASCII as \[uXXXX]; a line that would
-- start with a control character ('.' or "'") protected.
local function esc(s)
  s = s:gsub("\\", "\\e"):gsub("%-", "\\-"):gsub("[%z\1-\31\127]", "")
  s = s:gsub("[\192-\255][\128-\191]*", uchar):gsub("[\128-\191]", uchar)
  return s
end
local function text_line(s)
  s = esc(s)
  if s:find("^[.']") then s = "\\&" .. s end
  return s
end

-- A label as --help prints it ("-p <NAME>, --profile <NAME>", "track",
-- "reference"): option and command names in bold, argument names (and an
-- argument's choices) in italics.
local function label(element, kind)
  local parts = {}
  for _, l in ipairs(element:_get_label_lines()) do
    parts[#parts + 1] = (l:gsub("^%s+", ""):gsub("%s+$", ""))
  end
  local marked = {}
  for word, space in table.concat(parts, " "):gmatch("(%S+)(%s*)") do
    local core, comma = word:match("^(.-)(,?)$")
    if core:find("^<.*>$") then
      core = "\\fI" .. esc(core:sub(2, -2)) .. "\\fR"
    elseif kind == "Arguments" or (kind == "Options" and not core:find("^%-")) then
      core = "\\fI" .. esc(core) .. "\\fR"
    else
      core = "\\fB" .. esc(core) .. "\\fR"
    end
    marked[#marked + 1] = core .. comma .. space
  end
  return table.concat(marked)
end

local function is_blank(l) return l:find("^%s*$") ~= nil end
local function indent_of(l) return #l:match("^%s*") end

-- A heading line of an epilog: "Examples:", "Exit codes:" (short, not
-- indented, ends with a colon, more lines follow).
local function is_heading(lines, i)
  local l = lines[i]
  return l and #l <= 40 and indent_of(l) == 0 and l:find(":$") ~= nil
    and lines[i + 1] ~= nil and not is_blank(lines[i + 1])
end

local function split_blocks(text)
  local blocks, cur = {}, nil
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do
    l = l:gsub("%s+$", "")
    if is_blank(l) then
      cur = nil
    else
      if not cur then cur = {}; blocks[#blocks + 1] = cur end
      cur[#cur + 1] = l
    end
  end
  return blocks
end

-- The lines of a block from i: runs of lines at the left margin become
-- filled paragraphs; indented runs are kept as they are (examples, tables).
local function emit_lines(lines, i)
  while i <= #lines do
    if indent_of(lines[i]) == 0 then
      emit(".PP")
      while i <= #lines and indent_of(lines[i]) == 0 do
        emit(text_line(lines[i]))
        i = i + 1
      end
    else
      local from, min = i, math.huge
      while i <= #lines and indent_of(lines[i]) > 0 do
        min = math.min(min, indent_of(lines[i]))
        i = i + 1
      end
      emit(".PP")
      emit(".RS 4")
      emit(".nf")
      for k = from, i - 1 do emit(text_line(lines[k]:sub(min + 1))) end
      emit(".fi")
      emit(".RE")
    end
  end
end

-- Free text (a description, an epilog). sections: headings start .SH
-- sections (the program's epilog), text before or between them goes under
-- NOTES; otherwise headings are bold lines.
local function emit_text(text, sections)
  local in_heading_section = nil
  for _, block in ipairs(split_blocks(text)) do
    local i = 1
    if is_heading(block, 1) then
      if sections then
        emit(".SH " .. esc(block[1]:sub(1, -2):upper()))
        in_heading_section = true
      else
        emit(".PP")
        emit("\\fB" .. esc(block[1]) .. "\\fR")
      end
      i = 2
    elseif sections and in_heading_section ~= false then
      emit(".SH NOTES")
      in_heading_section = false
    end
    emit_lines(block, i)
  end
end

-- The elements of a parser in --help's order: groups of arguments, other
-- arguments, groups of options, other options, groups of commands, other
-- commands. Returns a list of {title, kind, elements}.
local function element_groups(p)
  local kind_of = {}
  for _, a in ipairs(p._arguments) do kind_of[a] = "Arguments" end
  for _, o in ipairs(p._options) do kind_of[o] = "Options" end
  for _, c in ipairs(p._commands) do kind_of[c] = "Commands" end
  local result, added = {}, {}
  for _, kind in ipairs { "Arguments", "Options", "Commands" } do
    local any_group = false
    for _, g in ipairs(p._groups or {}) do
      if kind_of[g[1]] == kind then
        any_group = true
        result[#result + 1] = { title = g.name, kind = kind, elements = g }
      end
    end
    local rest = {}
    for _, e in ipairs(kind == "Arguments" and p._arguments or kind == "Options" and p._options
                       or p._commands) do
      rest[#rest + 1] = e
    end
    result[#result + 1] = { title = any_group and ("Other " .. kind:lower()) or kind, kind = kind,
      elements = rest }
  end
  for _, r in ipairs(result) do
    local shown = {}
    for _, e in ipairs(r.elements) do
      if not e._hidden and not added[e] then
        added[e] = true
        shown[#shown + 1] = e
      end
    end
    r.elements = shown
  end
  return result
end

local function emit_elements(elements, kind)
  for _, e in ipairs(elements) do
    emit(".TP")
    emit(label(e, kind))
    local d = e:_get_description()
    if d ~= "" then
      for _, l in ipairs(split_blocks(d)) do
        for _, x in ipairs(l) do emit(text_line((x:gsub("^%s+", "")))) end
      end
    end
  end
end

local function usage_lines(p)
  local u = p:get_usage():gsub("^Usage: ", "")
  local t = {}
  for l in (u .. "\n"):gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

local function emit_usage(p)
  emit(".nf")
  for _, l in ipairs(usage_lines(p)) do emit(text_line(l)) end
  emit(".fi")
end

-- ---------------------------------------------------------------------------
local name = parser._name
local title = ("%s 1 %q %q \"User Commands\""):format(name:upper(),
  os.getenv("SOURCE_DATE_EPOCH") and os.date("!%Y-%m-%d", tonumber(os.getenv("SOURCE_DATE_EPOCH"))) or "",
  soget._VERSION)
emit('.\\" ' .. name .. "(1), generated by tools/man.lua from the command's --help; edit that, not this.")
emit(".TH " .. title)
emit(".nh")   -- no hyphenation: option names and variables stay whole
emit(".ad l")
emit(".SH NAME")
emit(esc(name) .. " \\- " .. esc(((parser._description or ""):match("^[^\n]*"))))
emit(".SH SYNOPSIS")
emit_usage(parser)
if parser._description then
  emit(".SH DESCRIPTION")
  emit_text(parser._description)
end
-- Each command as its own --help shows it, after the program's options.
local function emit_command(c)
  emit(".SS \"" .. esc(c:_get_fullname()) .. "\"")
  emit_usage(c)
  if c._description then emit_text(c._description) end
  local subcommands = {}
  for _, g in ipairs(element_groups(c)) do
    if #g.elements > 0 then
      emit(".PP")
      emit("\\fB" .. esc(g.title) .. ":\\fR")
      emit(".RS 4")
      emit_elements(g.elements, g.kind)
      emit(".RE")
      if g.kind == "Commands" then
        for _, sc in ipairs(g.elements) do subcommands[#subcommands + 1] = sc end
      end
    end
  end
  if c._epilog then emit_text(c._epilog) end
  for _, sc in ipairs(subcommands) do emit_command(sc) end
end

local commands = {}
for _, g in ipairs(element_groups(parser)) do
  if #g.elements > 0 then
    if g.kind == "Commands" then
      for _, c in ipairs(g.elements) do commands[#commands + 1] = c end
    else
      emit(".SH " .. esc(g.title:upper()))
      emit_elements(g.elements, g.kind)
    end
  end
end
if #commands > 0 then
  emit(".SH COMMANDS")
  for _, c in ipairs(commands) do emit_command(c) end
end
if parser._epilog then emit_text(parser._epilog, true) end

io.write(table.concat(out, "\n"), "\n")
