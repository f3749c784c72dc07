-- Lifetimes: __gc runs, pages and pagers keep what they need alive and
-- nothing more, memory stays flat over many calls.
local S = require "support"
local soget = require "soget"

local function full_gc() collectgarbage(); collectgarbage() end

-- A value on the stack of the functions running (C frames too, through
-- the debug library) for which pred is true, or nil: what a hook can reach.
local function stack_value(pred)
  for level = 3, 9 do
    if not debug.getinfo(level, "f") then break end
    for i = 1, 30 do
      local name, v = debug.getlocal(level, i)
      if not name then break end
      if pred(v) then return v end
    end
  end
end

describe("garbage collection", function()
  it("collects a client nobody references", function()
    local weak = setmetatable({}, { __mode = "v" })
    do weak[1] = S.client() end
    full_gc()
    assert.is_nil(weak[1])
  end)

  it("collects a client after its pages are gone, not before", function()
    local weak = setmetatable({}, { __mode = "v" })
    local page
    do
      local c = S.client()
      weak[1] = c
      page = assert(c:handling_units{ reference = "MSCU", limit = 10 })
    end
    full_gc()
    assert.is_userdata(weak[1], "the page's iterator still needs its client")
    local it = page:iter{ max_pages = 2 }
    page = nil   -- luacheck: ignore 311 (let go, for the collector)
    full_gc()
    assert.is_userdata(weak[1], "the pager keeps it alive")
    local n = 0
    for _ in it do n = n + 1 end
    assert.are.equal(20, n)
    it = nil   -- luacheck: ignore 311 (let go, for the collector)
    full_gc()
    assert.is_nil(weak[1])
  end)

  it("collects closed calls and pagers", function()
    local weak = setmetatable({}, { __mode = "v" })
    do
      local c = S.client()
      weak[1] = c:begin("CGMU2436601")
      weak[2] = assert(c:handling_units("CGMU2436601")):iter()
    end
    full_gc()
    assert.is_nil(weak[1])
    assert.is_nil(weak[2])
  end)

  it("frees a call's memory when a Lua error interrupts it (as Ctrl-C does)", function()
    -- lua.c turns SIGINT into a hook that raises "interrupted!" at the next
    -- function call, which can be one soget makes from C in mid-call.
    local c = S.client()
    assert(c:token())
    local calls = 0
    local ok, err = pcall(function()
      debug.sethook(function()
        calls = calls + 1
        if calls >= 2 and debug.getinfo(2, "S").what == "C" then
          debug.sethook()
          error("interrupted!")
        end
      end, "c")
      c:handling_units("CGMU2436601")
    end)
    debug.sethook()
    assert.is_false(ok)
    assert.truthy(tostring(err):find("interrupted!", 1, true), tostring(err))
    full_gc()
    -- the client is still whole (under make test-valgrind a leak fails the run)
    assert.are.equal(1, assert(c:handling_units("CGMU2436601")).total)
    c:close()
  end)

  -- debug.setuservalue (debug.setfenv on 5.1 and LuaJIT) can take from a
  -- soget.Call the reference that keeps its client alive, and the client
  -- can then be collected under the call. The call then says its client is
  -- gone, and its steps and its end (closing, collecting) read nothing of
  -- the client (the ASan and valgrind runs fail on a read of freed memory).
  local function set_uservalue(u, t)
    if debug.setuservalue then debug.setuservalue(u, t, 1) else debug.setfenv(u, t) end
  end

  local function get_uservalue(u)
    if debug.getuservalue then return (debug.getuservalue(u, 1)) end
    return debug.getfenv(u)
  end

  it("raises, never crashes, when Lua code changed what a pager or a call reads raw", function()
    local body = '{"total":3,"returned":2,"first":0,"items":[{"reference":"A","pswId":"a"},'
      .. '{"reference":"B","pswId":"b"}]}'
    -- a pager's ids met, and its query
    local it = assert(soget.decode(body)):iter()
    get_uservalue(it).seen = 42
    local ok, err = pcall(it)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("its state was changed", 1, true), tostring(err))
    local c = soget.client{ base_url = "https://api.example.test/v1",
      token_url = "https://auth.example.test/token", api_key = "key-0123456789abcdef",
      access_token = "tok-static-1234", retries = 0 }
    local call = c:begin("A")
    assert(call:request())
    local page = assert(call:response(200, body))
    it = page:iter()
    get_uservalue(it).query = 42
    it(); it()
    ok, err = pcall(it)                  -- the fetch of the next page
    assert.is_false(ok)
    assert.truthy(tostring(err):find("its state was changed", 1, true), tostring(err))
    -- an exact call's walk state and query
    for _, slot in ipairs { 2, 3 } do
      call = c:begin{ reference = "A", exact = true }
      assert(call:request())
      get_uservalue(call)[slot] = 42
      ok, err = pcall(call.response, call, 200, body)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("its state was changed", 1, true), tostring(err))
      assert.has_error(function() call:request() end)   -- over
      call:close()
    end
    -- a call whose uservalue is no table at all amid response() (5.2+):
    -- the page, with no client to fetch with
    if debug.setuservalue then
      call = c:begin("A")
      assert(call:request())
      local n = 0
      debug.sethook(function()
        n = n + 1
        -- (Lua 5.2 takes a table or nil only)
        if n == 3 then debug.sethook(); debug.setuservalue(call, _VERSION ~= "Lua 5.2" and 42 or nil, 1) end
      end, "c")
      local p, e = call:response(200, body)
      debug.sethook()
      assert.is_nil(e)
      assert.are.equal("A", p.items[1].reference)
    end
    c:close()
    full_gc()
  end)

  it("lets no call read its client once Lua code took the client from it", function()
    local c = S.client()
    local call = c:begin("CGMU2436601")
    assert.are.equal("token", assert(call:request()).kind)   -- the token lease taken
    set_uservalue(call, {})
    c = nil   -- luacheck: ignore 311 (the only reference left goes)
    full_gc()
    for _, step in ipairs{ function() return call:failed("no answer") end,
        function() return call:response(200, "{}") end, function() return call:request() end } do
      local ok, err = pcall(step)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("soget.Call: its client is gone (the call's uservalue "
        .. "was replaced)", 1, true), tostring(err))
    end
    assert.are.equal("soget.Call (client closed)", tostring(call))
    call:close()
    assert.are.equal("soget.Call (done)", tostring(call))
    -- one never stepped, collected after its client
    local weak = setmetatable({}, { __mode = "v" })
    do
      local c2 = S.client()
      weak[1] = c2:begin("CGMU2436601")
      set_uservalue(weak[1], {})
    end
    full_gc()
    full_gc()
    assert.is_nil(weak[1])
  end)

  it("keeps the client alive through a step amid which Lua code takes it from the call", function()
    local c = S.client()
    local call = c:begin("CGMU2436601")
    local weak = setmetatable({ c }, { __mode = "v" })
    local calls, fired = 0, false
    debug.sethook(function()
      calls = calls + 1
      if calls == 2 then   -- the step's body (the first C call is call.request itself)
        debug.sethook()
        fired = true
        set_uservalue(call, {})
        c = nil   -- luacheck: ignore 311 (let go, for the collector)
        full_gc()
      end
    end, "c")
    local req = call:request()
    debug.sethook()
    assert.is_true(fired)
    assert.are.equal("token", req.kind)   -- the step ran to its end with its client
    full_gc()
    assert.is_nil(weak[1])                -- then the client went
    local ok, err = pcall(call.failed, call, "no answer")
    assert.is_false(ok)
    assert.truthy(tostring(err):find("its client is gone", 1, true), tostring(err))
  end)

  it("lets Lua code amid a step look at, and step, the call it took the client from", function()
    -- tostring and a nested step read the call's client: they see it gone,
    -- and the step under way goes on with the client it holds (a NULL
    -- read before)
    for _, nested in ipairs { "tostring", "step", "close" } do
      local c = S.client()
      local call = c:begin("CGMU2436601")
      local calls, seen = 0, nil
      debug.sethook(function()
        calls = calls + 1
        if calls == 2 then
          debug.sethook()
          set_uservalue(call, {})
          if nested == "tostring" then seen = tostring(call)
          elseif nested == "step" then seen = select(2, pcall(call.request, call))
          else call:close(); seen = tostring(call) end
          full_gc()
        end
      end, "c")
      local req = call:request()
      debug.sethook()
      assert.are.equal("token", req.kind, nested)
      if nested == "step" then
        assert.truthy(tostring(seen):find("its client is gone", 1, true), tostring(seen))
      else
        assert.are.equal("soget.Call (client closed)", seen, nested)
      end
      full_gc()
      if nested == "close" then
        assert.are.equal("soget.Call (done)", tostring(call))   -- closed as the step ended
      else
        local ok, err = pcall(call.failed, call, "no answer")
        assert.is_false(ok)
        assert.truthy(tostring(err):find("its client is gone", 1, true), tostring(err))
      end
    end
  end)

  it("keeps the blocking driver's own call out of reach of Lua code amid it", function()
    -- a hook finds the driver's soget.Call on the stack (debug.getlocal):
    -- its steps raise, its close() waits for the call's end, and taking its
    -- client from it changes nothing of the lookup (before: another step,
    -- an empty error, a NULL read)
    for _, what in ipairs { "step", "close", "uservalue" } do
      local c = S.client()
      assert(c:handling_units("CGMU2436601"))   -- the token and connection first
      local found, seen = false, nil
      debug.sethook(function()
        if found then return end
        local v = stack_value(function(x) return type(x) == "userdata" and tostring(x):find("^soget%.Call") end)
        if not v then return end
        found = true
        debug.sethook()
        if what == "step" then seen = select(2, pcall(v.request, v))
        elseif what == "close" then v:close(); seen = tostring(v)
        else set_uservalue(v, {}); seen = tostring(v); full_gc() end
      end, "c")
      local page, err = c:handling_units("CGMU2436601")
      debug.sethook()
      assert.is_true(found, what)
      assert.is_nil(err, what)
      assert.are.equal("CGMU2436601", page.items[1].reference, what)
      if what == "step" then
        assert.truthy(tostring(seen):find("amid another step", 1, true), tostring(seen))
      elseif what == "close" then
        assert.are.equal("soget.Call (pending)", seen)   -- closed when the lookup ends
      else
        assert.are.equal("soget.Call (client closed)", seen)
      end
      assert.are.equal(1, assert(c:handling_units("CGMU2436601")).total, what)
      c:close()
    end
  end)

  it("reads a lookup's query as each request begins: Lua code that replaces its strings mid-call frees nothing read", function()
    -- a hook (it may collect) finds the normalized query of an exact walk
    -- on the stack and puts another string in it, then collects: the walk
    -- had read the reference before it made its call and kept it for the
    -- pages after the first; it now reads the table as each request
    -- begins. The read of freed memory shows only under a memory checker
    -- (make test-asan and test-valgrind run this file: ASan stopped at
    -- soget_call_begin); here the walk's answer is checked
    local c = S.client{ base_url = S.http .. "/api-tracing-code/v1" }
    assert(c:handling_units("CGMU2436601"))
    local swapped = false
    debug.sethook(function()
      if swapped then return end
      local norm = stack_value(function(x)
        return type(x) == "table" and rawget(x, "exact") == true and type(rawget(x, "reference")) == "string"
      end)
      if not norm then return end
      swapped = true
      debug.sethook()
      norm.reference = table.concat { "sogu", "1000004" }   -- the same in any case, another string
      full_gc()
    end, "c")
    local q = { reference = table.concat { "SOGU", "1000004" }, exact = true, limit = 5 }
    local page, err = c:handling_units(q)
    debug.sethook()
    q = nil   -- luacheck: ignore 311 (let go, for the collector)
    full_gc()
    assert.is_true(swapped)
    assert.is_nil(err)
    assert.are.equal(12, page.total)           -- three pages of five read
    assert.are.equal("SOGU1000004", page.items[12].reference)
    -- a pager's later pages, its query replaced by a finalizer as the
    -- collector runs a cycle at each allocation (Lua 5.4: a finalizer may
    -- not collect, so the collector is set to finish cycles on its own)
    if _VERSION ~= "Lua 5.4" then return end
    local first = assert(c:handling_units { reference = table.concat { "ms", "cu" }, limit = 3 })
    local it = first:iter()
    local armed, n = false, 0
    local mt = {}
    mt.__gc = function()
      setmetatable({}, mt)
      if not armed then return end
      local uv = get_uservalue(it)
      if type(uv) == "table" and type(uv.query) == "table" then
        n = n + 1
        uv.query.reference = "ms" .. (1000000 + n)   -- a fresh string each time
      end
    end
    setmetatable({}, mt)
    collectgarbage("incremental", 1, 100, 30)      -- a pause of 0: a cycle per allocation
    full_gc()
    armed = true
    local ok, got = pcall(function()
      local k = 0
      for hu in it do
        k = k + 1
        assert(type(hu.reference) == "string")
        if k > 7 then break end
      end
      return k
    end)
    armed = false
    collectgarbage("incremental", 200, 100, 13)     -- Lua 5.4's defaults
    full_gc()
    assert.is_true(ok, tostring(got))
    assert.is_true(n > 0)
    c:close()
  end)

  it("keeps a batch's own state out of reach of Lua code amid it", function()
    -- a hook finds the batch's soget.Bulk and its copy of the queries on
    -- the stack (debug.getlocal): its __gc waits for the batch's end, so a
    -- close() then too (before: a use after free); a query copy changed
    -- raises (before: a crash); so too when its __gc and the client's are
    -- called from a coroutine made for it, with no frame below them on its
    -- own stack (before: taken for lua_close's, the batch ended under it
    -- and the client freed under it)
    for _, what in ipairs { "gc+close", "corogc", "queries" } do
      local c = S.client()
      assert(c:handling_units("CGMU2436601"))
      local queries = { "CGMU2436601", "CSQU3054383", { spi = "CNI0000063978" } }
      local found = false
      debug.sethook(function()
        if found then return end
        local v = stack_value(function(x)
          if what ~= "queries" then return type(x) == "userdata" and tostring(x):find("^soget%.Bulk") end
          return type(x) == "table" and x ~= queries and type(x[1]) == "table"
            and x[1].reference == "CGMU2436601"
        end)
        if not v then return end
        found = true
        debug.sethook()
        if what == "gc+close" then
          getmetatable(v).__gc(v)
          c:close()
        elseif what == "corogc" then
          coroutine.wrap(getmetatable(v).__gc)(v)   -- (5.1 would need a Lua function)
          coroutine.wrap(getmetatable(c).__gc)(c)
        else
          for k = 1, #v do v[k] = "not a query" end
        end
      end, "c")
      local ok, results, counts = pcall(c.handling_units_many, c, queries, { concurrency = 1 })
      debug.sethook()
      if not found then
        -- Lua 5.1, 5.2 and LuaJIT show debug.getlocal nothing of a C
        -- function's stack: nothing reaches the batch's state there
        assert.truthy(_VERSION == "Lua 5.1" or _VERSION == "Lua 5.2", _VERSION)
        assert.is_true(ok, tostring(results))
        assert.are.same({ ok = 3, failed = 0 }, counts)
        c:close()
      elseif what ~= "queries" then
        assert.is_true(ok, tostring(results))
        assert.are.same({ ok = 3, failed = 0 }, counts)
        assert.are.equal("CGMU2436601", results[1].items[1].reference)
        -- closed once the batch ended
        assert.has_error(function() c:handling_units("CGMU2436601") end, "attempt to use a closed client")
      else
        assert.is_false(ok)
        assert.truthy(tostring(results):find("the batch's state was changed under it", 1, true),
          tostring(results))
        assert.are.equal(1, assert(c:handling_units("CGMU2436601")).total)
        c:close()
      end
      full_gc()
    end
  end)

  it("keeps the main thread it watches for Ctrl-C alive, whatever the registry says later", function()
    -- a client keeps the thread the registry named when it was made (on
    -- 5.1 and LuaJIT soget's own entry, else Lua's); a script that changes
    -- the entry and lets that thread go must not leave it a freed one
    -- (the ASan and valgrind runs fail on the read)
    local reg = debug.getregistry()
    local key = _VERSION == "Lua 5.1" and "soget.main_thread" or 1
    local saved = reg[key]
    local co = coroutine.create(function() end)
    reg[key] = co
    local c
    coroutine.wrap(function() c = S.client() end)()
    reg[key] = saved
    co = nil   -- luacheck: ignore 311
    full_gc()
    assert.are.equal(1, assert(c:handling_units("CGMU2436601")).total)
    c:close()
  end)

  it("keeps Lua memory flat over many calls", function()
    local c = S.client()
    local function round()
      for _ = 1, 100 do
        local page = assert(c:handling_units("CGMU2436601"))
        for _ in page:iter() do end
      end
      full_gc()
      return collectgarbage("count")
    end
    round()
    local before = round()
    local after
    for _ = 1, 3 do after = round() end
    assert.truthy(after < before * 1.1 + 64, ("before %.0f KiB, after %.0f KiB"):format(before, after))
    c:close()
  end)
end)
