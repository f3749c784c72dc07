-- What a hostile server or a careless script can send into the module:
-- error values that stay printable and well defined, secrets scrubbed in
-- every form soget sends them, URLs checked when the client is made, one
-- redirect rule for every driver, size limits reported as size limits.
local soget = require "soget"
local S = require "support"

local ESC = "\27"

-- A call whose next response is for the API (a static token: no token step).
local function api_call(c, q)
  local call = c:begin(q or "CGMU2436601")
  local rq = assert(call:request())
  assert.are.equal("api", rq.kind)
  return call, rq
end

describe("tostring(err)", function()
  local function an_error()
    local c = S.client{ access_token = "a-static-token" }
    local call = api_call(c)
    local page, err = call:response(500, '{"code":"X1","message":"boom"}')
    assert.is_nil(page)
    c:close()
    return err
  end

  it("never trusts the fields a script can change", function()
    for _, v in ipairs{ 0 / 0, 1e300, -1e300, math.huge, -math.huge, -1, 0, 1000, 404.5 } do
      local err = an_error()
      err.status = v
      local s = tostring(err)
      assert.is_nil(s:find("HTTP", 1, true), s)
      assert.truthy(s:find("boom", 1, true), s)
    end
    local err = an_error()
    err.status = 503
    assert.truthy(tostring(err):find("(HTTP 503, X1)", 1, true), tostring(err))
    err.status, err.kind, err.message, err.code = "503", {}, 42, true
    assert.are.equal("soget: error: ", tostring(err))
  end)

  it("reads the fields without running a script's metamethods", function()
    local err = an_error()
    local mt = getmetatable(err)
    local trap = setmetatable({}, { __index = function() error("metamethod ran") end })
    err.status, err.code = nil, nil
    setmetatable(err, { __index = trap, __tostring = mt.__tostring })
    assert.are.equal("soget: http: boom", tostring(err))
  end)
end)

describe("err == other", function()
  it("compares two errors by kind, status and code; a table that is no error is never equal", function()
    local _, a = soget.decode("{}")
    local _, b = soget.decode("[]")
    local _, c = soget.decode("{}", { parser = "yajl" })
    assert.is_true(a == b and a == c)   -- decode, no status, no code
    b.status = 500
    assert.is_false(a == b)
    -- Lua 5.3 and later call __eq when one side has it; 5.1, 5.2 and
    -- LuaJIT only when both share it: false everywhere
    local plain = { kind = "decode" }
    assert.is_false(a == plain)
    assert.is_false(plain == a)
    -- nor does the comparison run the other table's metamethods
    local trap = setmetatable({}, { __index = function() error("metamethod ran") end })
    assert.is_false(a == trap)
    assert.is_false(trap == a)
    -- fields read raw: an error whose fields sit behind __index is compared as it holds them
    local mt = getmetatable(a)
    local d = setmetatable({}, mt)
    assert.is_false(a == d)
    d.kind = "decode"
    assert.is_true(a == d)
  end)
end)

describe("a server's text in an error", function()
  it("is made printable: controls, C1, bidi and broken UTF-8 made visible", function()
    local c = S.client{ access_token = "a-static-token" }
    local evil = ESC .. "]0;pwned" .. "\7" .. ESC .. "]52;c;ZXZpbA==" .. "\7" ..
      ESC .. "[2J" .. ESC .. "[?1049h" .. "\r" .. "\226\128\174" .. "txt" ..
      "\194\155" .. "31m" .. "\255"
    local call = api_call(c)
    local _, err = call:response(400, '{"code":"R003\\u001b[1m","message":"' ..
      evil:gsub("[%c\128-\255]", function(ch)
        return ch:byte() < 32 and ("\\u%04x"):format(ch:byte()) or ch
      end) .. '"}')
    assert.are.equal("api", err.kind)
    for _, s in ipairs{ err.message, err.code, tostring(err) } do
      assert.is_nil(s:find("[%c\127]"), s)
      assert.is_nil(s:find("\226\128\174", 1, true), s)   -- U+202E
      assert.is_nil(s:find("\194\155", 1, true), s)       -- U+009B (CSI)
      assert.is_nil(s:find("\255", 1, true), s)
    end
    assert.truthy(err.message:find("\\x1b]0;pwned\\x07", 1, true), err.message)
    assert.truthy(err.message:find("\\u202etxt\\u009b31m\\xff", 1, true), err.message)
    assert.are.equal("R003\\x1b[1m", err.code)
    c:close()
  end)

  it("is made printable on the token endpoint's error too", function()
    local c = S.client()
    local call = c:begin("CGMU2436601")
    assert.are.equal("token", assert(call:request()).kind)
    local _, err = call:response(401, '{"error":"invalid_client\\u001b]8;;http://x\\u0007",' ..
      '"error_description":"bad\\rfake line"}')
    assert.are.equal("auth", err.kind)
    assert.is_nil(err.message:find("[%c]"), err.message)
    assert.truthy(err.message:find("invalid_client\\x1b]8;;http://x\\x07", 1, true), err.message)
    assert.truthy(err.message:find("bad\\rfake line", 1, true), err.message)
    c:close()
  end)
end)

