-- Generates lua/soget/types/soget/models.lua, the lua-language-server
-- annotations of what soget hands back and what it is asked: the
-- HandlingUnit model and every model under it, the page, the enums, and
-- the query parameters of both operations, from the OpenAPI documents.
--
--   lua5.4 tools/gen_types.lua [-o FILE] [LOOKUP_DOC SEARCH_DOC]
--
-- The documents default to sandbox/openapi.json (API Tracing Code v1) and
-- sandbox/openapi-in-mass.json (API Tracing Code in mass v1), read from the
-- source tree this script sits in; the output goes to stdout, or to FILE.
-- `make check-types` regenerates it and compares with the committed file.
--
-- Types follow soget's decoding rules (README, "Results"), not JSON's:
--   * JSON null becomes nil, so a field the document marks nullable is
--     optional (`name?`);
--   * an object the server leaves out stays nil: a field holding an object
--     is optional too (OpenAPI 3.0 cannot mark a $ref nullable);
--   * array fields are always tables, never nil, whatever the document
--     says of their nullability;
--   * integer fields are Lua integers, number fields floats; enums are
--     strings (aliases of their values); dates are the ISO 8601 text sent.
-- The documents require no field: a field they do not mark nullable is
-- typed as present, as the API sends it, and the header of the output
-- says so.
--
-- Both documents carry the same schemas (soget decodes both with one
-- schema): the script stops if they differ, or if a schema holds a
-- construct it does not know how to type, rather than guess.
local json = require "dkjson"

local ROOT = (arg[0]:match("^(.*)/tools/[^/]*$") or ".")

