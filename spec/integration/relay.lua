-- A TCP relay for the proxy specs: a program (lua5.4 with LuaSocket), not a
-- spec. It listens on a free 127.0.0.1 port, writes the port to PORTFILE,
-- and ends after SECONDS (or when its PID is killed):
--
--   lua5.4 relay.lua record PORTFILE TARGET LOG SECONDS
--       passes each connection on to 127.0.0.1:TARGET both ways, and
--       appends every byte the client sends to LOG (what the server at
--       TARGET saw of it); when a file PORTFILE.cut appears, closes every
--       connection it carries and removes the file
--   lua5.4 relay.lua tamper PORTFILE TARGET LOG SECONDS
--       a proxy that tampers: answers a CONNECT itself with 200, whatever
--       host it names, and passes the tunnel to 127.0.0.1:TARGET (LOG as
--       for record)
--   lua5.4 relay.lua stall PORTFILE - - SECONDS
--       listens with a full backlog and accepts nothing: a connection to it
--       never completes its handshake
--   lua5.4 relay.lua reset PORTFILE - LOG SECONDS
--       accepts each connection, reads what the client sends first (a TLS
--       ClientHello), then resets it; appends a line to LOG for each
--   lua5.4 relay.lua close PORTFILE - LOG SECONDS
--       the same, but closes it in order (FIN) instead of resetting it
--   lua5.4 relay.lua silent PORTFILE - LOG SECONDS
--       accepts each connection, reads what the client sends and never
--       writes a byte (a server that hangs, mid TLS handshake for an https
--       client); appends a line to LOG for each connection
--   lua5.4 relay.lua idle-reset PORTFILE - LOG SECONDS
--       an API of plain HTTP that answers each request with an empty page,
--       keeping the connection, and resets it 0.2 s later, idle; appends a
--       line to LOG for each request
--   lua5.4 relay.lua says-close PORTFILE - LOG SECONDS
--       the same, but answers with Connection: close, then reads nothing
--       more and leaves the connection open for 2 s before closing it
--   lua5.4 relay.lua dns PORTFILE - LOG SECONDS
--       a DNS server that never answers: binds a free UDP port on
--       127.0.0.1 instead, reads every query and answers none; appends a
--       line to LOG for each ("query NAME", the name as asked)
--   lua5.4 relay.lua dns-loopback PORTFILE - LOG SECONDS
--       the same, but answers every query: any name asked for an IPv4
--       address is 127.0.0.1 (other types: no address)
--   lua5.4 relay.lua gzip-bomb PORTFILE CHUNK LOG SECONDS
--       an API of plain HTTP that answers each request with an empty page
--       compressed (gzip), followed by 64 more gzip members of 16 MiB of
--       spaces each: valid JSON of 1 GiB, about 1 MB as sent, chunked in
--       chunks of CHUNK bytes when CHUNK is a number (else with its
--       Content-Length); then closes the connection; appends a line to
--       LOG for each request
local socket = require "socket"

local mode, portfile, target, logfile = arg[1], arg[2], tonumber(arg[3]), arg[4]
local seconds = tonumber(arg[5]) or 60
assert(mode == "record" or mode == "tamper" or mode == "stall" or mode == "reset"
  or mode == "close" or mode == "silent" or mode == "idle-reset" or mode == "says-close"
  or mode == "dns" or mode == "dns-loopback" or mode == "gzip-bomb",
  "mode: record, tamper, stall, reset, close, silent, idle-reset, says-close, dns, "
    .. "dns-loopback or gzip-bomb")
local deadline = socket.gettime() + math.min(seconds, 600)

local dns = mode == "dns" or mode == "dns-loopback"
local srv
if dns then
  srv = assert(socket.udp())
  assert(srv:setsockname("127.0.0.1", 0))
else
  srv = assert(socket.bind("127.0.0.1", 0, mode == "stall" and 0 or 64))
end
local _, port = srv:getsockname()
local keep = {}   -- luacheck: ignore 241 (sockets held open)
if mode == "stall" then
  -- A backlog of 0 holds one connection nobody accepts; once it is there,
  -- the kernel drops every further SYN, and a client's connect waits.
  local fill = socket.tcp()
  fill:settimeout(2)
  assert(fill:connect("127.0.0.1", port))
  keep[1] = fill
end

