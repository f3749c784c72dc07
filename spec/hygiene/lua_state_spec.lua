-- Lua-state hygiene: errors inside iterators, clients collected or closed
-- under a live iterator, coroutines, lua_close with live objects, two
-- clients interleaved, and flat memory over 10,000 calls. Runs on every
-- runtime of make test, so it sticks to syntax Lua 5.1 parses.
local soget = require "soget"
local S = require "support"

local PREFIX = "MSCU"   -- more than 100 units in the sandbox
local function full_gc() collectgarbage(); collectgarbage() end

-- Under make test-valgrind the interpreter runs some 50 times slower.
local UNDER_VALGRIND = (S.lua or ""):find("valgrind", 1, true) ~= nil
local UNDER_ASAN = (S.lua or ""):find("asan", 1, true) ~= nil

local function rss_kib()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local kib
  for line in f:lines() do
    kib = kib or tonumber(line:match("^VmRSS:%s+(%d+)"))
  end
  f:close()
  return kib
end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("exit=(%d+)%s*$")), (out:gsub("exit=%d+%s*$", ""))
end

describe("Lua-state hygiene", function()
  local client
  before_each(function() client = S.client() end)
  after_each(function() client:close() end)

  describe("errors inside the iterator", function()
    it("an error in the loop body leaves the client usable and the pager closable", function()
      local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
      local it = page:iter()
      local n = 0
      local ok, err = pcall(function()
        for _ in it do
          n = n + 1
          if n == 15 then error("boom in the loop body") end
        end
      end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("boom in the loop body", 1, true))
      it:close()
      assert.is_nil(it())
      assert.is_true(it:stats().done)
      assert(client:handling_units("CGMU2436601"))
    end)

    it("raises a clear error, not a crash, when its client was closed", function()
      local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
      local it = page:iter()
      for _ = 1, 10 do assert.is_table(it()) end
      client:close()
      local ok, err = pcall(it)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("closed client", 1, true), tostring(err))
      client = S.client()
    end)

    it("an error raised by a later page can be caught and the walk resumed", function()
      local id = S.uid("hyg")
      local c = S.client{ base_url = S.fault_base("503-then-ok:n=3:id=" .. id), retries = 0 }
      -- The first page needs three tries; the second page then comes at once.
      local page
      for _ = 1, 4 do
        page = c:handling_units{ reference = PREFIX, limit = 10 }
        if page then break end
      end
      assert.is_table(page)
      local it = page:iter{ max_pages = 2 }
      local n = 0
      for _ in it do n = n + 1 end
      assert.are.equal(20, n)
      c:close()
    end)

    -- Regression: replacing a page's items during iteration crashed (a
    -- segmentation fault indexing a non-table).
    it("ends the walk when a script replaces the page's items mid-iteration", function()
      local page = assert(soget.decode(
        '{"total":3,"returned":3,"first":0,"items":[{"pswId":"a"},{"pswId":"b"},{"pswId":"c"}]}'))
      for _, replacement in ipairs{ 42, "items", false, function() end } do
        local p = assert(soget.decode(
          '{"total":3,"returned":3,"first":0,"items":[{"pswId":"a"},{"pswId":"b"}]}'))
        local it = p:iter()
        assert.is_table(it())
        p.items = replacement
        local ok, v = pcall(it)
        assert.is_true(ok, tostring(v))
        assert.is_nil(v)
      end
      local it = page:iter()
      assert.is_table(it())
      page.items = nil
      assert.is_nil(it())
    end)

    -- Regression: NaN or huge numbers in a page (changed by a script, or fed
    -- to a manual pager) were cast to long: undefined behaviour, caught by
    -- make test-asan (UBSan).
    it("survives NaN and huge numbers in pages and in feed()", function()
      local odd = { 0 / 0, math.huge, -math.huge, 1e300, -1e300, 2 ^ 63, 2 ^ 62 }
      for _, x in ipairs(odd) do
        local p = assert(soget.decode('{"total":50,"returned":1,"first":0,"items":[{"pswId":"a"}]}'))
        p.total, p.first, p.returned = x, x, x
        local n = 0
        for _ in p:iter() do n = n + 1 end
        assert.truthy(n <= 1)

        local q = assert(soget.decode('{"total":50,"returned":1,"first":0,"items":[{"pswId":"a"}]}'))
        local it = q:iter{ manual = true }
        assert.is_table(it())
        local none, what, offset = it()
        assert.is_nil(none)
        assert.are.equal("fetch", what)
        assert.are.equal(1, offset)
        local ok, err = pcall(it.feed, it, { total = x, returned = x, first = x, items = {} }, x)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("offset this pager asked for", 1, true), tostring(err))
        it:feed({ total = x, returned = x, first = x, items = { { pswId = "b" } } }, 1)
        local m = 0
        for _ in it do m = m + 1 end
        assert.truthy(m <= 1)
      end
    end)
  end)

  describe("collection", function()
    it("keeps a client nobody else references alive for its iterator, then frees it", function()
      local weak = setmetatable({}, { __mode = "v" })
      local it
      do
        local c = S.client()
        weak[1] = c
        it = assert(c:handling_units{ reference = PREFIX, limit = 10 }):iter{ max_pages = 3 }
      end
      local n = 0
      for _ in it do
        n = n + 1
        if n % 10 == 5 then full_gc() end   -- collections between page fetches
      end
      assert.are.equal(30, n)
      it = nil   -- luacheck: ignore 311 (let go, for the collector)
      full_gc()
      assert.is_nil(weak[1])
    end)
  end)

  describe("coroutines", function()
    it("iterates inside coroutines, two walks interleaved on one client", function()
      local function walker(reference)
        return coroutine.wrap(function()
          local page = assert(client:handling_units{ reference = reference, limit = 10 })
          for hu in page:iter{ max_pages = 3 } do coroutine.yield(hu.pswId) end
          return nil
        end)
      end
      local a, b = walker("MSCU"), walker("CGMU")
      local seen_a, seen_b, na, nb = {}, {}, 0, 0
      for _ = 1, 200 do
        local x, y = a(), b()
        if x then assert.is_nil(seen_a[x]); seen_a[x] = true; na = na + 1 end
        if y then assert.is_nil(seen_b[y]); seen_b[y] = true; nb = nb + 1 end
        if not x and not y then break end
      end
      assert.are.equal(30, na)
      assert.truthy(nb > 0)
    end)

    it("collects a coroutine abandoned in the middle of a walk", function()
      local weak = setmetatable({}, { __mode = "v" })
      do
        local co = coroutine.create(function()
          local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
          local it = page:iter()
          weak[1] = it
          for _ in it do coroutine.yield() end
        end)
        for _ = 1, 12 do assert(coroutine.resume(co)) end
        weak[2] = co
      end
      full_gc()
      assert.is_nil(weak[1])
      assert.is_nil(weak[2])
      assert(client:handling_units("CGMU2436601"))
    end)

    it("keeps a call's steps valid across yields", function()
      local tok = assert(client:token())
      local co = coroutine.wrap(function()
        local call = client:begin{ reference = "CGMU2436601" }
        local req = assert(call:request())
        local status, body = coroutine.yield(req)
        return call:response(status, body)
      end)
      local req = co()
      assert.are.equal("api", req.kind)
      assert.are.equal("Bearer " .. tok, req.headers.Authorization)
      full_gc()
      local page = co(200, '{"total":1,"returned":1,"first":0,"items":[{"pswId":"x"}]}')
      assert.are.equal("x", page.items[1].pswId)
    end)
  end)

  describe("two clients", function()
    it("interleave without sharing tokens, counters or connections", function()
      local other = S.client{ base_url = S.fault_base("extra-fields") }
      local pa = assert(client:handling_units{ reference = PREFIX, limit = 5 })
      local pb = assert(other:handling_units{ reference = PREFIX, limit = 5 })
      local ia, ib = pa:iter{ max_pages = 4 }, pb:iter{ max_pages = 4 }
      local n = 0
      while true do
        local x, y = ia(), ib()
        if not x and not y then break end
        assert.are.equal(x and x.pswId, y and y.pswId)
        n = n + 1
      end
      assert.are.equal(20, n)
      local ta, tb = assert(client:token()), assert(other:token())
      assert.are_not.equal(ta, tb)
      assert.are.equal(4, client:stats().api_requests)
      assert.are.equal(4, other:stats().api_requests)
      assert.are.equal(1, client:stats().connections)
      assert.are.equal(1, other:stats().connections)
      other:close()
      assert(client:handling_units("CGMU2436601"))
    end)
  end)

  describe("memory", function()
    -- valgrind runs the interpreter some 50 times slower: there a tenth of
    -- the calls, and its own leak check at exit stands in for the curve.
    local CALLS = UNDER_VALGRIND and 1000 or 10000
    it(("stays flat over %d calls (Lua's count and the process RSS)"):format(CALLS), function()
      local warm, rounds = CALLS / 10, 6
      for _ = 1, warm do assert(client:handling_units("CGMU2436601")) end
      full_gc()
      local lua0, rss0 = collectgarbage("count"), rss_kib()
      -- The heap is read after each of six rounds. A leak grows it every
      -- round; the interpreter's own tables (LuaJIT's string table doubles
      -- by 64 KiB when the suite's strings pass a power of two) grow it once.
      -- So the growth less its largest single step must stay under 32 KiB:
      -- 8 bytes a call would leave 60.
      local seen, steps, largest = { ("%.0f"):format(lua0) }, 0, 0
      local last = lua0
      for _ = 1, rounds do
        for i = 1, (CALLS - warm) / rounds do
          local page = assert(client:handling_units("CGMU2436601"))
          if i % 7 == 0 then for _ in page:iter() do end end
        end
        full_gc()
        local now = collectgarbage("count")
        largest = math.max(largest, now - last)
        steps = steps + (now - last)
        last = now
        seen[#seen + 1] = ("%.0f"):format(now)
      end
      local rss1 = rss_kib()
      assert.truthy(steps - largest < 32,
        ("Lua heap (KiB) after each round: %s"):format(table.concat(seen, " -> ")))
      if rss0 and not UNDER_VALGRIND and not UNDER_ASAN then
        assert.truthy(rss1 < rss0 + 2048, ("RSS %d -> %d KiB"):format(rss0, rss1))
      end
      assert.are.equal(1, client:stats().connections)
    end)
  end)

  describe("lua_close", function()
    local script
    setup(function()
      script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(([[
package.cpath = %q .. "/?.so;" .. package.cpath
local soget = require "soget"
local opts = { client_id = %q, client_secret = %q, api_key = %q, base_url = %q,
  token_url = %q, ca_file = %q }
keep = {}
for i = 1, 3 do
  local c = soget.client(opts)
  local page = assert(c:handling_units{ reference = "MSCU", limit = 10 })
  local it = page:iter()
  for _ = 1, 12 do assert(it()) end            -- a pager between two pages
  local call = c:begin("CGMU2436601")
  assert(call:request())                       -- a call waiting for an answer
  local manual = page:iter{ manual = true }
  keep[#keep + 1] = { c, page, it, call, manual, coroutine.create(function() it() end) }
end
local closed = soget.client(opts)
closed:close()
keep[#keep + 1] = closed
keep[#keep + 1] = soget.client(opts):begin{ spi = "CNI0000063978" }
io.stdout:write("alive\n")
if arg[1] == "exit" then os.exit(0, true) end
]]):format(os.getenv("SOGET_MODULE_DIR") or "build/lua5.4", S.client_id, S.client_secret,
        S.api_key, S.base_url, S.token_url, S.ca_file))
      f:close()
    end)
    teardown(function() os.remove(script) end)

    it("closes the state cleanly with clients, pagers and calls alive", function()
      for _, how in ipairs{ "end", "exit" } do
        local code, out = run(S.shell_quote(S.lua) .. " " .. S.shell_quote(script) .. " " .. how)
        assert.are.equal(0, code, out)
        assert.are.equal("alive\n", out)
      end
    end)

    -- A finalizer lua_close runs after the module's own decodes a page: it
    -- still can (through libyajl), and makes nothing that is left unfreed
    -- (valgrind, below). Its object is made before the module is loaded,
    -- so that it is finalized after the module's (in the reverse order of
    -- making). But on Lua 5.1 and LuaJIT a C library is unloaded by a
    -- finalizer of its handle, made when it is loaded: nothing can call
    -- into it after that one, so there the object is made after it (and
    -- its decode runs first, with the module whole).
    local LATE = [[
package.cpath = %q .. "/?.so;" .. package.cpath
local body = '{"total":1,"returned":1,"first":0,"items":[{"pswId":"CNI0000063978","reference":"CGMU2436601"}]}'
local function late()
  local page = package.loaded.soget.decode(body)
  io.stdout:write(page and page.items[1].reference == "CGMU2436601" and "late decode ok\n" or "late decode failed\n")
end
if _VERSION == "Lua 5.1" then
  require "soget"
  local p = newproxy(true); getmetatable(p).__gc = late; keep = p
else
  keep = setmetatable({}, { __gc = late })
end
local soget = require "soget"
assert(soget.decode(body))
]]
    -- os.exit(0, true) from a hook in the middle of a step closes the
    -- state with the step's frames abandoned: what they held (the call's
    -- buffers, the client it holds, the parser's) is freed by the
    -- finalizers all the same. MODE: a soget.Call step, a blocking
    -- lookup, a batch's on_result, a parser's response(). (Lua 5.2 and 5.3
    -- run those finalizers on the stack as it was, os.exit's frame on
    -- top, where the others unwind it first.)
    local AMID = [[
package.cpath = %q .. "/?.so;" .. package.cpath
local soget = require "soget"
local mode, n = ...
local c = soget.client{ api_key = "k", access_token = "a-static-token-0001",
  base_url = %q, ca_file = %q }
local function exit_at(k)
  n = 0
  debug.sethook(function() n = n + 1; if n == k then os.exit(0, true) end end, "c")
end
if mode == "call" then
  local call = c:begin("CGMU2436601")
  exit_at(2)
  call:request()
elseif mode == "lookup" then
  exit_at(2)
  c:handling_units("CGMU2436601")
elseif mode == "batch" then
  c:handling_units_many({ "CGMU2436601", "MSCU" }, { on_result = function() os.exit(0, true) end })
else
  local p = soget.http_parser()
  assert(p:feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") == "done")
  exit_at(2)
  p:response()
end
io.stdout:write("not exited\n")
]]
    -- A temporary file of the script text, formatted with the module's
    -- folder first, then the rest.
    local function script_file(text, ...)
      local path = os.tmpname()
      S.write_file(path, text:format(os.getenv("SOGET_MODULE_DIR") or "build/lua5.4", ...))
      return path
    end
    local function amid_script() return script_file(AMID, S.base_url, S.ca_file) end
    -- The runtime's interpreter under valgrind: any invalid access or
    -- definitely lost block makes it exit 97
    local VALGRIND = "valgrind --quiet --error-exitcode=97 --leak-check=full "
      .. "--show-leak-kinds=definite --errors-for-leak-kinds=definite "
      .. "--suppressions=spec/hygiene/valgrind.supp " .. S.shell_quote(S.lua) .. " "
    local MODES = { "call", "lookup", "batch", "parser" }

    it("frees what a step held when the state closes in its middle", function()
      local path = amid_script()
      for _, mode in ipairs(MODES) do
        local code, out = run(S.shell_quote(S.lua) .. " " .. S.shell_quote(path) .. " " .. mode)
        assert.are.equal(0, code, mode .. ": " .. out)
        assert.are.equal("", out, mode)
      end
      os.remove(path)
    end)

    local function late_script() return script_file(LATE) end

    it("lets a finalizer it runs after the module's own decode a page", function()
      local path = late_script()
      local code, out = run(S.shell_quote(S.lua) .. " " .. S.shell_quote(path))
      os.remove(path)
      assert.are.equal(0, code, out)
      assert.are.equal("late decode ok\n", out)
    end)

    -- Under valgrind or ASan the suite's interpreter is itself instrumented:
    -- the plain runs add this, each with its runtime's interpreter.
    if not (UNDER_VALGRIND or UNDER_ASAN) then
      it("leaves nothing unfreed when the state closes amid a step (valgrind)", function()
        local path = amid_script()
        for _, mode in ipairs(MODES) do
          local code, out = run(VALGRIND .. S.shell_quote(path) .. " " .. mode)
          assert.are.equal(0, code, mode .. ": " .. out)
          assert.are.equal("", out, mode)
        end
        os.remove(path)
      end)

      it("leaves nothing unfreed after that late decode (valgrind)", function()
        local path = late_script()
        local code, out = run(VALGRIND .. S.shell_quote(path))
        os.remove(path)
        assert.are.equal(0, code, out)
        assert.are.equal("late decode ok\n", out)
      end)

      it("does so with no invalid access and no leak under valgrind", function()
        local code = run("valgrind --version")
        assert.are.equal(0, code, "valgrind is needed (Debian package valgrind; make deps)")
        local out
        code, out = run(VALGRIND .. S.shell_quote(script))
        assert.are.equal(0, code, out)
        assert.are.equal("alive\n", out)
      end)
    end
  end)
end)
