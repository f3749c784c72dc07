-- Schema-valid response bodies from fuzz bytes, for the diff target
-- (spec/fuzz/diff.lua) and its spec (spec/unit/fuzz_inputs_spec.lua).
--
-- The schema is read from the OpenAPI document (sandbox/openapi.json,
-- HandlingUnitItemsResponseModel and every schema below it): a field added
-- to the document is generated without a change here. The input bytes are
-- the generator's choices, read one at a time (0 once they run out, which
-- chooses the smallest thing: an absent field, an empty array), so a
-- mutation of a byte changes one decision of the body, and a body of any
-- size can come out of a few kilobytes.
--
-- What varies: which fields are present, null (where the document allows
-- it) or absent, and in which order; array lengths; every value within its
-- schema (int32 edges, doubles of 1 to 25 digits with exponents from
-- subnormal to 1e300, every code point class within maxLength, enums,
-- RFC 3339 date-times); how each is written (integers as 7, 7.0, 70e-1 or
-- 0.7e1; strings raw, with short escapes, \u escapes of either case or
-- surrogate pairs; white space between tokens). A quarter of the bodies
-- also carry fields the document does not have (the API adding fields),
-- with any JSON value below them, nulls and whole numbers included: the
-- only part that is not schema-valid, and the first byte says whether.
--
-- Portable Lua (5.1 to 5.4, LuaJIT): the spec replays it on every runtime.
local M = {}

local floor, char, concat, format, sbyte = math.floor, string.char, table.concat, string.format, string.byte

local here = (debug.getinfo(1, "S").source:match("^@(.*)spec/fuzz/[^/]*$") or "")

-- ---- the schema -----------------------------------------------------------

local function read_document()
  local f = assert(io.open(here .. "sandbox/openapi.json", "rb"))
  local text = f:read("*a")
  f:close()
  return require("cjson").new().decode(text)
end

-- Compiled nodes: {kind = "object", props = {{name, node, nullable}...},
-- names = set}, {kind = "array", of = node, max = n}, {kind = "string",
-- max = n, enum = {...}, datetime = bool}, {kind = "integer"},
-- {kind = "number"}, {kind = "boolean"}. Properties in name order (the
-- document's order is lost by the JSON reader; the generator chooses one).
local ARRAY_MAX = { items = 10, events = 12 }

local function compile(doc)
  local schemas = doc.components.schemas
  local done = {}
  local node
  local function ref(r) return (r:match("^#/components/schemas/(.+)$")) end
  function node(s, name)
    if s["$ref"] then
      local n = ref(s["$ref"])
      if not done[n] then
        done[n] = {}
        local c = node(schemas[n], name)
        for k, v in pairs(c) do done[n][k] = v end
      end
      return done[n]
    end
    if s.enum then return { kind = "string", enum = s.enum } end
    if s.type == "object" then
      local props, names = {}, {}
      for pname, p in pairs(s.properties or {}) do
        props[#props + 1] = { name = pname, node = node(p, pname), nullable = p.nullable == true }
        names[pname] = true
      end
      table.sort(props, function(a, b) return a.name < b.name end)
      return { kind = "object", props = props, names = names }
    elseif s.type == "array" then
      return { kind = "array", of = node(s.items, name), max = ARRAY_MAX[name] or 3 }
    elseif s.type == "string" then
      return { kind = "string", max = s.maxLength, datetime = s.format == "date-time" }
    elseif s.type == "integer" or s.type == "number" or s.type == "boolean" then
      return { kind = s.type }
    end
    error("pagegen: a schema it does not know: " .. tostring(name))
  end
  return node({ ["$ref"] = "#/components/schemas/HandlingUnitItemsResponseModel" }, "page")
end

local PAGE = compile(read_document())
M.page_schema = PAGE

-- ---- choices --------------------------------------------------------------

local data, pos, len = "", 0, 0
local out, o = {}, 0
local wsmode, escmode, extended = 0, 0, false

local function byte()
  pos = pos + 1
  if pos > len then return 0 end
  return sbyte(data, pos)
end

local function emit(s) o = o + 1; out[o] = s end

local WS = { " ", "\t", "\n", "\r" }
local function ws(level)
  if wsmode == 1 then emit(" ")
  elseif wsmode == 2 then emit("\n" .. ("  "):rep(level))
  elseif wsmode == 3 then
    local b = byte()
    for _ = 1, b % 4 do emit(WS[floor(b / 4) % 4 + 1]) end
  end
end

-- ---- strings --------------------------------------------------------------

-- UTF-8 of a code point.
local function utf8(cp)
  if cp < 0x80 then return char(cp)
  elseif cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64)
  elseif cp < 0x10000 then
    return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64, 0x80 + floor(cp / 64) % 64,
    0x80 + cp % 64)