-- gzip's output for what `cmd` writes
local function gzip_of(cmd)
  local p = assert(io.popen(cmd .. " | gzip -n -9", "r"))
  local out = p:read("*a")
  p:close()
  assert(#out > 0 and out:byte(1) == 0x1f, "gzip failed")
  return out
end

-- The bodies, made before the port is written (the relay is ready then).
local page_body = '{"total":0,"returned":0,"first":0,"items":[]}'
local bomb_body = mode == "gzip-bomb" and gzip_of("printf '%s' '" .. page_body .. "'")
  .. gzip_of("head -c 16777216 /dev/zero | tr '\\0' ' '"):rep(64)

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
write(portfile .. ".tmp", tostring(port))
assert(os.rename(portfile .. ".tmp", portfile))

if mode == "stall" then
  while socket.gettime() < deadline do socket.sleep(0.2) end
  os.exit(0)
end

if dns then
  -- A query's question: the name asked ("a.b"), its type, and where the
  -- question ends (a query's name is never compressed).
  local function question(q)
    local labels, i = {}, 13
    while true do
      local n = q:byte(i)
      if not n or n >= 64 then return nil end
      if n == 0 then break end
      labels[#labels + 1] = q:sub(i + 1, i + n)
      i = i + 1 + n
    end
    if #q < i + 4 then return nil end
    return table.concat(labels, "."), q:byte(i + 1) * 256 + q:byte(i + 2), i + 4
  end
  srv:settimeout(0.2)
  while socket.gettime() < deadline do
    local q, ip, from = srv:receivefrom()
    if q then
      local name, qtype, last = question(q)
      local f = assert(io.open(logfile, "ab"))
      f:write("query ", name or "?", "\n")
      f:close()
      if mode == "dns-loopback" and name then
        -- the query's id, "a response, recursion desired and available",
        -- one question, one answer for an A query (none else), and the
        -- question again; the answer points at it (offset 12): 127.0.0.1
        -- for 60 s
        local a = qtype == 1
        srv:sendto(q:sub(1, 2) .. "\129\128\0\1\0" .. (a and "\1" or "\0") .. "\0\0\0\0"
          .. q:sub(13, last) .. (a and "\192\12\0\1\0\1\0\0\0\60\0\4\127\0\0\1" or ""),
          ip, from)
      end
    end
  end
  os.exit(0)
end

if mode == "reset" or mode == "close" then
  srv:settimeout(0.2)
  while socket.gettime() < deadline do
    local c = srv:accept()
    if c then
      c:settimeout(2)
      c:receive(1)
      -- logged before the reset, which the client may answer (and the
      -- spec read the log) before this process runs again
      local f = assert(io.open(logfile, "ab"))
      f:write(mode .. "\n")
      f:close()
      -- "reset": close() then sends a reset; "close": an orderly close (FIN)
      if mode == "reset" then c:setoption("linger", { on = true, timeout = 0 }) end
      c:close()
    end
  end
  os.exit(0)
end

if mode == "silent" then
  local reading = { srv }
  srv:settimeout(0)
  while socket.gettime() < deadline do
    for _, s in ipairs(socket.select(reading, nil, 0.1)) do
      if s == srv then
        local c = srv:accept()
        if c then
          c:settimeout(0)
          reading[#reading + 1] = c
          local f = assert(io.open(logfile, "ab"))
          f:write("silent\n")
          f:close()
        end
      else
        local _, err = s:receive(65536)
        if err == "closed" then
          for i = #reading, 2, -1 do
            if reading[i] == s then table.remove(reading, i) end
          end
          s:close()
        end
      end
    end
  end
  os.exit(0)
end

if mode == "idle-reset" or mode == "says-close" or mode == "gzip-bomb" then
  local bomb = mode == "gzip-bomb"
  local close = mode == "says-close" or bomb
  local body = bomb and bomb_body or page_body
  local coding = bomb and "Content-Encoding: gzip\r\n" or ""
  local length = "Content-Length: " .. #body
  if bomb and target then   -- chunked, in chunks of `target` bytes
    local chunks = {}
    for i = 1, #body, target do
      local piece = body:sub(i, i + target - 1)
      chunks[#chunks + 1] = ("%x\r\n%s\r\n"):format(#piece, piece)
    end
    chunks[#chunks + 1] = "0\r\n\r\n"
    body = table.concat(chunks)
    length = "Transfer-Encoding: chunked"
  end
  local answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" .. coding
    .. length
    .. "\r\n" .. (close and "Connection: close\r\n" or "") .. "\r\n" .. body
  -- socket -> { head = bytes read, reading = bool, out = the answer being
  -- sent, sent = its bytes sent, ends = time }: every connection's answer
  -- is sent as the connection takes it, none waiting for another's (a
  -- bomb's client reads slowly, and a batch's lookups share a deadline)
  local conns = {}
  local function finish(st)
    st.out = nil
    st.ends = socket.gettime() + (mode == "says-close" and 2 or 0.2)
    st.reading = not close
  end
  srv:settimeout(0)
  while socket.gettime() < deadline do
    local reading, writing = { srv }, {}
    for c, st in pairs(conns) do
      if st.reading then reading[#reading + 1] = c end
      if st.out then writing[#writing + 1] = c end
    end
    local readable, writable = socket.select(reading, writing, 0.05)
    for _, s in ipairs(writable) do
      local st = conns[s]
      if st and st.out then
        local last, err, partial = s:send(st.out, st.sent + 1)
        st.sent = last or partial or st.sent
        if st.sent >= #st.out then
          finish(st)
        elseif err and err ~= "timeout" then   -- the client went away
          s:close()
          conns[s] = nil
        end
      end
    end
    for _, s in ipairs(readable) do
      if s == srv then
        local c = srv:accept()
        if c then
          c:settimeout(0)
          conns[c] = { head = "", reading = true }
        end
      else
        local st = conns[s]
        local data, err, partial = s:receive(65536)
        if st then st.head = st.head .. (data or partial or "") end
        if err == "closed" then
          s:close()
          conns[s] = nil
        elseif st and not st.out and st.head:find("\r\n\r\n", 1, true) then   -- a GET: no body
          st.head = ""
          local f = assert(io.open(logfile, "ab"))
          f:write("request\n")
          f:close()
          st.out, st.sent, st.reading = answer, 0, false
        end
      end
    end
    local now = socket.gettime()
    for c, st in pairs(conns) do
      if st.ends and now >= st.ends then
        if not close then c:setoption("linger", { on = true, timeout = 0 }) end   -- a reset
        c:close()
        conns[c] = nil
      end
    end
  end
  os.exit(0)
end

srv:settimeout(0)
local reading = { srv }
local peer, is_client, head = {}, {}, {}

local function log(bytes)
  local f = assert(io.open(logfile, "ab"))
  f:write(bytes)
  f:close()
end

local function forget(s)
  for i = #reading, 1, -1 do
    if reading[i] == s then table.remove(reading, i) end
  end
  s:close()
  peer[s], is_client[s], head[s] = nil, nil, nil
end

local function drop(s)
  local p = peer[s]
  forget(s)
  if p then forget(p) end
end

local function send_all(s, data)
  s:settimeout(5)
  local ok = s:send(data)
  s:settimeout(0)
  return ok
end

-- Connects client c to the target; rest: bytes already read from c.
local function connect(c, rest)
  local t = socket.tcp()
  t:settimeout(5)
  if not t:connect("127.0.0.1", target) then
    t:close()
    return drop(c)
  end
  t:settimeout(0)
  peer[c], peer[t], is_client[c] = t, c, true
  reading[#reading + 1] = t
  if rest and #rest > 0 and not send_all(t, rest) then drop(c) end
end

local function cut()
  local f = io.open(portfile .. ".cut", "rb")
  if not f then return end
  f:close()
  for i = #reading, 2, -1 do reading[i]:close() end
  reading = { srv }
  peer, is_client, head = {}, {}, {}
  os.remove(portfile .. ".cut")
end

while socket.gettime() < deadline do
  cut()
  local ready = socket.select(reading, nil, 0.1)
  for _, s in ipairs(ready) do
    if s == srv then
      local c = srv:accept()
      if c then
        c:settimeout(0)
        reading[#reading + 1] = c
        if mode == "tamper" then head[c] = "" else connect(c) end
      end
    elseif peer[s] or head[s] then
      local data, err, partial = s:receive(65536)
      data = data or partial
      if data and #data > 0 then
        if is_client[s] or head[s] then log(data) end
        if head[s] then
          local h = head[s] .. data
          local e = h:find("\r\n\r\n", 1, true)
          if e then
            head[s] = nil
            if send_all(s, "HTTP/1.1 200 Connection established\r\n\r\n") then
              connect(s, h:sub(e + 4))
            else
              drop(s)
            end
          elseif #h > 16384 then
            drop(s)
          else
            head[s] = h
          end
        elseif not send_all(peer[s], data) then
          drop(s)
        end
      end
      if err == "closed" and (peer[s] or head[s]) then drop(s) end
    end
  end
end
