-- make test-threads: what each state of spec/hygiene/threads.c does, in
-- its own thread, at the same moment as the others: load soget, make
-- clients (their libcurl transports, with the default User-Agent), build requests,
-- decode, encode and parse. No request leaves the process.
local soget = require "soget"

assert(soget.libcurl_version:match("^%d+%.%d+%.%d+"), soget.libcurl_version)
local BODY = '{"total":2,"returned":2,"first":0,"items":['
  .. '{"reference":"CGMU2436601","pswId":"CNI0000063978","events":[]},'
  .. '{"reference":"MSCU1234565","pswId":"CNI0000000002","events":[]}]}'
for i = 1, 10 do
  local c = soget.client { access_token = "tok-threads-0123456789", api_key = "key-threads-0123",
    base_url = "http://127.0.0.1:9/api-tracing-code/v1" }
  local call = c:begin { reference = "CGMU2436601" }
  local req = assert(call:request())
  assert(req.url:find("reference=CGMU2436601", 1, true), req.url)
  call:close()
  call = c:begin("MSCU")
  local out = assert(call:request_bytes("threads/1"))
  assert(out.bytes:find("^GET /api%-tracing%-code/v1/handling%-units%?"), out.bytes)
  call:close()
  local page = assert(soget.decode(BODY))
  assert(page.items[2].reference == "MSCU1234565")
  assert(#soget.encode(page) > 0)
  local p = soget.http_parser()
  assert(p:feed("HTTP/1.1 200 OK\r\nContent-Length: " .. #BODY .. "\r\n\r\n" .. BODY) == "done")
  p:close()
  assert(soget.check_query { reference = "MSCU" })
  c:close()
  if i % 5 == 0 then collectgarbage() end
end