end

local SHORT = { [0x22] = '\\"', [0x5C] = "\\\\", [0x2F] = "\\/", [0x08] = "\\b", [0x0C] = "\\f",
  [0x0A] = "\\n", [0x0D] = "\\r", [0x09] = "\\t" }

local function hex4(v, lower)
  local s = format("%04X", v)
  return lower and s:lower() or s
end

-- One code point as JSON text: raw where JSON allows it, or escaped.
-- how: 0 raw (escaped only where it must be), 1 short escapes where there
-- are, else \u; 2 \u always; 3 the same as 2 in lower case.
local function encode_cp(cp, how)
  local must = cp < 0x20 or cp == 0x22 or cp == 0x5C
  if how == 0 and not must then return utf8(cp) end
  if how <= 1 and SHORT[cp] then return SHORT[cp] end
  local lower = how == 3
  if cp >= 0x10000 then
    local v = cp - 0x10000
    return "\\u" .. hex4(0xD800 + floor(v / 1024), lower) .. "\\u" .. hex4(0xDC00 + v % 1024, lower)
  end
  return "\\u" .. hex4(cp, lower)
end

-- ASCII's encodings made once: ENC[how][cp].
local ENC = {}
for how = 0, 3 do
  ENC[how] = {}
  for cp = 0, 127 do ENC[how][cp] = encode_cp(cp, how) end
end

local ODD = { 0x7F, 0x80, 0x9F, 0xA0, 0xAD, 0x2028, 0x2029, 0x202E, 0xFEFF, 0xFFFD, 0xFFFF,
  0xD7FF, 0xE000, 0x10000, 0x1F600, 0x10FFFF }

