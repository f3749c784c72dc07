-- Lifetimes: __gc runs, pages and pagers keep what they need alive and
-- nothing more, memory stays flat over many calls.
local S = require "support"

local function full_gc() collectgarbage(); collectgarbage() end

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
