-- The scenarios of the allocation-failure sweeps (spec/hygiene/oom.c, make
-- test-oom): each runs whole against the sandbox, checking what it gets,
-- and is then run again and again with Lua's allocations refused from the
-- n-th on. A scenario must complete or raise Lua's memory error; the host
-- then runs it again, as it is, and it must complete. So a check of a
-- scenario never catches an error (a memory error must reach the host),
-- and state shared between runs (the warm client) is made before.
package.path = "spec/?.lua;lua/?.lua;" .. package.path
local soget = require "soget"
local S = require "support"

local EXACT = "CGMU2436601"        -- one unit, with events
local PREFIX = "MSCU"              -- more than 100 units
local BL = "CMDULEH2501003"        -- a bill of lading of 3 units

local warm = S.client()                        -- gzip, HTTPS, its token made
assert(warm:handling_units(EXACT))
local plain = S.client{ base_url = S.http .. "/api-tracing-code/v1", gzip = false }
assert(plain:handling_units(EXACT))
local body = S.popen_read("curl -sS --max-time 10 -H 'Authorization: Bearer "
  .. assert(warm:token()) .. "' -H 'Ocp-Apim-Subscription-Key: " .. S.api_key .. "' '"
  .. S.http .. "/api-tracing-code/v1/handling-units?reference=" .. PREFIX .. "&limit=3'")