describe("soget.printable", function()
  it("makes visible what could act on a terminal, and nothing else", function()
    local P = soget.printable
    assert.are.equal("plain ASCII, é, 集装箱 \\ and 🚢", P("plain ASCII, é, 集装箱 \\ and 🚢"))
    assert.are.equal("\\x1b]0;t\\x07\\x1b[2J\\r\\n\\t\\x00\\x7f", P("\27]0;t\7\27[2J\r\n\t\0\127"))
    assert.are.equal("\\u0085\\u009b\\u202e\\u2066\\u061c\\u200f\\u2028",
      P("\194\133\194\155\226\128\174\226\129\166\216\156\226\128\143\226\128\168"))
    assert.are.equal("\\xff\\xc0\\xaf\\xed\\xa0\\x80", P("\255\192\175\237\160\128"))
    -- what shows nothing of its own, and so could make a reference look
    -- like another: zero-width, format and tag characters
    assert.are.equal("CGMU\\u200b2436601\\u2060 M\\u00adT \\ufeffx D\\u200dS\\U000e0068",
      P("CGMU\226\128\1392436601\226\129\160 M\194\173T \239\187\191x D\226\128\141S\243\160\129\168"))
    assert.are.equal("a\n\tb\\r", P("a\n\tb\r", true))
    local once = P("\27[31mred\226\128\174")
    assert.are.equal(once, P(once))
    assert.has_error(function() P() end)
  end)
end)

describe("secrets echoed by a server", function()
  it("are scrubbed in the percent-encoded form the token request sends", function()
    local secret = "Abc+def/ghi=="
    local c = S.client{ client_secret = secret }
    local call = c:begin("CGMU2436601")
    local rq = assert(call:request())
    assert.are.equal("token", rq.kind)
    assert.truthy(rq.body:find("client_secret=Abc%2Bdef%2Fghi%3D%3D", 1, true), rq.body)
    local _, err = call:response(400, '{"error":"invalid_client","error_description":' ..
      '"got grant_type=client_credentials&client_secret=Abc%2Bdef%2Fghi%3D%3D and ' ..
      'client_secret=Abc%2bdef%2fghi%3d%3d (lower-case hex) and ' .. secret .. '"}')
    assert.are.equal("auth", err.kind)
    for _, s in ipairs{ err.message, tostring(err) } do
      assert.is_nil(s:find("Abc%2Bdef", 1, true), s)
      assert.is_nil(s:find("Abc%2b", 1, true), s)
      assert.is_nil(s:find(secret, 1, true), s)
    end
    assert.truthy(err.message:find("client_secret=*** and client_secret=*** (lower-case hex) and ***",
      1, true), err.message)
    c:close()
  end)

  it("are not made up by the escapes that make a message printable", function()
    -- "\255" shows as \xff: followed by "z-key-..." it would read "fz-key-..."
    local key = "fz-key-" .. S.uid("k")
    local c = S.client{ access_token = "a-static-token", api_key = key }
    local call = api_call(c)
    local _, err = call:response(400, '{"code":"R003","message":"bad \255' .. key:sub(2) .. '"}')
    assert.are.equal("api", err.kind)
    assert.is_nil(tostring(err):find(key, 1, true), tostring(err))
    assert.truthy(err.message:find("bad \\xf***", 1, true), err.message)
    c:close()
  end)

  it("are scrubbed from a message cut in the middle of the encoded form", function()
    local secret = "Abc+def/ghi==jkl"
    local c = S.client{ client_secret = secret }
    local call = c:begin("CGMU2436601")
    assert(call:request())
    local desc = string.rep("x", 220) .. "Abc%2Bdef%2Fghi%3D%3Djkl"
    local _, err = call:response(400, '{"error":"invalid_client","error_description":"' ..
      desc .. '"}')
    assert.is_nil(err.message:find("Abc%2B", 1, true), err.message)
    assert.truthy(err.message:find("***", 1, true), err.message)
    c:close()
  end)
end)

