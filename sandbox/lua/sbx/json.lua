-- Minimal JSON encoder with ordered objects.
--   J.obj(schema, k1, v1, k2, v2, ...)  ordered object; nil values are
--                                       omitted, J.null encodes as null;
--                                       schema names the OpenAPI schema.
--   J.map(t)                            object with sorted keys
--   plain tables                        arrays
local M = {}

local NULL = setmetatable({}, { __tostring = function() return "null" end })
M.null = NULL

local OBJ = { __name = "sbx.obj" }
local MAP = { __name = "sbx.map" }
local KEYS, SCHEMA = {}, {}
M.KEYS, M.SCHEMA = KEYS, SCHEMA

local select, type, getmetatable, setmetatable = select, type, getmetatable, setmetatable
local concat, sort = table.concat, table.sort
local format, gsub, byte, floor = string.format, string.gsub, string.byte, math.floor

function M.obj(schema, ...)
  local t = setmetatable({ [KEYS] = {}, [SCHEMA] = schema }, OBJ)
  local keys = t[KEYS]
  for i = 1, select("#", ...), 2 do
    local k, v = select(i, ...)
    if v ~= nil then
      keys[#keys + 1] = k
      t[k] = v
    end
  end
  return t
end

function M.map(t) return setmetatable(t or {}, MAP) end
function M.is_obj(v) return type(v) == "table" and getmetatable(v) == OBJ end
function M.keys(o) return o[KEYS] end
function M.schema(o) return o[SCHEMA] end

-- Set (or add, at the end) a key of an ordered object; nil removes it.
function M.set(o, k, v)
  local keys = o[KEYS]
  if o[k] == nil then
    if v == nil then return end
    keys[#keys + 1] = k
  elseif v == nil then
    for i = 1, #keys do
      if keys[i] == k then table.remove(keys, i) break end
    end
  end
  o[k] = v
end

function M.copy(v)
  if type(v) ~= "table" or v == NULL then return v end
  local mt = getmetatable(v)
  if mt == OBJ then
    local c = setmetatable({ [KEYS] = {}, [SCHEMA] = v[SCHEMA] }, OBJ)
    local keys = v[KEYS]
    for i = 1, #keys do
      local k = keys[i]
      c[KEYS][i] = k
      c[k] = M.copy(v[k])
    end
    return c
  end
  local c = setmetatable({}, mt)
  for k, x in pairs(v) do c[k] = M.copy(x) end
  return c
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function esc(c) return escapes[c] or format("\\u%04x", byte(c)) end

local function quote(s)
  return '"' .. gsub(s, '[%c"\\]', esc) .. '"'
end
M.quote = quote

local function num(v)
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  if floor(v) == v and v > -2^53 and v < 2^53 then return format("%d", v) end
  return format("%.14g", v)
end

-- opts.extra: a string of unknown members appended to every object
local function enc(v, buf, n, opts)
  local tv = type(v)
  if tv == "string" then
    n = n + 1; buf[n] = quote(v)
  elseif tv == "number" then
    n = n + 1; buf[n] = num(v)
  elseif tv == "boolean" then
    n = n + 1; buf[n] = v and "true" or "false"
  elseif v == nil or v == NULL then
    n = n + 1; buf[n] = "null"
  elseif tv == "table" then
    local mt = getmetatable(v)
    if mt == OBJ or mt == MAP then
      local keys = v[KEYS]
      if mt == MAP then
        keys = {}
        for k in pairs(v) do keys[#keys + 1] = tostring(k) end
        sort(keys)
      end
      n = n + 1; buf[n] = "{"
      for i = 1, #keys do
        local k = keys[i]
        n = n + 1; buf[n] = (i > 1 and "," or "") .. quote(k) .. ":"
        n = enc(v[k], buf, n, opts)
      end
      if opts and opts.extra then
        n = n + 1; buf[n] = (#keys > 0 and "," or "") .. opts.extra
      end
      n = n + 1; buf[n] = "}"
    else
      n = n + 1; buf[n] = "["
      for i = 1, #v do
        if i > 1 then n = n + 1; buf[n] = "," end
        n = enc(v[i], buf, n, opts)
      end
      n = n + 1; buf[n] = "]"
    end
  else
    error("cannot encode " .. tv)
  end
  return n
end

function M.encode(v, opts)
  local buf = {}
  local n = enc(v, buf, 0, opts)
  return concat(buf, "", 1, n)
end

return M