local out_file
local docs = {}
do
  local i = 1
  while i <= #arg do
    if arg[i] == "-o" then
      out_file = assert(arg[i + 1], "-o needs a file name")
      i = i + 2
    else
      docs[#docs + 1] = arg[i]
      i = i + 1
    end
  end
  if #docs == 0 then
    docs = { ROOT .. "/sandbox/openapi.json", ROOT .. "/sandbox/openapi-in-mass.json" }
  end
  if #docs ~= 2 then
    io.stderr:write("usage: lua5.4 tools/gen_types.lua [-o FILE] [LOOKUP_DOC SEARCH_DOC]\n")
    os.exit(2)
  end
end

local function fail(fmt, ...)
  io.stderr:write("gen_types: ", string.format(fmt, ...), "\n")
  os.exit(1)
end

-- JSON objects remember their keys' order: dkjson assigns each key of a new
-- object once, through the object's metatable (its documented objectmeta).
local ORDER = setmetatable({}, { __mode = "k" })
local OBJECT_MT = {
  __jsontype = "object",
  __newindex = function(t, k, v)
    local keys = ORDER[t]
    if not keys then
      keys = {}
      ORDER[t] = keys
    end
    keys[#keys + 1] = k
    rawset(t, k, v)
  end,
}
local ARRAY_MT = { __jsontype = "array" }

local function keys_of(t)
  return ORDER[t] or {}
end

local function read_doc(path)
  local f, err = io.open(path, "rb")
  if not f then fail("%s", err) end
  local text = f:read("a")
  f:close()
  local doc, _, derr = json.decode(text, 1, nil, OBJECT_MT, ARRAY_MT)
  if not doc then fail("%s: %s", path, derr) end
  return doc
end

local lookup_doc, search_doc = read_doc(docs[1]), read_doc(docs[2])

-- Plain data, key order aside: equal when both hold the same values.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local schemas = lookup_doc.components.schemas
do
  local other = search_doc.components.schemas
  for _, name in ipairs(keys_of(schemas)) do
    if not same(schemas[name], other[name]) then
      fail("schema %s differs between %s and %s", name, docs[1], docs[2])
    end
  end
  for _, name in ipairs(keys_of(other)) do
    if schemas[name] == nil then fail("schema %s is only in %s", name, docs[2]) end
  end
end

---------------------------------------------------------------------------
-- Text

-- A description on one annotation line: the documents' line breaks are
-- CR LF before a <br> (which lua-language-server renders as a line break).
local function one_line(s)
  s = (s or ""):gsub("\r?\n", " "):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  return s
end

local function ref_name(ref)
  local name = ref:match("^#/components/schemas/([%w_]+)$")
  if not name or not schemas[name] then fail("unknown $ref %s", tostring(ref)) end
  return name
end

local PREFIX = "soget."

local function is_enum(s)
  return s.enum ~= nil
end

local KNOWN_KEYS = {
  type = true, description = true, nullable = true, example = true, format = true,
  maxLength = true, minLength = true, items = true, ["$ref"] = true, enum = true,
  properties = true, additionalProperties = true, default = true, maximum = true,
}

local function check_keys(where, s)
  for k in pairs(s) do
    if not KNOWN_KEYS[k] then fail("%s: '%s' is not a construct this script types", where, k) end
  end
end

-- The Lua type of a schema (a property's, a parameter's), and whether soget
-- can give nil for it, and what to add to its description.
local function lua_type(where, s)
  check_keys(where, s)
  if s["$ref"] then
    local name = ref_name(s["$ref"])
    local target = schemas[name]
    if is_enum(target) then
      return PREFIX .. name, false, name
    end
    if target.type ~= "object" then fail("%s: $ref to a %s", where, tostring(target.type)) end
    return PREFIX .. name, true, name
  end
  local t, notes = s.type, {}
  if s.maxLength then notes[#notes + 1] = string.format("at most %d characters", s.maxLength) end
  if s.format == "date-time" then notes[#notes + 1] = "ISO 8601 text, as sent" end
  local lua
  if t == "string" then
    if s.format ~= nil and s.format ~= "date-time" then fail("%s: format %s", where, s.format) end
    lua = "string"
  elseif t == "integer" then
    if s.format ~= "int32" then fail("%s: integer format %s", where, tostring(s.format)) end
    lua = "integer"
  elseif t == "number" then
    if s.format ~= "double" then fail("%s: number format %s", where, tostring(s.format)) end
    lua = "number"
  elseif t == "boolean" then
    lua = "boolean"
  elseif t == "array" then
    local item = lua_type(where .. "[]", s.items)
    return item .. "[]", false, nil, notes
  else
    fail("%s: type %s", where, tostring(t))
  end
  return lua, s.nullable == true, nil, notes
end

---------------------------------------------------------------------------
-- Output

local lines = {}
local function emit(fmt, ...)
  lines[#lines + 1] = select("#", ...) > 0 and string.format(fmt, ...) or fmt
end

local function doc_name(path)
  return (path:match("[^/]+$"))
end

emit("---@meta _")
emit("-- soget's models for lua-language-server: what a page holds, and what the")
emit("-- queries take. Generated by tools/gen_types.lua from %s (%s %s)",
  doc_name(docs[1]), lookup_doc.info.title, lookup_doc.info.version)
emit("-- and %s (%s %s): do not edit, run", doc_name(docs[2]), search_doc.info.title,
  search_doc.info.version)
emit("--   lua5.4 tools/gen_types.lua -o lua/soget/types/soget/models.lua")
emit("-- (`make check-types` fails when this file and a fresh generation differ).")
emit("--")
emit("-- Types follow soget's decoding (README, \"Results\"): a field the document")
emit("-- marks nullable, or that holds an object, is optional (`name?`: JSON null")
emit("-- and a left-out object are nil); array fields are always tables, never nil;")
emit("-- integer fields are Lua integers (plain numbers before Lua 5.3); dates are")
emit("-- the ISO 8601 text as sent. The documents require no field: one they do not")
emit("-- mark nullable is typed as present, as the API sends it. Unknown fields a")
emit("-- server adds are kept by soget, so no class is exact.")
emit("")

-- Enums first, in the document's order.
for _, name in ipairs(keys_of(schemas)) do
  local s = schemas[name]
  if is_enum(s) then
    check_keys(name, s)
    if s.type ~= "string" then fail("%s: enum of %s", name, tostring(s.type)) end
    local values = {}
    for i, v in ipairs(s.enum) do values[i] = string.format("%q", v) end
    emit("---%s", one_line(s.description))
    emit("---@alias %s%s %s", PREFIX, name, table.concat(values, "|"))
    emit("")
  end
end

-- The object schemas a page reaches, in the document's order (the error
-- body is not among them: soget turns it into a soget.Error).
local reached = {}
local function reach(name)
  if reached[name] then return end
  reached[name] = true
  for _, pname in ipairs(keys_of(schemas[name].properties or {})) do
    local p = schemas[name].properties[pname]
    local ref = p["$ref"] or (p.items and p.items["$ref"])
    if ref then reach(ref_name(ref)) end
  end
end
reach("HandlingUnitItemsResponseModel")

for _, name in ipairs(keys_of(schemas)) do
  local s = schemas[name]
  if reached[name] and not is_enum(s) then
    check_keys(name, s)
    if s.type ~= "object" or not s.properties then fail("%s: not an object with properties", name) end
    emit("---%s", one_line(s.description))
    emit("---@class %s%s", PREFIX, name)
    for _, pname in ipairs(keys_of(s.properties)) do
      if not pname:match("^[%a_][%w_]*$") then fail("%s.%s: not a Lua name", name, pname) end
      local p = s.properties[pname]
      local t, optional, ref, notes = lua_type(name .. "." .. pname, p)
      -- A $ref has no description of its own: an object's says what the
      -- field holds; an enum's is its alias's, shown with the type.
      local text = one_line(p.description
        or (ref and not is_enum(schemas[ref]) and schemas[ref].description))
      if notes and #notes > 0 then
        text = text .. " (" .. table.concat(notes, "; ") .. ")"
      end
      if p.nullable and t:sub(-2) == "[]" then
        text = text .. " Always a table: empty when the server sends null or leaves it out."
      end
      emit("---@field %s%s %s%s", pname, optional and "?" or "", t, text == "" and "" or " " .. text)
    end
    emit("")
  end
end

-- The queries: the operations' parameters, with the rules soget adds (it
-- checks every key before sending anything). Each parameter of a document
-- needs its rule here and each rule its parameter, so neither side drifts.
local OPERATIONS = {
  {
    class = "Query", doc = lookup_doc, path = "/handling-units",
    about = "A lookup: the query of client:handling_units (GET /handling-units). A reference or an spi is required; a string stands for { reference = s }.",
    rules = {
      reference = "At most 17 characters (soget.limits.reference).",
      spi = "At most 13 characters (soget.limits.spi).",
      desc = "",
      limit = "1 to 10 (soget.limits.limit); the server's default is 5.",
      offset = "0 or more.",
    },
    -- soget's own keys, which the API does not have: { name, type, text }
    extra = {
      { name = "exact", type = "boolean", text = "only the units whose reference (and S)ONE id) is the one given, in any case, as one complete page (the API's filters are prefixes); no offset then." },
    },
  },
  {
    class = "SearchQuery", doc = search_doc, path = "/handling-units/search",
    about = "A search of the in-mass API: the query of client:handling_units_search (GET /handling-units/search). One of documentReference, voyageAgentReference and voyageAgentId is required, non-empty; a string stands for { documentReference = s }.",
    rules = {
      documentReference = "At most 512 bytes (soget.limits.search_value).",
      voyageAgentReference = "At most 512 bytes (soget.limits.search_value).",
      voyageAgentId = "At most 512 bytes (soget.limits.search_value).",
      customsFlag = "",
      freightAgent = "At most 512 bytes (soget.limits.search_value).",
      desc = "",
      limit = "1 to 10 (soget.limits.limit); the server's default is 5.",
      offset = "0 or more.",
    },
    extra = {},
  },
}

for _, op in ipairs(OPERATIONS) do
  local get = op.doc.paths[op.path] and op.doc.paths[op.path].get
  if not get then fail("no GET %s in %s", op.path, op.doc.info.title) end
  emit("---%s", op.about)
  emit("---@class (exact) %s%s", PREFIX, op.class)   -- soget refuses other keys
  local seen = {}
  for _, p in ipairs(get.parameters) do
    if p["in"] ~= "query" then fail("%s: parameter %s in %s", op.path, p.name, p["in"]) end
    local rule = op.rules[p.name]
    if rule == nil then fail("%s: parameter %s has no rule in tools/gen_types.lua", op.path, p.name) end
    seen[p.name] = true
    local t = lua_type(op.path .. " " .. p.name, p.schema)
    local text = one_line(p.description)
    if rule ~= "" then text = text .. " soget: " .. rule end
    emit("---@field %s? %s %s", p.name, t, text)
  end
  for name in pairs(op.rules) do
    if not seen[name] then fail("%s: rule for %s, which is no parameter", op.path, name) end
  end
  for _, x in ipairs(op.extra) do
    if seen[x.name] then fail("%s: %s is the API's, not soget's own", op.path, x.name) end
    emit("---@field %s? %s soget's own key (not sent to the API): %s", x.name, x.type, x.text)
  end
  emit("")
end

local text = table.concat(lines, "\n")
if out_file then
  local f = assert(io.open(out_file, "wb"))
  f:write(text)
  f:close()
else
  io.stdout:write(text)
end