describe("client options", function()
  it("refuses a base_url or token_url that cannot be sent, when the client is made", function()
    for _, bad in ipairs{ "https://h.example/a\r\nX-Injected: 1", "https://h.example/a b",
                          "https://h.example/\0", "https://", "http://[::1" } do
      local ok, err = pcall(soget.client, S.options{ base_url = bad })
      assert.is_false(ok, bad)
      assert.truthy(tostring(err):find("base_url", 1, true), tostring(err))
      ok, err = pcall(soget.client, S.options{ token_url = bad })
      assert.is_false(ok, bad)
      assert.truthy(tostring(err):find("token_url", 1, true), tostring(err))
    end
  end)

  it("refuses a token longer than a header value may be", function()
    local big = string.rep("t", 65537)
    assert.has_error(function() soget.client(S.options{ access_token = big }) end)
    local c = S.client()
    assert.has_error(function() c:set_token(big, 60) end)
    c:set_token(string.rep("t", 65536), 60)
    c:close()
  end)
end)

describe("query values", function()
  it("count code points of valid UTF-8 and refuse invalid UTF-8", function()
    local c = S.client()
    -- 17 characters of two bytes each: allowed; 18: too long
    assert.has_no.errors(function() c:begin({ reference = string.rep("\195\169", 17) }) end)
    assert.has_error(function() c:begin({ reference = string.rep("\195\169", 18) }) end)
    for _, bad in ipairs{ "ABC\128\128\128\128\128\128\128\128\128\128\128\128\128\128\128\128\128\128",
                          "\192\175", "\237\160\128", "\244\144\128\128", "AB\255" } do
      local ok, err = pcall(c.handling_units, c, { reference = bad })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("not valid UTF-8", 1, true), tostring(err))
      ok, err = pcall(c.handling_units, c, { spi = bad })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("not valid UTF-8", 1, true), tostring(err))
    end
    c:close()
  end)
end)

describe("redirects", function()
  it("follow one rule in every driver: a relative Location resolves against the request", function()
    local c = S.client{ access_token = "a-static-token" }
    local call, rq = api_call(c)
    local page, err, wait = call:response(307, "", nil, "/elsewhere/handling-units?reference=X")
    assert.is_nil(page, tostring(err))
    assert.is_nil(err)
    assert.are.equal(0, wait)
    local rq2 = assert(call:request())
    local origin = rq.url:match("^(https?://[^/]+)")
    assert.are.equal(origin .. "/elsewhere/handling-units?reference=X", rq2.url)
    -- a relative path without a leading slash, and a scheme-relative one
    call = api_call(c)
    assert.is_nil((call:response(302, "", nil, "other?x=1")))
    assert.truthy(assert(call:request()).url:find("/api-tracing-code/v1/other?x=1", 1, true))
    call = api_call(c)
    local _, e2 = call:response(302, "", nil, "//evil.example/steal")
    assert.are.equal("http", e2.kind)
    assert.truthy(e2.message:find("another host", 1, true), e2.message)
    c:close()
  end)

  it("follow a relative Location over a real connection with the blocking client", function()
    -- Location: /./api-tracing-code/v1/handling-units?reference=... (the
    -- path after the fault prefix, kept): relative, with a dot segment
    S.reset()
    local c = S.client{ base_url = S.fault_base("redirect:to=%2F.:keep=path") }
    local page, err = c:handling_units("CGMU2436601")
    assert.is_table(page, tostring(err))
    assert.are.equal(1, page.total)
    assert.are.equal(2, S.stats().api_requests)
    c:close()
  end)
end)

