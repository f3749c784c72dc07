-- Fuzz driver: query checking, URL building and header values. The input
-- holds a reference, an spi, an API key, a User-Agent and a token
-- (separated by byte 0x1E) and a byte choosing odd limit, offset and desc
-- values. Each value is either refused with a Lua error before anything is
-- sent, or reaches the request byte-exact: percent-encoded in the URL with
-- no parameter injected, unchanged in its header.
local soget = require "soget"

-- Portable Lua: spec/unit/fuzz_inputs_spec.lua replays the inputs on every
-- runtime (no bitwise operators, no utf8 library).
local floor = math.floor

local BASE = "https://api.invalid/v1"
local NAN = 0 / 0
local LIMITS = { false, 1, 10, 0, 11, 5.5, NAN, math.huge, -math.huge, "5", 2 ^ 53, -1, 3, 7.0 }
local OFFSETS = { false, 0, 1, 2147483647, 2147483648, -1, 1e300, NAN, "7", 0.5, math.huge,
  2 ^ 63, 40.0, math.mininteger or -2 ^ 63 }
local DESCS = { false, true, "desc", 1 }

local function split(s, sep, n)
  local out, pos = {}, 1
  for i = 1, n - 1 do
    local j = s:find(sep, pos, true)
    if not j then break end
    out[i] = s:sub(pos, j - 1)
    pos = j + 1
  end
  out[#out + 1] = s:sub(pos)
  return out
end

-- The code points of s when it is UTF-8 as Lua 5.4's utf8.len reads it
-- (strict: no overlong form, no surrogate, nothing above U+10FFFF), else nil.
local function utf8_len(s)
  local n, i, len = 0, 1, #s
  while i <= len do
    local c = s:byte(i)
    local need, cp, min
    if c < 0x80 then need, cp, min = 0, c, 0
    elseif c >= 0xC2 and c <= 0xDF then need, cp, min = 1, c - 0xC0, 0x80
    elseif c >= 0xE0 and c <= 0xEF then need, cp, min = 2, c - 0xE0, 0x800
    elseif c >= 0xF0 and c <= 0xF4 then need, cp, min = 3, c - 0xF0, 0x10000
    else return nil end
    for j = 1, need do
      local d = s:byte(i + j)
      if not d or d < 0x80 or d > 0xBF then return nil end
      cp = cp * 64 + (d - 0x80)
    end
    if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
    n = n + 1
    i = i + need + 1
  end
  return n
end

-- Query values: valid UTF-8, at most max code points, no control character
-- (C0, DEL, or C1: U+0080 to U+009F, written \194\128 to \194\159).
local function text_ok(s, max)
  local n = type(s) == "string" and utf8_len(s)
  return (n and n <= max and not s:find("[%z\1-\31\127]") and not s:find("\194[\128-\159]")) and true
    or false
end

local function whole(v, lo, hi)
  return type(v) == "number" and v == v and v == math.floor(v) and v >= lo and v <= hi
end

local function header_ok(s)   -- 65,536 bytes at most (a size limit)
  return #s > 0 and #s <= 65536 and not s:find("[%z\1-\8\10-\31\127]") and not s:find("^[ \t]")
    and not s:find("[ \t]$")
end

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end))
end

return function(data)
  local sel = data:byte(1) or 0
  local p = split(data:sub(2), "\30", 5)
  local ref, spi, key, ua, token = p[1], p[2], p[3], p[4], p[5]
  if sel % 2 == 0 then ref = nil end
  if floor(sel / 2) % 2 == 0 then spi = nil end
  local limit = LIMITS[floor(sel / 4) % #LIMITS + 1] or nil
  local offset = OFFSETS[floor(sel / 8) % #OFFSETS + 1] or nil
  local desc = DESCS[floor(sel / 32) % #DESCS + 1]
  if desc == false and sel < 128 then desc = nil end

  -- The client: API key and User-Agent are header values.
  local opts = { client_id = "id", client_secret = "secret", api_key = key or "k",
    user_agent = ua, base_url = BASE, token_url = BASE .. "/token" }
  local ok_client = header_ok(opts.api_key) and (ua == nil or header_ok(ua))
  local ok, c = pcall(soget.client, opts)
  assert(ok == ok_client, ok and "a bad header value was accepted" or tostring(c))
  if not ok then
    assert(tostring(c):find("soget.client: option '", 1, true), tostring(c))
    return
  end

  -- A token from elsewhere is a header value too.
  local tok = token or "tok"
  local ok_tok = header_ok(tok)
  local ok_set, why = pcall(c.set_token, c, tok, 60)
  assert(ok_set == ok_tok, ok_set and "a bad token was accepted" or tostring(why))
  if not ok_set then c:set_token("tok", 60); tok = "tok" end

  -- The query: refused before sending, or sent byte-exact.
  local q = { reference = ref, spi = spi, limit = limit, offset = offset, desc = desc }
  local valid = (ref == nil or text_ok(ref, 17)) and (spi == nil or text_ok(spi, 13))
    and ((ref ~= nil and #ref > 0) or (spi ~= nil and #spi > 0))
    and (limit == nil or whole(limit, 1, 10))
    and (offset == nil or whole(offset, 0, 2147483647))
    and (desc == nil or type(desc) == "boolean")
  local ok_begin, call = pcall(c.begin, c, q)
  assert(ok_begin == valid, ok_begin and "a bad query was accepted" or tostring(call))
  if not ok_begin then
    assert(tostring(call):find("handling_units: ", 1, true), tostring(call))
    c:close()
    return
  end
  local req = assert(call:request())
  assert(req.kind == "api" and req.method == "GET")
  local want = {}
  -- (an empty one is no filter: left out)
  if ref and #ref > 0 then want[#want + 1] = "reference=" .. encode(ref) end
  if spi and #spi > 0 then want[#want + 1] = "spi=" .. encode(spi) end
  if desc ~= nil then want[#want + 1] = "desc=" .. tostring(desc) end
  if limit then want[#want + 1] = ("limit=%d"):format(limit) end
  if offset then want[#want + 1] = ("offset=%d"):format(offset) end
  local url = BASE .. "/handling-units" .. (#want > 0 and "?" .. table.concat(want, "&") or "")
  assert(req.url == url, "URL " .. req.url .. " is not " .. url)
  local _, seps = req.url:gsub("[?&=#]", "")
  assert(seps == 2 * #want, "a separator was injected")
  assert(req.headers["Ocp-Apim-Subscription-Key"] == opts.api_key, "API key header changed")
  assert(req.headers.Authorization == "Bearer " .. tok, "Authorization header changed")
  call:close()
  c:close()
end