-- A code point from the choices: mostly printable ASCII, then controls,
-- two-, three- and four-byte UTF-8 (never a surrogate), odd ones.
local function code_point()
  local b = byte()
  if b < 150 then return 0x20 + b % 95
  elseif b < 175 then return b % 32
  elseif b < 200 then return 0x80 + (byte() * 8 + b) % 0x780
  elseif b < 225 then
    local cp = 0x800 + (byte() * 256 + byte()) % 0xF800
    if cp >= 0xD800 and cp <= 0xDFFF then cp = cp - 0x800 end
    return cp
  elseif b < 245 then return 0x10000 + (byte() * 65536 + byte() * 256 + byte()) % 0x100000
  end
  return ODD[b % #ODD + 1]
end

-- The code points of an ASCII text (names, enums, date-times); those of
-- names and enums are kept.
local cps_of = setmetatable({}, { __mode = "k" })
local function ascii_cps(s, keep)
  local t = cps_of[s]
  if t then return t end
  t = { s:byte(1, -1) }
  if keep then cps_of[s] = t end
  return t
end

local function write_string(cps)
  local mode = escmode
  if mode == 3 then mode = byte() % 4 end   -- per string
  local enc = ENC[mode] or ENC[0]
  o = o + 1
  out[o] = '"'
  for i = 1, #cps do
    local cp = cps[i]
    local how = mode
    if mode == 2 then   -- per character
      how = byte() % 4
      enc = ENC[how]
    end
    o = o + 1
    if cp < 128 then out[o] = enc[cp] else out[o] = encode_cp(cp, how) end
  end
  o = o + 1
  out[o] = '"'
end

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- RFC 3339 date-time: a real date, seconds up to 59, a fraction of 0 to 9
-- digits, Z (either case) or an offset up to +-23:59.
local function datetime()
  local y = 1970 + byte() % 130
  local m = byte() % 12 + 1
  local dmax = DAYS[m]
  if m == 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then dmax = 29 end
  local s = format("%04d-%02d-%02d%s%02d:%02d:%02d", y, m, byte() % dmax + 1,
    byte() % 8 == 0 and "t" or "T", byte() % 24, byte() % 60, byte() % 60)
  local b = byte()
  if b % 4 == 1 then
    local n = byte() % 9 + 1
    s = s .. "."
    for _ = 1, n do s = s .. byte() % 10 end
  end
  b = byte()
  if b % 3 == 0 then s = s .. (b % 2 == 0 and "Z" or "z")
  else s = s .. format("%s%02d:%02d", b % 3 == 1 and "+" or "-", byte() % 24, byte() % 60) end
  return s
end

local function gen_string(node)
  if node.enum then
    local e = node.enum
    return write_string(ascii_cps(e[byte() % #e + 1], true))
  end
  if node.datetime then return write_string(ascii_cps(datetime())) end
  local max = node.max or (byte() % 8 == 0 and 400 or 24)
  local n = byte() % (max + 1)
  local cps = {}
  for i = 1, n do cps[i] = code_point() end
  return write_string(cps)
end

-- ---- numbers --------------------------------------------------------------

local INT_EDGES = { 0, 1, -1, 2147483647, -2147483648, 2147483646, -2147483647, 100, 1000000 }

local function digits(n, first_nonzero)
  local t = {}
  for i = 1, n do
    local d = byte() % 10
    if i == 1 and first_nonzero and d == 0 then d = 1 end
    t[i] = d
  end
  return concat(t)
end

-- An int32 written so that its exact value is the integer: 7, 7.0, 7.000,
-- 70e-1, 0.7e1, 7E0, 7e+0; zero also as -0.
local function gen_integer()
  local b = byte()
  local v
  if b % 4 == 0 then v = byte() % 100
  elseif b % 4 == 1 then v = -(byte() % 100)
  elseif b % 4 == 2 then v = INT_EDGES[byte() % #INT_EDGES + 1]
  else v = ((byte() * 256 + byte()) * 256 + byte()) * 256 + byte() - 2147483648 end
  local s = format("%.0f", v)
  local form = floor(b / 4) % 8
  if form == 1 then s = s .. ".0"
  elseif form == 2 then s = s .. ".000"
  elseif form == 3 then s = v == 0 and "0e-1" or s .. "0e-1"
  elseif form == 4 then
    local sign, d = s:match("^(%-?)(%d+)$")
    s = sign .. "0." .. d .. "e" .. #d
  elseif form == 5 then s = s .. "E0"
  elseif form == 6 then s = s .. "e+0"
  elseif form == 7 and v == 0 then s = "-0"
  end
  emit(s)
end

local DOUBLE_EDGES = { "0", "-0", "0.0", "-0.0", "0e0", "1", "0.1", "0.30000000000000004",
  "1.7976931348623157e308", "-1.7976931348623157e308", "2.2250738585072014e-308",
  "2.2250738585072009e-308", "4.9406564584124654e-324", "5e-324", "2.4703282292062328e-324",
  "9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993",
  "18446744073709551615", "18446744073709551616", "9223372036854775807", "9223372036854775808",
  "-9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
  "1e300", "1E-300", "7.0", "2147483648", "-2147483649", "1.5", "0.5e-0" }

-- A double's text: an edge, or digits with a fraction and an exponent,
-- its magnitude kept finite (under 1e301; as small as subnormals).
local function gen_number()
  local b = byte()
  if b % 4 == 0 then return emit(DOUBLE_EDGES[byte() % #DOUBLE_EDGES + 1]) end
  local sign = b % 8 >= 4 and "-" or ""
  local ni = byte() % 20 + 1
  local int = digits(ni, ni > 1)
  local frac = ""
  local c = byte()
  if c % 2 == 1 then frac = "." .. digits(c % 20 + 1) end
  local exp = ""
  c = byte()
  if c % 3 ~= 0 then
    local e = (byte() * 256 + byte()) % 620 - 320   -- -320 .. 299
    if e + ni > 300 then e = 300 - ni end
    local es = e < 0 and "-" or (c % 2 == 0 and "+" or "")
    exp = (c % 4 < 2 and "e" or "E") .. es .. math.abs(e)
  end
  emit(sign .. int .. frac .. exp)
end

-- ---- values ---------------------------------------------------------------

local gen

-- A field of its own with any JSON value below it: what a later version
-- of the API might add. Nested arrays and objects, nulls, whole numbers
-- below and above 2^53, -0.
local UNKNOWN_NAMES = { "x", "extra", "notes", "", "events", "items", "total", "reference",
  "value", "\195\169t\195\169", "a b", "null", "1", "meansId", "__index" }

local function gen_any(level)
  local b = byte()
  local k = b % (level >= 4 and 5 or 7)
  if k == 0 then emit("null")
  elseif k == 1 then emit(b % 2 == 0 and "true" or "false")
  elseif k == 2 then if b % 2 == 0 then gen_integer() else gen_number() end
  elseif k == 3 then gen_number()
  elseif k == 4 then gen_string({})
  elseif k == 5 then
    emit("[")
    for i = 1, byte() % 5 do
      if i > 1 then emit(",") end
      ws(level + 1)
      gen_any(level + 1)
    end
    ws(level)
    emit("]")
  else
    emit("{")
    local used = {}
    local n = 0
    for _ = 1, byte() % 4 do
      local name = UNKNOWN_NAMES[byte() % #UNKNOWN_NAMES + 1]
      if not used[name] then
        used[name] = true
        n = n + 1
        if n > 1 then emit(",") end
        ws(level + 1)
        write_string(ascii_cps(name, true))
        emit(":")
        gen_any(level + 1)
      end
    end
    ws(level)
    emit("}")
  end
end

local function gen_object(node, level)
  local props = node.props
  local np = #props
  -- the order: as named, reversed, rotated, or shuffled by the choices
  local order = {}
  for i = 1, np do order[i] = i end
  local b = byte()
  if b % 4 == 1 then
    for i = 1, np do order[i] = np + 1 - i end
  elseif b % 4 == 2 then
    local r = byte() % np
    for i = 1, np do order[i] = (i - 1 + r) % np + 1 end
  elseif b % 4 == 3 then
    for i = np, 2, -1 do
      local j = byte() % i + 1
      order[i], order[j] = order[j], order[i]
    end
  end
  local unknown = {}
  if extended then
    for _ = 1, byte() % 3 do
      local name = UNKNOWN_NAMES[byte() % #UNKNOWN_NAMES + 1]
      if not node.names[name] and not unknown[name] then
        unknown[name] = true
        unknown[#unknown + 1] = { name = name, at = byte() % (np + 1) }
      end
    end
  end
  emit("{")
  local n = 0
  local function key(name)
    n = n + 1
    if n > 1 then emit(",") end
    ws(level + 1)
    write_string(ascii_cps(name, true))
    if wsmode == 3 then ws(level + 1) end
    emit(wsmode == 1 and ": " or ":")
  end
  local function unknowns(at)
    for i = 1, #unknown do
      if unknown[i].at == at then key(unknown[i].name); gen_any(level + 1) end
    end
  end
  for i = 1, np do
    unknowns(i - 1)
    local p = props[order[i]]
    local c = byte() % 8
    if c ~= 0 then
      key(p.name)
      if c == 1 and p.nullable then emit("null") else gen(p.node, level + 1) end
    end
  end
  unknowns(np)
  if n > 0 then ws(level) end
  emit("}")
end

function gen(node, level)
  local kind = node.kind
  if kind == "object" then return gen_object(node, level)
  elseif kind == "array" then
    emit("[")
    local n = byte() % (node.max + 1)
    for i = 1, n do
      if i > 1 then emit(",") end
      ws(level + 1)
      gen(node.of, level + 1)
    end
    if n > 0 then ws(level) end
    emit("]")
  elseif kind == "string" then gen_string(node)
  elseif kind == "integer" then gen_integer()
  elseif kind == "number" then gen_number()
  elseif kind == "boolean" then emit(byte() % 2 == 0 and "true" or "false")
  end
end

-- input -> body, and whether it holds fields the document does not have.
-- The first byte: white space (bits 0-1: none, after ':' and ',', indented
-- lines, chosen per token), escapes (bits 2-3: raw, short escapes, chosen
-- per character, chosen per string), unknown fields (bits 4-5 both set).
-- Bits 6-7 are the driver's.
function M.body(input)
  data, pos, len = input, 1, #input
  local style = input:byte(1) or 0
  wsmode = style % 4
  escmode = floor(style / 4) % 4
  extended = floor(style / 16) % 4 == 3
  out, o = {}, 0
  ws(0)
  gen(PAGE, 0)
  ws(0)
  local body = concat(out, "", 1, o)
  out, data = {}, ""
  return body, extended
end

return M