describe("size limits", function()
  it("a huge Retry-After is reported as such, not as an overflowed number", function()
    local c = S.client{ access_token = "a-static-token", retries = 0 }
    for _, ra in ipairs{ "99999999999999999999999", "9223372036854775808", "Fri, 31 Dec 9999 23:59:59 GMT" } do
      local call = api_call(c)
      local _, err = call:response(503, '{"message":"later"}', ra)
      assert.are.equal("http", err.kind)
      assert.is_nil(err.message:find("922337", 1, true), err.message)
      assert.truthy(err.message:find("Retry-After of a day or more", 1, true), err.message)
    end
    c:close()
  end)

  it("a 2 MB response header is a size limit, not out of memory, and not retried", function()
    S.reset()
    -- over HTTP/1.1: nginx itself cannot send such a header over HTTP/2
    local c = S.client{ base_url = S.fault_base("big-header:bytes=2000000", "http") }
    assert(c:token())
    local page, err = c:handling_units("CGMU2436601")
    assert.is_nil(page)
    assert.are.equal("http", err.kind)
    assert.is_false(err.retryable)
    assert.truthy(err.message:find("headers are larger than", 1, true), err.message)
    assert.are.equal(1, S.stats().api_requests)
    c:close()
  end)

  it("a large response header under libcurl's limit, over HTTP/2 with gzip: the page", function()
    -- libcurl 7.88 stalled on a header larger than its receive buffer
    -- (16 KB by default) with a compressed body over HTTP/2, until the
    -- call timed out, and with a buffer of 100 KB (libcurl's longest line)
    -- on lines from about 101 KB: the buffer is now 120 KB
    S.reset()
    for _, bytes in ipairs { 20000, 60000, 100000, 101000, 102000, 102300 } do
      local c = S.client{ base_url = S.fault_base("big-header:bytes=" .. bytes), timeout = 10,
                          retries = 0 }
      local page, err = c:handling_units("CGMU2436601")
      assert.truthy(page, bytes .. ": " .. tostring(err))
      assert.are.equal("CGMU2436601", page.items[1].reference)
      local results = c:handling_units_many({ "CGMU2436601", "CGMU2436601" })
      for i = 1, 2 do assert.are.equal(1, results[i].total, bytes .. ": " .. tostring(results[i])) end
      c:close()
    end
    assert.are.equal(18, S.stats().api_requests)
  end)

  it("a 5 MB token is a size limit, not out of memory, and is never sent", function()
    S.reset()
    local c = S.client{ token_url = S.fault_token("big-token:bytes=5000000") }
    local page, err = c:handling_units("CGMU2436601")
    assert.is_nil(page)
    assert.are.equal("http", err.kind)
    assert.is_false(err.retryable)
    assert.truthy(err.message:find("larger than 65536 bytes", 1, true), err.message)
    local tok, terr = c:token()
    assert.is_nil(tok)
    assert.are.equal("http", terr.kind)
    assert.are.equal(0, S.stats().api_requests)
    c:close()
  end)
end)

describe("option and query names", function()
  it("are compared by length and bytes: a name with a NUL inside is unknown", function()
    assert.has_error(function() soget.client(S.options{ ["timeout\0x"] = 1 }) end)
    local c = S.client()
    assert.has_error(function() c:handling_units{ ["reference\0x"] = "CGMU2436601", spi = "X" } end)
    assert.has_error(function() c:handling_units_many({ "CGMU2436601" }, { ["concurrency\0"] = 2 }) end)
    local page = assert(c:handling_units("CGMU2436601"))
    assert.has_error(function() page:iter{ ["max_items\0"] = 1 } end)
    c:close()
  end)
end)
