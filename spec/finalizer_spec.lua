-- Lua code runs in the middle of a call: any allocation the page builder,
-- the token step or a batch makes can run a pending finalizer, and a
-- finalizer can call anything, client:close() included. The call in flight
-- must finish (close() takes effect after it), and a nested call on the
-- same client must be refused cleanly; never freed memory under a running
-- call (make test-asan and make test-valgrind run these too).
local S = require "support"
local soget = require "soget"

-- An object whose finalizer runs fn (a table on 5.2+, a proxy on 5.1/LuaJIT).
local function on_gc(fn)
  if _VERSION == "Lua 5.1" then
    local p = newproxy(true)
    getmetatable(p).__gc = function() fn() end
    return p
  end
  return setmetatable({}, { __gc = function() fn() end })
end

-- Runs fn from a finalizer inside the call that follows: a call hook drops
-- the finalizer's object and runs a full collection at the k-th C function
-- called (pcall, the method, then what soget calls from C: the page
-- builder, lua-cjson...). Lua 5.2+ run the finalizer during that
-- collection. Lua 5.1 and LuaJIT run it at a later step: the hook also
-- makes the collector run a whole cycle at nearly every allocation (the
-- next cycle due at once, one step doing a whole cycle's work), so it runs
-- at the next allocation, while the body is parsed. Returns a table whose
-- field ran is set once fn has run; call its disarm() after the call.
local function after_cycles(k, fn)
  local state = {}
  local holder = { on_gc(function() state.ran = true; fn() end) }   -- luacheck: ignore 241 (the sentinel held until let go)
  local calls, pause, mul = 0, nil, nil
  k = 1 + k % 6
  debug.sethook(function()
    if debug.getinfo(2, "S").what == "C" then
      calls = calls + 1
      if calls >= k + 2 then   -- past pcall and the method itself
        debug.sethook()
        holder[1] = nil
        collectgarbage()
        if _VERSION == "Lua 5.1" then
          pause = collectgarbage("setpause", 0)
          mul = collectgarbage("setstepmul", 10000000)
        end
      end
    end
  end, "c")
  state.disarm = function()
    debug.sethook()
    holder[1] = nil
    if pause then
      collectgarbage("setpause", pause)
      collectgarbage("setstepmul", mul)
      pause = nil
    end
  end
  return state
end

local function closed(c) return tostring(c):find("closed", 1, true) ~= nil end

local function is_page(p)
  return type(p) == "table" and type(p.items) == "table" and type(p.total) == "number"
end

-- close(), or __gc called by a script (getmetatable gives it) amid the
-- call: the same, never freed memory under the running call.
local SHUT = {
  { "close()", function(o) o:close() end },
  { "its __gc", function(o) getmetatable(o).__gc(o) end },
  -- (a coroutine's own stack shows no call below the __gc: still amid one)
  -- (Lua 5.1 wraps Lua functions only: there a frame of one lies below)
  { "its __gc in a coroutine", function(o)
    local gc = getmetatable(o).__gc
    coroutine.wrap(_VERSION == "Lua 5.1" and function(x) gc(x) end or gc)(o)
  end },
}

for _, way in ipairs(SHUT) do
local how, shut = way[1], way[2]
describe("a finalizer that closes the client mid-call, by " .. how, function()
  it("lets a lookup finish, then closes", function()
    local mid = 0
    do
      for k = 1, 40 do
        local c = S.client()
        assert(c:token())
        local st = after_cycles(k, function() shut(c) end)
        local ok, page, err = pcall(c.handling_units, c, { reference = "MSCU", limit = 10 })
        st.disarm()
        if ok and st.ran then
          assert.is_true(is_page(page), tostring(err))
          assert.are.equal(10, #page.items)
          for _, hu in ipairs(page.items) do
            assert.are.equal("table", type(hu.events))
            assert.are.equal("string", type(hu.pswId))
          end
          assert.is_true(closed(c))
          mid = mid + 1
        elseif not ok then
          -- the finalizer ran before the call began: a closed client raises
          assert.truthy(tostring(page):find("closed client", 1, true), tostring(page))
        end
        c:close()
      end
    end
    assert.truthy(mid > 0, "no finalizer ran in the middle of a lookup")
  end)

  it("lets a token fetch finish, then closes (the next step needs the API key)", function()
    local mid = 0
    do
      for k = 1, 40 do
        local c = S.client()
        local st = after_cycles(k, function() shut(c) end)
        local ok, page = pcall(c.handling_units, c, "CGMU2436601")
        st.disarm()
        if ok and st.ran then
          assert.is_true(is_page(page), tostring(page))
          assert.are.equal(1, page.total)
          mid = mid + 1
        elseif not ok then
          assert.truthy(tostring(page):find("closed client", 1, true), tostring(page))
        end
        c:close()
      end
    end
    -- On 5.1/LuaJIT the finalizer chain lands in the page decode's many
    -- allocations, rarely in the token step's few: the lookup case above
    -- covers them there.
    if _VERSION ~= "Lua 5.1" then
      assert.truthy(mid > 0, "no finalizer ran in the middle of a call")
    end
  end)

  it("lets client:token() finish, then closes", function()
    do
      for k = 1, 40 do
        local c = S.client()
        local st = after_cycles(k, function() shut(c) end)
        local ok, tok, left = pcall(c.token, c)
        st.disarm()
        if ok then
          assert.are.equal("string", type(tok))
          assert.truthy(#tok > 0)
          assert.are.equal("number", type(left))
        else
          assert.truthy(tostring(tok):find("closed client", 1, true), tostring(tok))
        end
        c:close()
      end
    end
  end)

  it("ends a pager's walk cleanly when a service object closes its client", function()
    do
      for _ = 1, 20 do
        local c = S.client()
        local service = { client = c }
        setmetatable(service, { __gc = function(s) shut(s.client) end })
        if _VERSION == "Lua 5.1" then service.proxy = on_gc(function() shut(c) end) end
        local page = assert(c:handling_units{ reference = "MSCU", limit = 10 })
        local it = page:iter{ max_pages = 5 }
        service = nil   -- luacheck: ignore 311 (let go, for the collector)
        local n = 0
        local ok, err = pcall(function()
          for hu in it do
            n = n + 1
            assert.are.equal("table", type(hu.events))
          end
        end)
        if not ok then
          assert.truthy(tostring(err):find("closed client", 1, true), tostring(err))
        end
        -- every page fetched before the close is whole
        assert.are.equal(0, n % 10)
        c:close()
      end
    end
  end)

  it("lets a batch finish, then closes (the pool outlives the batch)", function()
    local mid = 0
    do
      for k = 1, 40 do
        local c = S.client()
        assert(c:token())
        local queries = { "CGMU2436601", { reference = "MSCU", limit = 10 }, "CGMU2436601" }
        local st = after_cycles(k, function() shut(c) end)
        local ok, results, sum = pcall(c.handling_units_many, c, queries, { concurrency = 3 })
        st.disarm()
        if ok and st.ran then
          assert.are.equal(3, sum.ok, tostring(results[1]))
          assert.are.equal(10, #results[2].items)
          assert.is_true(closed(c))
          mid = mid + 1
        elseif not ok then
          assert.truthy(tostring(results):find("closed client", 1, true), tostring(results))
        end
        c:close()
      end
    end
    assert.truthy(mid > 0, "no finalizer ran in the middle of a batch")
  end)

  it("lets a soget.Call step finish, then closes", function()
    local mid = 0
    local body = S.read_file("spec/fixtures/page.json")
    do
      for k = 1, 40 do
        local c = S.client{ access_token = "a-static-token" }
        local call = c:begin("CGMU2436601")
        local rq = assert(call:request())
        assert.are.equal("api", rq.kind)
        local st = after_cycles(k, function() shut(c) end)
        local ok, page = pcall(call.response, call, 200, body)
        st.disarm()
        if ok then
          assert.is_true(is_page(page), tostring(page))
          if st.ran then mid = mid + 1 end
        else
          assert.truthy(tostring(page):find("closed client", 1, true), tostring(page))
        end
        c:close()
      end
    end
    if _VERSION ~= "Lua 5.1" then   -- see the token case
      assert.truthy(mid > 0, "no finalizer ran in the middle of a step")
    end
  end)
end)
end

describe("a finalizer that calls the client again mid-call", function()
  it("is refused with a clear error and the outer call finishes", function()
    local refused = 0
    do
      for k = 1, 40 do
        local c = S.client()
        assert(c:token())
        local inner
        local st = after_cycles(k, function()
          local ok, err = pcall(c.handling_units, c, "CGMU2436601")
          inner = ok and "ran" or tostring(err)
        end)
        local ok, page = pcall(c.handling_units, c, { reference = "MSCU", limit = 10 })
        st.disarm()
        assert.is_true(ok, tostring(page))
        assert.is_table(page)
        assert.are.equal(10, #page.items)
        if inner and inner ~= "ran" then
          assert.truthy(inner:find("in the middle of a call", 1, true), inner)
          refused = refused + 1
        end
        c:close()
      end
    end
    assert.truthy(refused > 0, "no finalizer ran in the middle of a call")
  end)
end)

-- Runs step() with fin armed to run from a finalizer: the object is
-- dropped and the collector set to run a whole cycle at nearly every
-- allocation, so fin runs at the next one (Lua 5.1 may run it before
-- step() begins). Returns whether fin ran while step() ran, then pcall's
-- results in a table.
local function amid(fin, step)
  local inside, during = false, false
  local holder = { on_gc(function()   -- luacheck: ignore 241 (the sentinel held until let go)
    during = inside
    fin()
  end) }
  local restore
  if _VERSION == "Lua 5.4" then
    collectgarbage("incremental", 1, 1000, 0)
    restore = function() collectgarbage("incremental", 200, 100, 13) end
  else
    local pause = collectgarbage("setpause", 0)
    local mul = collectgarbage("setstepmul", 1000000)
    restore = function()
      collectgarbage("setpause", pause)
      collectgarbage("setstepmul", mul)
    end
  end
  local function done(...)
    inside = false
    return { n = select("#", ...), ... }
  end
  collectgarbage()
  holder[1] = nil
  inside = true
  local r = done(pcall(step))
  restore()
  collectgarbage()   -- fin has run, inside or after
  return during, r
end

describe("a finalizer that changes the token while a soget.Call step copies the request out", function()
  local old, new = "a-static-token-0001", "a-new-token-0002-longer-than-the-first-one"
  -- step(call) -> the request; auth_of, key_of, accept_of(rq) -> its
  -- Authorization, API key and Accept lines' values
  local function run(name, step, auth_of, key_of, accept_of)
    local mid = 0
    for _ = 1, 20 do
      local c = S.client{ access_token = old }
      local call = c:begin("CGMU2436601")
      -- at the first allocation the step makes, after it chose the request
      local during, r = amid(function() c:set_token(new, 100) end,
        function() return step(call) end)
      local rq = r[2]
      assert.is_true(r[1], tostring(rq))
      -- The old token when the finalizer ran after the step chose the
      -- request, the new one when it ran before (Lua 5.1 may run it at an
      -- allocation of the method's own start): whole either way.
      local auth = auth_of(rq)
      assert.truthy(auth == "Bearer " .. old or auth == "Bearer " .. new, tostring(auth))
      assert.are.equal(S.api_key, key_of(rq))
      assert.are.equal("application/json", accept_of(rq))
      assert.are.equal("api", rq.kind)
      if during and auth == "Bearer " .. old then mid = mid + 1 end
      call:close()
      -- the next step carries the new token
      assert.are.equal("Bearer " .. new, auth_of(assert(step(c:begin("CGMU2436601")))))
      c:close()
    end
    -- Not vacuous where the collector reliably runs it there: 5.3 and 5.4
    -- (5.1 may run it at the method's own start, 5.2 sometimes only after
    -- the step returns; both cases are checked above all the same).
    if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
      assert.truthy(mid > 0, "no finalizer ran in the middle of " .. name .. "()")
    end
  end

  it("request(): the request with the lines its step chose", function()
    run("request", function(call) return call:request() end,
      function(rq) return rq.headers.Authorization end,
      function(rq) return rq.headers["Ocp-Apim-Subscription-Key"] end,
      function(rq) return rq.headers.Accept end)
  end)

  it("request_bytes(): the bytes with the lines its step chose, written whole", function()
    local function line(rq, name)
      assert.truthy(rq.bytes:find("\r\n\r\n$"), rq.bytes)
      return rq.bytes:match("\r\n" .. name .. ": ([^\r\n]*)\r\n")
    end
    run("request_bytes", function(call) return call:request_bytes("driver/1") end,
      function(rq) return line(rq, "Authorization") end,
      function(rq) return line(rq, "Ocp%-Apim%-Subscription%-Key") end,
      function(rq) return line(rq, "Accept") end)
  end)
end)

for _, way in ipairs(SHUT) do
local how, shut = way[1], way[2]
describe("a finalizer that closes a soget.Call amid one of its own steps, by " .. how, function()
  -- Each step reads the call's buffers (its URL, header lines, token
  -- request) between allocations; Lua 5.1 and LuaJIT collect even before
  -- they copy a string. The close waits for the step: its answer is whole,
  -- then the call is over (make test-asan and test-valgrind run this too).
  local PAGE = '{"total":1,"returned":1,"first":0,"items":[{"reference":"CGMU2436601",'
    .. '"pswId":"CNI0000063978"}]}'
  local ARGS = { request = {}, request_bytes = { "driver/1" }, response = { 200, PAGE },
    failed = { "refused", "tls", false } }
  local unpack = table.unpack or unpack
  local function run(step, check, anywhere)
    local mid = 0
    for _ = 1, 20 do
      local c = S.client{ access_token = "a-static-token-0001" }
      local call = c:begin("CGMU2436601")
      if step == "response" or step == "failed" then assert(call:request()) end
      local args = ARGS[step]
      local during, r = amid(function() shut(call) end,
        function() return call[step](call, unpack(args)) end)
      if r[1] then
        check(r[2], r[3])
        if during then mid = mid + 1 end
      else   -- it ran before the step began: the call was over already
        assert.truthy(tostring(r[2]):find("on a call that is over", 1, true), tostring(r[2]))
      end
      assert.are.equal("soget.Call (done)", tostring(call))
      assert.has_error(function() call:request() end, "soget.Call: request() on a call that is over")
      c:close()
    end
    -- (failed() allocates its answer only: the finalizer may run after it)
    if not anywhere and (_VERSION == "Lua 5.3" or _VERSION == "Lua 5.4") then
      assert.truthy(mid > 0, "no finalizer ran in the middle of " .. step .. "()")
    end
  end

  it("request(): the request whole, then the call over", function()
    run("request", function(rq)
      assert.are.equal(S.base_url .. "/handling-units?reference=CGMU2436601", rq.url)
      assert.are.equal("Bearer a-static-token-0001", rq.headers.Authorization)
      assert.are.equal(S.api_key, rq.headers["Ocp-Apim-Subscription-Key"])
    end)
  end)

  it("request_bytes(): the bytes whole, then the call over", function()
    run("request_bytes", function(rq)
      assert.are.equal(S.base_url .. "/handling-units?reference=CGMU2436601", rq.url)
      assert.truthy(rq.bytes:find("\r\nAuthorization: Bearer a-static-token-0001\r\n", 1, true))
      assert.truthy(rq.bytes:find("\r\n\r\n$"))
    end)
  end)

  it("response(): the page whole, then the call over", function()
    run("response", function(page)
      assert.are.equal(1, page.total)
      assert.are.equal("CNI0000063978", page.items[1].pswId)
    end)
  end)

  it("failed(): its answer whole, then the call over", function()
    run("failed", function(page, err)
      assert.is_nil(page)
      assert.are.equal("tls", err.kind)
      assert.are.equal("refused", err.message)
    end, true)
  end)
end)
end

-- A client with a static token and a call of it; fin(call, c) runs from a
-- finalizer amid step(call) (see amid). Returns the client, the call, amid's
-- results and what fin returned.
local function call_amid(fin, step)
  local c = S.client{ access_token = "a-static-token-0001" }
  local call = c:begin("CGMU2436601")
  local nested
  local during, r = amid(function() nested = fin(call, c) end, function() return step(call) end)
  return c, call, during, r, nested
end

describe("a finalizer that steps the same soget.Call, then closes its client, amid a step", function()
  it("is refused, and the step finishes before the client closes", function()
    local mid = 0
    for _ = 1, 20 do
      local c, call, during, r, nested = call_amid(function(call, c)
        local answer = { pcall(call.request, call) }
        c:close()
        return answer
      end, function(call) return call:request_bytes("driver/1") end)
      assert.truthy(nested, "the finalizer did not run")
      if during and r[1] then
        mid = mid + 1
        -- the nested step: out of turn (a request is out), or refused on the
        -- closing client; never a second request
        assert.is_false(nested[1])
        assert.truthy(r[2].bytes:find("\r\nAuthorization: Bearer a-static-token-0001\r\n", 1, true))
      end
      assert.truthy(tostring(c):find("closed", 1, true), tostring(c))
      call:close()
    end
    if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
      assert.truthy(mid > 0, "no finalizer ran in the middle of request_bytes()")
    end
  end)
end)

describe("a finalizer that answers the same soget.Call amid its request step", function()
  -- The nested response() would follow a redirect, freeing the URL the
  -- running step is copying out; an exact lookup's next page or a
  -- renewed request would rebuild its header lines so. Refused: the steps
  -- come in turn.
  local function run(step, url_of)
    local mid = 0
    for _ = 1, 20 do
      local c, call, during, r, nested = call_amid(function(call)
        return { pcall(call.response, call, 302, "", nil,
          "/api-tracing-code/v1/handling-units?reference=" .. ("X"):rep(200)) }
      end, step)
      assert.truthy(nested, "the finalizer did not run")
      local after = false
      if nested[2] == "soget.Call: response() amid another step of the same call "
          .. "(a finalizer or a hook stepping it)" then
        assert.is_true(during)
        mid = mid + 1
      elseif nested[1] then
        -- run once the step had returned (Lua 5.2 may): in turn, the
        -- redirect followed (ask for the next request at once)
        assert.are.same({ true, nil, nil, 0 }, { nested[1], nested[2], nested[3], nested[4] })
        after = true
      else   -- run before the step began (Lua 5.1 may): out of turn
        assert.are.equal("soget.Call: response() with no request out (call request() first)",
          nested[2])
      end
      assert.is_true(r[1], tostring(r[2]))
      assert.are.equal(S.base_url .. "/handling-units?reference=CGMU2436601", url_of(r[2]))
      if not after then
        -- the call goes on: its request is out, its answer comes in turn
        local page = assert(call:response(200, '{"total":0,"returned":0,"first":0,"items":[]}'))
        assert.are.equal(0, page.total)
      end
      call:close()
      c:close()
    end
    if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
      assert.truthy(mid > 0, "no finalizer ran in the middle of the step")
    end
  end

  it("request(): refused, and the request whole", function()
    run(function(call) return call:request() end, function(rq) return rq.url end)
  end)

  it("request_bytes(): refused, and the bytes whole", function()
    run(function(call) return call:request_bytes("driver/1") end, function(rq)
      assert.truthy(rq.bytes:find("\r\nAuthorization: Bearer a-static-token-0001\r\n", 1, true))
      return rq.url
    end)
  end)
end)

describe("a finalizer that replaces the token while client:token() copies it out", function()
  -- set_token() frees the token the client held; Lua 5.1 and LuaJIT
  -- collect before they copy a string, so a token pushed from the
  -- client's own memory would be read after it was freed.
  local old = "a-static-token-" .. ("0"):rep(40)
  local new = "a-new-token-9999"
  local function run(opts)
    local ran = 0
    for k = 0, 5 do
      for _ = 1, 5 do
        local c = S.client{ access_token = old }
        local st = after_cycles(k, function() c:set_token(new, 100) end)
        local ok, tok = pcall(c.token, c, opts)
        st.disarm()
        collectgarbage()
        assert.is_true(ok, tostring(tok))
        -- the token before or after, whole; never freed bytes
        assert.truthy(tok == old or tok == new, tok)
        if st.ran then ran = ran + 1 end
        assert.are.equal(new, (c:token(opts)))
        c:close()
      end
    end
    assert.truthy(ran > 0, "the finalizer never ran")
  end

  it("token(): one token whole", function() run(nil) end)
  it("token{fetch = false}: one token whole", function() run({ fetch = false }) end)
end)

describe("a finalizer that calls response() again, then closes the parser, while response() answers", function()
  -- The nested response() must not let close() free the buffers under the
  -- first one. Run in a process of its own: there the 100 KB body's buffer
  -- is glibc's own mapping, which a free gives back to the system, so a
  -- read after it faults (in this process, which has freed such buffers
  -- before, glibc keeps them in its heap, and a stale read goes unseen).
  it("answers what it had read, in both calls", function()
    local script = os.tmpname()
    S.write_file(script, [==[
      package.cpath = ... .. "/?.so;" .. package.cpath
      local soget = require "soget"
      -- (as on_gc above: a proxy where tables have no __gc)
      local on_gc = newproxy
        and function(fn) local p = newproxy(true); getmetatable(p).__gc = fn; return p end
        or function(fn) return setmetatable({}, { __gc = fn }) end
      local body = ("B"):rep(100000)
      local answer = "HTTP/1.1 200 OK\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
      local whole, nested_whole, ran = 0, 0, 0
      for _ = 1, 20 do
        local p = soget.http_parser()
        assert(p:feed(answer) == "done")
        local nested
        local holder = { on_gc(function()
          nested = { pcall(p.response, p) }
          p:close()
        end) }
        if _VERSION == "Lua 5.4" then collectgarbage("incremental", 1, 1000, 0)
        else collectgarbage("setpause", 0); collectgarbage("setstepmul", 1000000) end
        collectgarbage()
        holder[1] = nil
        local ok, status, b = pcall(p.response, p)
        if _VERSION == "Lua 5.4" then collectgarbage("incremental", 200, 100, 13)
        else collectgarbage("setpause", 200); collectgarbage("setstepmul", 200) end
        collectgarbage()
        if nested then ran = ran + 1 end
        if ok and status == 200 and b == body then whole = whole + 1 end
        if nested and nested[1] and nested[3] == body then nested_whole = nested_whole + 1 end
        if not ok then assert(tostring(status):find("used after close()", 1, true), status) end
      end
      io.write(whole, " ", nested_whole, " ", ran, "\n")
    ]==])
    local out = S.popen_read(("%s %s %s 2>&1; echo \"exit $?\""):format(S.lua, script,
      os.getenv("SOGET_MODULE_DIR") or "build/lua5.4"))
    os.remove(script)
    local whole, nested_whole, ran, code = out:match("^(%d+) (%d+) (%d+)\nexit (%d+)\n$")
    assert.truthy(code, out)
    assert.are.equal("0", code, out)
    assert.are.equal("20", ran, out)             -- the finalizer ran each time
    assert.truthy(tonumber(whole) >= 19, out)    -- (5.1 may run it before the first call)
    assert.truthy(tonumber(nested_whole) >= 19, out)
  end)
end)

for _, way in ipairs(SHUT) do
local how, shut = way[1], way[2]
describe("a finalizer that closes a soget.HttpParser while response() answers, by " .. how, function()
  it("answers what it had read, never freed memory", function()
    local body = ("x"):rep(3000)
    local answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: " .. #body
      .. "\r\nRetry-After: 7\r\nLocation: /elsewhere\r\n\r\n" .. body
    local mid = 0
    for _ = 1, 20 do
      local p = soget.http_parser()
      assert.are.equal("done", p:feed(answer))
      local during, r = amid(function() shut(p) end, function() return p:response() end)
      if r[1] then
        assert.are.equal(503, r[2])
        assert.are.equal(body, r[3])
        assert.are.equal("7", r[4])
        assert.are.equal("/elsewhere", r[5])
        if during then mid = mid + 1 end
      else   -- (Lua 5.1 may run it before response() begins)
        assert.truthy(tostring(r[2]):find("used after close()", 1, true), tostring(r[2]))
      end
      assert.truthy(tostring(p):find("closed", 1, true))
      assert.has_error(function() p:response() end, "soget.HttpParser: used after close()")
    end
    if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
      assert.truthy(mid > 0, "no finalizer ran in the middle of response()")
    end
  end)

  it("error(): the error whole, never freed memory", function()
    -- error() read the parser's error between its pushes, each of which
    -- can run the finalizer: a crash once it was freed
    local mid = 0
    for i = 1, 20 do
      local p = soget.http_parser()
      assert.are.equal("bad", p:feed("garbage " .. i .. "\r\n\r\n"))
      local during, r = amid(function() shut(p) end, function() return p:error() end)
      if r[1] then
        assert.truthy(r[2]:find("^not a valid HTTP/1.1 response"), r[2])
        assert.are.same({ "network", false }, { r[3], r[4] })
        if during then mid = mid + 1 end
      else   -- (it may run before error() begins)
        assert.truthy(tostring(r[2]):find("used after close()", 1, true), tostring(r[2]))
      end
      assert.truthy(tostring(p):find("closed", 1, true))
    end
    if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
      assert.truthy(mid > 0, "no finalizer ran in the middle of error()")
    end
  end)

  it("feed() of a number: the parser is looked at after the number is made a string", function()
    -- making it a string can run the finalizer: feed went on with the
    -- closed parser, answered, and kept a body buffer nothing freed
    -- (make test-asan and make test-valgrind see what feed() did with the
    -- closed parser; here: it raised, or it answered before the finalizer
    -- ran, as Lua 5.1 and 5.2 may run it at a later allocation)
    local raised = 0
    for i = 1, 20 do
      local p = soget.http_parser()
      assert.are.equal("more", p:feed("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"))
      local _, r = amid(function() shut(p) end, function() return p:feed(1234567890123 + i) end)
      if r[1] then
        assert.are.equal("more", r[2])
      else
        assert.truthy(tostring(r[2]):find("used after close()", 1, true), tostring(r[2]))
        raised = raised + 1
      end
      assert.truthy(tostring(p):find("closed", 1, true))
    end
    if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
      -- there the finalizer runs as the number is made a string: it closed
      -- the parser before feed() looked at it
      assert.are.equal(20, raised)
    end
  end)
end)
end

for _, way in ipairs(SHUT) do
local how, shut = way[1], way[2]
describe("a finalizer that closes the client while a method reads it, by " .. how, function()
  -- the methods read the client after allocating: stats() crashed on the
  -- closed client's transport, a search blamed its configuration
  local function run(step, check)
    local mid = 0
    for _ = 1, 20 do
      local c = S.client{ access_token = "a-static-token-0001" }
      local during, r = amid(function() shut(c) end, function() return step(c) end)
      if r[1] then
        check(r)
        if during then mid = mid + 1 end
      else
        assert.truthy(tostring(r[2]):find("attempt to use a closed client", 1, true), tostring(r[2]))
      end
      assert.truthy(closed(c))
    end
    return mid
  end

  it("stats(): the counts whole", function()
    local mid = run(function(c) return c:stats() end, function(r)
      assert.are.same({ api_requests = 0, token_requests = 0, retries = 0, connections = 0 }, r[2])
    end)
    if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
      assert.truthy(mid > 0, "no finalizer ran in the middle of stats()")
    end
  end)

  it("a search and begin: the closed client said, not its configuration", function()
    -- (the queries made before: no allocation of the step's own)
    local q = { documentReference = "3714238101" }
    local sq = { search = q }
    for _, step in ipairs {
      function(c) return c:handling_units_search(q) end,
      function(c) return c:begin(sq) end,
    } do
      run(step, function(r)   -- (closed after the method)
        assert.truthy(r[2] ~= nil or r[3] ~= nil)
      end)
    end
  end)
end)
end

-- Runs fn(c) with a call hook that raises at the k-th C function fn
-- calls, as lua.c's "interrupted!" on Ctrl-C does, or as an allocation
-- that runs out of memory would. Returns pcall's results.
local function raising_at(k, fn, c, mask)
  local armed, calls = false, 0
  debug.sethook(function()
    if armed and debug.getinfo(2, "S").what == "C" then
      calls = calls + 1
      if calls >= k then
        armed = false
        error("interrupted!", 0)
      end
    end
  end, mask or "c")
  local ok, err = pcall(function()
    armed = true
    local v = fn(c)
    armed = false
    return v
  end)
  debug.sethook()
  return ok, err
end

describe("an error raised in the middle of a call", function()
  -- The collector is stopped: the call's finalizer must not be what gives
  -- the client back.
  local function check(what, run, after)
    local mid = 0
    for k = 1, 12 do
      local c = S.client()
      collectgarbage("stop")
      local ok, err = raising_at(k, run, c)
      if not ok then
        assert.truthy(tostring(err):find("interrupted!", 1, true), tostring(err))
        mid = mid + 1
      end
      local ok2, v, e = pcall(after, c)
      collectgarbage("restart")
      assert.is_true(ok2, what .. ", k = " .. k .. ": " .. tostring(v))
      assert.truthy(v, tostring(e))
      c:close()
    end
    assert.truthy(mid > 0, what .. ": no error raised in the middle")
  end

  it("gives the client back at once from a lookup", function()
    check("lookup", function(c) return c:handling_units{ reference = "MSCU", limit = 10 } end,
      function(c) return c:handling_units("CGMU2436601") end)
  end)

  it("gives the client back at once from a token fetch", function()
    check("token", function(c) return c:token() end, function(c) return c:token() end)
  end)

  it("gives the client back at once from a batch", function()
    check("batch", function(c) return c:handling_units_many{ "CGMU2436601", "MSCU" } end,
      function(c) return c:handling_units_many{ "CGMU2436601" } end)
  end)

  -- Raised while request_bytes() hands over the token request it chose:
  -- the driver never got it, so the call must not wait for its answer,
  -- holding the client's token lease (the next call would wait until the
  -- first one's deadline).
  -- Also at a C function's return ("r" hooks): the step's body returning
  -- the request it handed over, inside the step's protection, ends the
  -- call as well.
  for _, mask in ipairs{ "c", "r" } do
  it("ends a soget.Call whose request was being handed over, and frees the token lease ("
     .. mask .. " hook)", function()
    local ended, left_out = 0, 0
    for k = 1, 8 do
      local c = S.client{ timeout = 30 }
      local call = c:begin("CGMU2436601")
      local ok, err = raising_at(k, function() return call:request_bytes("driver/1") end, nil, mask)
      local other = c:begin("CGMU2436601")
      local rq, rerr, wait = other:request_bytes("driver/1")
      if ok then
        -- not raised: the first call's token request is out, the other waits for it
        assert.is_nil(rq, tostring(rerr))
        assert.truthy(wait and wait > 0, tostring(wait))
      else
        assert.truthy(tostring(err):find("interrupted!", 1, true), tostring(err))
        -- the first call is over, or (raised before it chose) as it was
        local again_ok, again = pcall(call.request_bytes, call, "driver/1")
        if not again_ok and mask == "r" and tostring(again):find("waits for response()", 1, true) then
          -- raised at the method's own return, past anything the module
          -- runs: the request is out, and the driver's close() of the
          -- call gives the lease back
          assert.is_nil(rq, tostring(rerr))
          left_out = left_out + 1
          call:close()
          local third = c:begin("CGMU2436601")
          assert.are.equal("token", assert(third:request_bytes("driver/1")).kind)
          third:close()
        elseif not again_ok then
          assert.truthy(tostring(again):find("on a call that is over", 1, true), tostring(again))
          ended = ended + 1
          assert.is_table(rq, tostring(rerr))   -- the lease is free: its own token request
          assert.are.equal("token", rq.kind)
        end
      end
      other:close()
      call:close()
      c:close()
    end
    -- (LuaJIT calls no return hook for the C functions a C function calls)
    if mask == "c" or not rawget(_G, "jit") then
      assert.truthy(ended > 0, "no error raised while the request was handed over")
    end
    -- one C function returns after the step's protection: the method
    assert.truthy(left_out <= 1, left_out .. " points left the request out")
  end)
  end
end)