assert(soget.decode(body).returned == 3, "the page body was not fetched")
local bad_schema = body:gsub('"eventDate":"', '"eventDate":1,"x":"', 1)
local broken = body:sub(1, math.floor(#body / 2))

-- A private folder (0700) for the command's files, removed at exit.
local private = os.tmpname()
os.remove(private)
assert(S.execute("mkdir -m 700 " .. S.shell_quote(private)) == 0)
-- A file of 0600 over 64 bytes.
local big_file = private .. "/big"
assert(S.execute("umask 077; seq 100 > " .. S.shell_quote(big_file)) == 0)
local cleanup = setmetatable({}, { __gc = function()   -- anchored below
  os.execute("rm -rf " .. S.shell_quote(private))
end })

local function units(page)
  local n = 0
  for hu in page:iter() do
    n = n + 1
    assert(type(soget.events_in_order(hu)) == "table")
  end
  return n
end

local scenarios = {
  { "a client made, its token fetched, closed", function()
    local c = S.client()
    local page = assert(c:handling_units{ reference = EXACT, exact = true })
    assert(#page.items == 1 and page.items[1].reference == EXACT)
    assert(c:stats().token_requests == 1)
    assert(tostring(c):find("soget.Client", 1, true))
    c:close()
  end },

  { "a lookup on a warm client (gzip, HTTPS)", function()
    local page = assert(warm:handling_units(EXACT))
    assert(units(page) == 1)
  end },

  { "a lookup over plain HTTP, identity body", function()
    local page = assert(plain:handling_units{ reference = PREFIX, limit = 10 })
    assert(#page.items == 10)
  end },

  { "a pager over three pages", function()
    local page = assert(warm:handling_units{ reference = PREFIX, limit = 10 })
    local n = 0
    for hu in page:iter{ max_items = 25 } do n = n + 1; assert(hu.reference) end
    assert(n == 25)
  end },

  { "an exact lookup walking the listing", function()
    -- 11 units begin with this reference: three pages of 5 read
    local page = assert(plain:handling_units{ reference = "SOGET LOT 7", exact = true, limit = 5 })
    assert(#page.items >= 1)
    for _, hu in ipairs(page.items) do assert(hu.reference:upper() == "SOGET LOT 7") end
  end },

  { "a search, and its pager", function()
    local page = assert(warm:handling_units_search(BL))
    assert(units(page) == 3)
  end },

  { "a batch of lookups and a search", function()
    local results, counts = warm:handling_units_many({
      EXACT, { reference = PREFIX, limit = 3 }, { search = BL }, "ZZZZ0000000",
    }, { concurrency = 2 })
    assert(counts.ok == 4, "a batch's lookup failed")
    assert(#results[1].items == 1 and #results[2].items == 3 and #results[4].items == 0)
  end },

  { "errors: not found, a 503 retried, a 500, a refused key", function()
    local page = assert(warm:handling_units{ reference = "ZZZZ0000000" })
    assert(#page.items == 0)
    local c = S.client{ base_url = S.fault_base("500"), retries = 0 }
    local p, err = c:handling_units(EXACT)
    assert(p == nil and err.kind == "http" and err.status == 500)
    assert(tostring(err):find("500", 1, true))
    c:close()
    c = S.client{ base_url = S.fault_base("503-then-ok:n=1:id=" .. S.uid("oom")) }
    assert(c:handling_units(EXACT))
    assert(c:stats().retries == 1)
    c:close()
    c = S.client{ api_key = "wrong-key" }
    p, err = c:handling_units(EXACT)
    assert(p == nil and err.kind == "auth", "a wrong key is not an auth error")
    c:close()
  end },

  { "a token renewed after the server revokes it", function()
    local c = S.client{ base_url = S.fault_base("expire-token:after=1:id=" .. S.uid("oomexp")) }
    assert(c:handling_units(EXACT))
    assert(c:handling_units(EXACT))
    assert(c:stats().token_requests == 2)
    c:close()
  end },

  { "tokens shared between clients", function()
    local token, left = assert(warm:token())
    local c = S.client{ client_secret = "not-used" }
    c:set_token(token, left)
    assert(c:token{ fetch = false } == token)
    assert(c:handling_units(EXACT))
    assert(c:stats().token_requests == 0)
    c:close()
  end },

  { "decode: a page, a schema error, a broken body, libyajl", function()
    local page = assert(soget.decode(body))
    assert(#page.items == 3)
    local p, err = soget.decode(bad_schema)
    assert(p == nil and err.kind == "decode" and tostring(err):find("eventDate", 1, true))
    p, err = soget.decode(broken)
    assert(p == nil and err.kind == "decode")
    page = assert(soget.decode(body, { parser = "yajl" }))
    assert(#page.items == 3)
  end },

  { "encode: a page and a unit", function()
    local page = assert(soget.decode(body))
    local s = soget.encode(page)
    assert(soget.decode(s).returned == 3)
    assert(#soget.encode(page.items[1], "unit") > 100)
  end },

  { "a soget.Call driven by hand", function()
    local call = warm:begin{ reference = PREFIX, limit = 3 }
    local req = assert(call:request())
    assert(req.kind == "api" and req.headers)
    local page = assert(call:response(200, body))
    assert(#page.items == 3)
    call:close()
    call = plain:begin{ reference = PREFIX, limit = 3 }
    local r = assert(call:request_bytes("oom/1"))
    assert(r.bytes:find("GET ", 1, true) == 1)
    local parser = soget.http_parser()
    assert(parser:feed("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
      .. #body .. "\r\n\r\n" .. body) == "done")
    local status, b = parser:response()
    page = assert(call:response(status, b))
    assert(#page.items == 3)
    call:close()
    call = warm:begin(EXACT)
    assert(call:request())
    local p, err, wait = call:failed("connection refused")   -- retried, or over
    assert(p == nil and (err ~= nil or wait ~= nil))
    call:close()
  end },

  { "an exact lookup and a search through soget.Call", function()
    local call = plain:begin{ reference = "SOGET LOT 7", exact = true, limit = 5 }
    local page
    for _ = 1, 10 do
      local req = assert(call:request())
      local out = S.popen_read("curl -sS --max-time 10 -H " .. S.shell_quote("Authorization: "
        .. req.headers.Authorization) .. " -H " .. S.shell_quote("Ocp-Apim-Subscription-Key: "
        .. req.headers["Ocp-Apim-Subscription-Key"]) .. " " .. S.shell_quote(req.url) .. " 2>/dev/null")
      local p, err, wait = call:response(200, out)
      assert(p or (err == nil and wait == 0), "the walk did not go on")
      if p then page = p break end
    end
    assert(page and #page.items >= 1)
    call:close()
    call = warm:begin{ search = { documentReference = BL, limit = 2 } }
    local req = assert(call:request())
    assert(req.url:find("documentReference=" .. BL, 1, true))
    call:close()
  end },

  { "the default client (from the environment)", function()
    local page = assert(soget.handling_units("CGMU2436601"))
    assert(#page.items == 1)
    page = assert(soget.handling_units_search(BL))
    assert(#page.items == 3)
  end },

  { "a manual pager fed by hand", function()
    local page = assert(soget.decode(body))
    local it = page:iter{ manual = true, max_items = 5 }
    local n = 0
    while true do
      local hu, need, offset = it:next()
      if hu then n = n + 1
      elseif need == "fetch" then
        local more = assert(warm:handling_units{ reference = PREFIX, limit = 3, offset = offset })
        it:feed(more, offset)
      else break end
    end
    assert(n == 5)
    it:close()
  end },

  { "the command's private files: a folder, a write, two reads", function()
    local pf = soget._privfile
    local path = private .. "/cache/token"
    assert(pf.dir(private .. "/cache"))
    assert(pf.write(path, "token " .. EXACT))
    assert(pf.read(path, 4096) == "token " .. EXACT)
    local text, mode = pf.read_config(path, 4096)
    assert(text == "token " .. EXACT and mode == 384)   -- 0600
    local none, why, missing = pf.read(private .. "/cache/none", 4096)
    assert(none == nil and why and missing == "missing")
    none, why = pf.read(big_file, 64)
    assert(none == nil and why:find("larger than 64 bytes", 1, true))
    none, why = pf.read_config(big_file, 64)
    assert(none == nil and why:find("larger than 64 bytes", 1, true))
    assert(#pf.digest(path) == 64)
  end },

  { "the module's helpers", function()
    assert(soget.printable("a\27[31mb\226\128\174c"):find("\\", 1, true))
    assert(soget.check_container_number("CSQU3054383"))
    assert(not soget.check_container_number("CSQU3054384"))
    assert(soget.check_query{ reference = EXACT })
    assert(soget.check_query{ search = { documentReference = BL } })
    assert(not soget.check_query{ reference = 5 })
  end },
}

-- SOGET_OOM_ONLY=text: the scenarios whose name holds text.
local only, chosen = os.getenv("SOGET_OOM_ONLY"), {}
for _, sc in ipairs(scenarios) do
  if not only or sc[1]:find(only, 1, true) then chosen[#chosen + 1] = sc end
end
chosen.cleanup = cleanup   -- the folder lives as long as the scenarios
return chosen
