-- Fuzz driver: the HTTP/1.1 response parser (soget.http_parser, the core's
-- http1.c on libhttp-parser and zlib) on any bytes a server may send. The
-- first input byte chooses the body cap, the size of the pieces the rest
-- arrives in, and whether the connection closes after it. The response is
-- parsed twice, whole and in pieces: both must end in the same state with
-- the same answer (status, body, Location, Retry-After, keep-alive) or the
-- same error, within the cap, of a known kind, and no step may raise.
local soget = require "soget"

-- Portable Lua: spec/unit/fuzz_inputs_spec.lua replays the inputs on every
-- runtime, and Lua 5.1, 5.2 and LuaJIT have no integer subtype.
local floor = math.floor
local mtype = math.type or function(x)
  if type(x) ~= "number" then return nil end
  return x == floor(x) and "integer" or "float"
end

local CAPS = { 64, 1024, 65536, 8 * 1024 * 1024 }
local PIECES = { 1, 2, 3, 7, 64, 1000, 4096, 1073741824 }
local STATES = { more = true, done = true, bad = true }
local KINDS = { network = true, http = true }

local function parse(bytes, cap, piece, eof)
  local p = soget.http_parser(cap)
  local st = "more"
  local at = 1
  local steps = 0
  while at <= #bytes do
    local s = p:feed(bytes:sub(at, at + piece - 1))
    assert(STATES[s], "feed: not a state: " .. tostring(s))
    -- once over, it stays over
    if st ~= "more" then assert(s == st, "the state changed after " .. st .. ": " .. s) end
    st = s
    at = at + piece
    steps = steps + 1
    assert(steps <= #bytes + 1, "no progress")
  end
  if eof then
    local s = p:eof()
    assert(STATES[s] and s ~= "more", "eof: " .. tostring(s))
    if st ~= "more" then assert(s == st, "eof changed " .. st .. " to " .. s) end
    st = s
  end
  assert(p:state() == st)
  local out = { state = st }
  if st == "done" then
    local status, body, ra, loc, ka, www = p:response()
    assert(mtype(status) == "integer" and status >= 100 and status <= 999, "status")
    assert(type(body) == "string" and #body <= cap, "body over the cap")
    assert(ra == nil or (type(ra) == "string" and #ra <= 64 and #ra > 0), "Retry-After")
    assert(loc == nil or (type(loc) == "string" and #loc <= 8192 and #loc > 0), "Location")
    assert(type(ka) == "boolean")
    assert(www == nil or (type(www) == "string" and #www <= 8192 and #www > 0), "WWW-Authenticate")
    out.status, out.body, out.ra, out.loc, out.ka, out.www = status, body, ra, loc, ka, www
    assert(not pcall(p.error, p), "error() on a complete response")
  elseif st == "bad" then
    local msg, kind, retryable = p:error()
    assert(type(msg) == "string" and #msg > 0 and #msg < 512, "message")
    assert(KINDS[kind], "kind " .. tostring(kind))
    assert(type(retryable) == "boolean")
    out.msg, out.kind, out.retryable = msg, kind, retryable
    assert(not pcall(p.response, p), "response() on a bad response")
  else
    assert(not pcall(p.response, p), "response() on an incomplete response")
  end
  p:close()
  return out
end

return function(data)
  local sel = data:byte(1) or 0
  local bytes = data:sub(2)
  local cap = CAPS[sel % #CAPS + 1]
  local piece = PIECES[floor(sel / 4) % #PIECES + 1]
  local eof = floor(sel / 32) % 2 == 1
  local whole = parse(bytes, cap, #bytes + 1, eof)
  local pieces = parse(bytes, cap, piece, eof)
  for _, k in ipairs{ "state", "status", "body", "ra", "loc", "ka", "www", "msg", "kind", "retryable" } do
    assert(whole[k] == pieces[k], ("%s differs: whole %s, in pieces of %d %s"):format(
      k, tostring(whole[k]):sub(1, 80), piece, tostring(pieces[k]):sub(1, 80)))
  end
end
