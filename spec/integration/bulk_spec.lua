-- client:handling_units_many: many lookups at once over libcurl's multi
-- interface, read back from the sandbox's counters and request log.
local S = require "support"
local P = require "integration.proxy"
local unpack = table.unpack or unpack

local now = S.now

local function is_error(v)
  return type(v) == "table" and getmetatable(v) ~= nil and v.kind ~= nil
    and tostring(v):find("^soget: ") ~= nil
end

-- References the sandbox knows: the first n matches of a prefix (looked
-- up once; the sandbox's counters are reset afterwards).
local known_refs
local function known(n)
  if not known_refs then
    local c = S.client()
    known_refs = {}
    for hu in assert(c:handling_units { reference = "MSCU", limit = 10 }):iter { max_items = 30 } do
      known_refs[#known_refs + 1] = hu.reference
    end
    c:close()
    S.reset()
  end
  assert(#known_refs >= n, "the sandbox has fewer units than the spec needs")
  return { unpack(known_refs, 1, n) }
end

-- The API requests in the sandbox's log, oldest first (only those made
-- with the fault spec `fault` when given).
local function api_requests(n, fault)
  local out = {}
  for _, r in ipairs(S.requests(n)) do
    if r.kind == "api" and (not fault or r.fault == fault) then out[#out + 1] = r end
  end
  table.sort(out, function(a, b) return a.seq < b.seq end)
  return out
end

describe("handling_units_many", function()
  before_each(function() S.reset() end)

  describe("results", function()
    it("match the inputs in order, with duplicates and not-found entries", function()
      local refs = known(12)
      local queries = {}
      for i, r in ipairs(refs) do
        queries[#queries + 1] = r
        if i % 4 == 0 then queries[#queries + 1] = "ZZZZ" .. i .. "000000" end
      end
      queries[#queries + 1] = refs[1]                        -- duplicates
      queries[#queries + 1] = { reference = refs[2], limit = 1 }
      queries[#queries + 1] = refs[1]
      local c = S.client()
      local results, counts = c:handling_units_many(queries, { concurrency = 5 })
      assert.are.equal(#queries, #results)
      for i, q in ipairs(queries) do
        local page = results[i]
        assert.is_false(is_error(page), "entry " .. i .. ": " .. tostring(page))
        local ref = type(q) == "table" and q.reference or q
        if ref:match("^ZZZZ") then
          assert.are.same({ total = 0, returned = 0, first = 0, items = {} }, page)
        else
          assert.are.equal(ref, page.items[1].reference, "entry " .. i)
        end
      end
      assert.are.same({ ok = #queries, failed = 0 }, counts)
      assert.are.equal(#queries, S.stats().api_requests)
      c:close()
    end)

    it("are pages like handling_units returns, whose iter() fetches further pages", function()
      local c = S.client()
      local one = assert(c:handling_units { reference = "MSCU", limit = 3 })
      local results = c:handling_units_many({ { reference = "MSCU", limit = 3 }, "CGMU2436601" })
      assert.are.equal(getmetatable(one), getmetatable(results[1]))
      assert.are.same(one, results[1])
      local seen = {}
      for hu in results[1]:iter { max_items = 8 } do seen[#seen + 1] = hu.reference end
      assert.are.equal(8, #seen)
      local want = {}
      for hu in one:iter { max_items = 8 } do want[#want + 1] = hu.reference end
      assert.are.same(want, seen)
      assert.are.equal("CNI0000063978", results[2].items[1].pswId)
      c:close()
    end)

    it("come back empty for an empty list, with no request", function()
      local c = S.client()
      local results, counts = c:handling_units_many({})
      assert.are.same({}, results)
      assert.are.same({ ok = 0, failed = 0 }, counts)
      local st = S.stats()
      assert.are.equal(0, st.api_requests)
      assert.are.equal(0, st.token_requests)
      c:close()
    end)
  end)

  describe("on_result", function()
    it("hands each answer over as it comes, keeping none, with the answers results would hold",
      function()
      local refs = known(6)
      local queries = { refs[1], "ZZZZ1000000", { spi = "CNI0000063978" }, refs[2],
        { reference = "MSCU", limit = 2 }, { search = { documentReference = "3714238101" } },
        { reference = "CGMU2436601", exact = true }, refs[3], refs[4], refs[5], refs[6] }
      local c = S.client()
      local want, want_counts = c:handling_units_many(queries, { concurrency = 3 })
      S.reset()
      local got, order, sent_at = {}, {}, {}
      local results, counts = c:handling_units_many(queries, { concurrency = 2,
        on_result = function(i, r)
          assert.is_nil(got[i], "entry " .. i .. " twice")
          got[i], order[#order + 1] = r, i
          sent_at[i] = S.stats().api_requests
        end })
      assert.are.same({}, results)
      assert.are.same(want_counts, counts)
      assert.are.equal(#queries, #order)
      for i = 1, #queries do
        assert.are.same(want[i], got[i], "entry " .. i)
        assert.are.equal(getmetatable(want[i]), getmetatable(got[i]))
      end
      -- answers came while the batch went on: the first before the last
      -- request was sent (two in flight at most)
      assert.truthy(sent_at[order[1]] <= 3, sent_at[order[1]])
      assert.are.equal(#queries, S.stats().api_requests)
      -- a page handed over still pages on
      local seen = 0
      for _ in got[5]:iter { max_items = 5 } do seen = seen + 1 end
      assert.are.equal(5, seen)
      c:close()
    end)

    it("ends the batch with an error it raises, the client free for the next call", function()
      local c = S.client()
      local queries = known(20)
      local calls = 0
      local ok, err = pcall(c.handling_units_many, c, queries, { concurrency = 2,
        on_result = function(i) calls = calls + 1; error({ stopped_at = i }) end })
      assert.is_false(ok)
      assert.are.equal("table", type(err))
      assert.is_number(err.stopped_at)
      assert.are.equal(1, calls)
      -- the lookups not begun were never sent
      assert.truthy(S.stats().api_requests <= 3, S.stats().api_requests)
      assert.are.equal(1, c:handling_units("CGMU2436601").total)
      -- the client cannot be used from it
      ok, err = pcall(c.handling_units_many, c, { "CGMU2436601" }, {
        on_result = function() return c:handling_units "CGMU2436601" end })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("this client is in the middle of a call", 1, true),
        tostring(err))
      assert.are.equal(1, c:handling_units("CGMU2436601").total)
      c:close()
    end)
    it("takes a hook it sets for no Ctrl-C", function()
      -- (in a process of its own: the main thread's hook is Ctrl-C's)
      local chunk = [[
        local soget = require "soget"
        local c = soget.client { base_url = BASE, token_url = TOKEN, client_id = ID,
          client_secret = SECRET, api_key = KEY, ca_file = CA }
        local refs = {}
        for i = 1, 12 do refs[i] = ("MSCU%07d"):format(i) end
        local set = false
        local _, counts = c:handling_units_many(refs, { concurrency = 2, on_result = function()
          if not set then set = true; debug.sethook(function() end, "", 1) end
        end })
        debug.sethook()
        print(counts.ok, counts.failed)
        c:close()
      ]]
      local given = ("BASE, TOKEN, ID, SECRET, KEY, CA = %q, %q, %q, %q, %q, %q; "):format(
        S.base_url, S.token_url, S.client_id, S.client_secret, S.api_key, S.ca_file)
      local out = S.popen_read(S.lua .. " -e " .. S.shell_quote("package.cpath = "
        .. ("%q"):format(package.cpath) .. "; " .. given .. chunk) .. " 2>&1")
      assert.are.equal("12\t0\n", out)
    end)
  end)

  describe("partial failure", function()
    it("retries inside the batch and keeps an API refusal to its own entry", function()
      local refs = known(6)
      local queries = {}
      for _, r in ipairs(refs) do queries[#queries + 1] = r end
      table.insert(queries, 4, { spi = "CNI-0000" })          -- the API answers R003
      -- the first three API requests of the batch get a 503
      local c = S.client { base_url = S.fault_base("503-then-ok:n=3:id=" .. S.uid("bulk")),
                           retries = 3 }
      local results, counts = c:handling_units_many(queries, { concurrency = 4 })
      for i, q in ipairs(queries) do
        if i == 4 then
          assert.is_true(is_error(results[i]))
          assert.are.equal("api", results[i].kind)
          assert.are.equal(400, results[i].status)
          assert.are.equal("R003", results[i].code)
          assert.is_false(results[i].retryable)
        else
          assert.is_false(is_error(results[i]), tostring(results[i]))
          assert.are.equal(q, results[i].items[1].reference)
        end
      end
      assert.are.same({ ok = 6, failed = 1 }, counts)
      assert.are.equal(3, c:stats().retries)
      assert.are.equal(3, S.stats().statuses["503"])
      c:close()
    end)

    it("waits out one call's Retry-After without holding up the others", function()
      local refs = known(5)
      local fault = "503-then-ok:n=1:retry-after=1:id=" .. S.uid("ra")
      local c = S.client { base_url = S.fault_base(fault) }
      local results, counts = c:handling_units_many(refs, { concurrency = 5 })
      assert.are.same({ ok = 5, failed = 0 }, counts)
      local reqs = api_requests(20, fault)
      assert.are.equal(6, #reqs)
      local first, retried = reqs[1].time, reqs[#reqs]
      assert.are.equal(503, reqs[1].status)
      for i = 2, 5 do
        assert.are.equal(200, reqs[i].status)
        assert.is_true(reqs[i].time - first < 0.5, "request " .. i .. " was held up")
      end
      assert.are.equal(200, retried.status)
      assert.is_true(retried.time - first >= 0.99, "Retry-After was honoured")
      assert.are.equal(1, c:stats().retries)
      for i, r in ipairs(refs) do assert.are.equal(r, results[i].items[1].reference) end
      c:close()
    end)

    it("ends every call at its own deadline", function()
      local c = S.client { base_url = S.fault_base("delay:ms=1500:id=" .. S.uid("slow")),
                           timeout = 0.3 }
      local t0 = now()
      local results, counts = c:handling_units_many({ "CGMU2436601", "CSQU3054383", "MSCU" },
        { concurrency = 3 })
      local elapsed = now() - t0
      assert.are.same({ ok = 0, failed = 3 }, counts)
      for i = 1, 3 do
        assert.is_true(is_error(results[i]))
        assert.are.equal("timeout", results[i].kind)
      end
      assert.is_true(elapsed < 1.4, "the calls waited for the server past their deadline")
      c:close()
      os.execute("sleep 1.3")   -- the sandbox finishes them before the next spec
    end)

    it("ends at their deadline the lookups that waited for a connection being made", function()
      -- over https, the batch's lookups wait for its first connection (to
      -- learn whether it multiplexes); to a listener that never completes
      -- one, libcurl kept those past their deadline (2.7 s for a 2 s
      -- timeout): the batch now ends each at its own
      P.with_relay("stall", nil, "listener that never accepts", function(stall)
        local c = S.client { access_token = "tok-stall-0123456789",
          base_url = stall.url:gsub("^http:", "https:") .. "/api-tracing-code/v1",
          connect_timeout = 1.5, timeout = 2, retries = 0 }
        local t0 = now()
        local results, counts = c:handling_units_many({ "A1", "B2", "C3", "D4" },
          { concurrency = 4 })
        local elapsed = now() - t0
        assert.are.same({ ok = 0, failed = 4 }, counts)
        local waited = 0
        for i = 1, 4 do
          local m = results[i].message
          assert.are.equal("timeout", results[i].kind, m)
          -- libcurl names a resolve it never made ("Failed to resolve host
          -- '127.0.0.1' with timeout after 0 ms") for those that waited
          assert.is_nil(m:find("resolve", 1, true), m)
          if m:find("(the request out then: Timed out after 2000 milliseconds waiting for the "
              .. "connection another lookup of the batch was making)", 1, true) then
            waited = waited + 1
          end
        end
        assert.is_true(waited >= 1, "no lookup said it waited for the batch's connection")
        assert.is_true(elapsed < 2.5, ("the batch took %.2f s for a 2 s timeout"):format(elapsed))
        c:close()
      end)
    end)

    it("gives every entry the error of a refused token request, fetched once", function()
      local c = S.client { client_secret = "wrong" }
      local results, counts = c:handling_units_many({ "CGMU2436601", "CSQU3054383", "MSCU", "X" },
        { concurrency = 2 })
      assert.are.same({ ok = 0, failed = 4 }, counts)
      for i = 1, 4 do
        assert.are.equal("auth", results[i].kind)
        assert.are.equal(results[1].message, results[i].message)
      end
      local st = S.stats()
      assert.are.equal(1, st.token_requests)
      assert.are.equal(0, st.api_requests)
      c:close()
    end)
  end)

  describe("concurrency", function()
    it("runs a batch under a low limit of open files, fewer at once", function()
      if S.under_checker() then return pending("the checker's own files under the limit") end
      -- poll() refuses more entries than the process may open files, and
      -- libcurl polls one per transfer: 63 of 64 failed at once as
      -- "Unrecoverable error in select/poll"
      local out = S.lua_child([[
        local S = require "support"
        local c = S.client()
        local refs = {}
        for i = 1, 64 do refs[i] = ("MSCU%07d"):format(i) end
        local results, counts = c:handling_units_many(refs, { concurrency = 64 })
        for _, r in ipairs(results) do
          if not r.items then io.write(tostring(r), "\n") end
        end
        io.write(counts.ok, " ", counts.failed, "\n")
        c:close()
      ]], "ulimit -n 24;")
      assert.are.equal("64 0\n", out)
    end)

    it("keeps at most `concurrency` requests in flight", function()
      local refs = known(12)
      local fault = "delay:ms=300:id=" .. S.uid("conc")
      local c = S.client { base_url = S.fault_base(fault) }
      local t0 = now()
      local results, counts = c:handling_units_many(refs, { concurrency = 4 })
      local elapsed = now() - t0
      assert.are.same({ ok = 12, failed = 0 }, counts)
      for i, r in ipairs(refs) do assert.are.equal(r, results[i].items[1].reference) end
      -- 12 requests of at least 0.3 s each, 4 at a time: at least 3 rounds
      assert.is_true(elapsed >= 0.9, string.format("took %.3f s", elapsed))
      -- Every request the sandbox started less than 0.3 s after another one
      -- began was still in flight alongside it: counting them gives a lower
      -- bound of what was in flight at once (log times are in ms).
      local reqs = api_requests(40, fault)
      assert.are.equal(12, #reqs)
      local most = 0
      for _, a in ipairs(reqs) do
        local n = 0
        for _, b in ipairs(reqs) do
          if b.time >= a.time and b.time - a.time < 0.295 then n = n + 1 end
        end
        if n > most then most = n end
      end
      assert.is_true(most <= 4, most .. " requests in flight at once")
      assert.is_true(most >= 2, "the requests ran one after another")
      c:close()
    end)

    it("multiplexes over one HTTP/2 connection, reused by later batches", function()
      local refs = known(10)
      local c = S.client()
      local r1 = c:handling_units_many(refs, { concurrency = 8 })
      local conns = c:stats().connections
      local first = {}
      for _, r in ipairs(api_requests(20)) do
        first[r.connection] = true
        assert.are.equal("2.0", r.http_version)
      end
      S.reset()
      local r2 = c:handling_units_many(refs, { concurrency = 8 })
      assert.are.equal(conns, c:stats().connections)
      assert.are.equal(1, conns)
      for _, r in ipairs(api_requests(20)) do
        assert.is_true(first[r.connection], "a new connection was opened")
      end
      for i = 1, #refs do
        assert.are.equal(refs[i], r1[i].items[1].reference)
        assert.are.equal(refs[i], r2[i].items[1].reference)
      end
      c:close()
    end)

    it("runs its lookups side by side over HTTP/1.1 too, from its first connection", function()
      -- With the token already held, the batch opens the first connection
      -- itself: waiting to learn whether it multiplexes (it cannot, over
      -- plain HTTP) ran the lookups one after another, and those queued
      -- behind a 2 s answer ran out of their 3 s.
      local refs = known(4)
      local c = S.client { base_url = S.fault_base("delay:ms=2000", "http"), timeout = 3 }
      assert(c:token())
      local results, counts = c:handling_units_many(refs, { concurrency = 8 })
      for i, r in ipairs(results) do
        assert.are.equal(refs[i], r.items and r.items[1].reference, tostring(r.message))
      end
      assert.are.same({ ok = 4, failed = 0 }, counts)
      c:close()
    end)

    it("reuses its HTTP/1.1 connections across batches", function()
      local refs = known(8)
      local c = S.client { base_url = S.fault_base("delay:ms=50", "http") }
      c:handling_units_many(refs, { concurrency = 4 })
      local conns = c:stats().connections
      assert.is_true(conns >= 2 and conns <= 5, conns .. " connections")   -- + the token's
      c:handling_units_many(refs, { concurrency = 4 })
      c:handling_units_many(refs, { concurrency = 2 })
      assert.are.equal(conns, c:stats().connections)
      c:close()
    end)
  end)

  describe("token", function()
    it("is fetched once for the whole batch", function()
      local refs = known(20)
      local c = S.client()
      local _, counts = c:handling_units_many(refs, { concurrency = 8 })
      assert.are.same({ ok = 20, failed = 0 }, counts)
      local st = S.stats()
      assert.are.equal(1, st.token_requests)
      assert.are.equal(20, st.api_requests)
      assert.are.same({ api_requests = 20, token_requests = 1, retries = 0, connections = 1 },
        c:stats())
      -- and the next batch uses it too
      c:handling_units_many(refs, { concurrency = 8 })
      assert.are.equal(1, S.stats().token_requests)
      c:close()
    end)

    it("is asked for once when the token host does not answer: the waiting lookups fail with it", function()
      -- a listener whose backlog is full: no connection to it is ever made
      P.with_relay("stall", nil, "listener that never accepts", function(stall)
        local c = S.client { token_url = stall.url .. "/token", connect_timeout = 1, timeout = 6 }
        local results, counts = c:handling_units_many(known(4), { concurrency = 4 })
        assert.are.same({ ok = 0, failed = 4 }, counts)
        for _, r in ipairs(results) do
          assert.are.equal("timeout", r.kind, r.message)
          assert.truthy(r.message:find("^token request: "), r.message)
        end
        -- one token request: the others did not each try in turn until
        -- their deadline
        assert.are.equal(1, c:stats().token_requests)
        c:close()
      end)
    end)

    it("is asked for once when the token host takes the request and never answers", function()
      -- the token request times out at its lookup's deadline: with one
      -- lookup at a time, each of the others would wait a whole timeout
      -- for a token request of its own
      for _, concurrency in ipairs { 1, 3 } do
        local c = S.client { token_url = S.fault_token("delay:ms=8000"), timeout = 1, retries = 0 }
        local t0 = S.now()
        local results, counts = c:handling_units_many(known(5), { concurrency = concurrency })
        local took = S.now() - t0
        assert.are.same({ ok = 0, failed = 5 }, counts)
        for _, r in ipairs(results) do
          assert.are.equal("timeout", r.kind, r.message)
          -- (a lookup that waited for it may see its own deadline first)
          assert.truthy(r.message:find("^token request: timeout reached %(1 s%)")
            or r.message == "timeout reached (1 s) before the call completed (waiting for "
              .. "the token another call requested)", r.message)
        end
        assert.are.equal(1, c:stats().token_requests)
        assert.is_true(took < 3, took .. " s for " .. concurrency)
        c:close()
      end
    end)

    it("is renewed once when it is refused mid-batch", function()
      local refs = known(10)
      -- every token is refused from its seventh request on
      local c = S.client { base_url = S.fault_base("expire-token:after=6:id=" .. S.uid("exp")) }
      assert(c:handling_units(refs[1]))
      local results, counts = c:handling_units_many(refs, { concurrency = 4 })
      assert.are.same({ ok = 10, failed = 0 }, counts)
      for i, r in ipairs(refs) do assert.are.equal(r, results[i].items[1].reference) end
      assert.are.equal(2, S.stats().token_requests)
      c:close()
    end)

    it("is renewed at most once in a batch when the API keeps refusing", function()
      local c = S.client { api_key = "not-the-key" }
      local results, counts = c:handling_units_many(known(8), { concurrency = 4 })
      assert.are.same({ ok = 0, failed = 8 }, counts)
      for i = 1, 8 do
        assert.are.equal("auth", results[i].kind)
        assert.are.equal(401, results[i].status)
      end
      assert.are.equal(2, S.stats().token_requests)
      c:close()
    end)

    it("is renewed once more by a lookup that starts after a renewal was refused too", function()
      -- two tokens revoked in a row (401 invalid_token, then normal
      -- answers): the lookup that met them fails; the next ones, started
      -- after, renew once as blocking calls do, where every lookup left
      -- in the batch failed as auth, not retryable, with the revoked token
      local refs = known(3)
      local c = S.client { base_url = S.fault_base("revoke-token:n=2:id=" .. S.uid("revoke")) }
      local results, counts = c:handling_units_many(refs, { concurrency = 1 })
      assert.are.equal("auth", results[1].kind)
      assert.are.equal(401, results[1].status)
      assert.are.same({ ok = 2, failed = 1 }, counts)
      for i = 2, 3 do assert.are.equal(refs[i], results[i].items[1].reference) end
      local st = S.stats()
      assert.are.equal(3, st.token_requests)   -- the first, its renewal, the next lookup's
      assert.are.equal(2 + 2 + 1, st.api_requests)
      c:close()
    end)

    it("stops renewing once three renewed tokens in a row were refused", function()
      -- every token refused at its first use, the 401 naming it: the
      -- lookups started after a double refusal renew once each, until
      -- three renewals in a row were refused; the rest send one request
      local c = S.client { base_url = S.fault_base("revoke-token") }
      local results, counts = c:handling_units_many(known(6), { concurrency = 1 })
      assert.are.same({ ok = 0, failed = 6 }, counts)
      for i = 1, 6 do assert.are.equal("auth", results[i].kind) end
      local st = S.stats()
      assert.are.equal(1 + 3, st.token_requests)
      assert.are.equal(2 + 2 + 2 + 1 + 1 + 1, st.api_requests)
      c:close()
    end)
  end)

  describe("arguments", function()
    local c
    before_each(function() c = S.client() end)
    after_each(function() c:close() end)

    local function raises(pattern, ...)
      local args = { ... }
      local ok, err = pcall(function() return c:handling_units_many(unpack(args)) end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(pattern), tostring(err))
    end

    it("are checked before any request, naming the bad query's index", function()
      raises("query 3: 'limit' must be between 1 and 10",
        { "CGMU2436601", { spi = "CNI0000063978" }, { reference = "MSCU", limit = 11 } })
      raises("query 2: unknown query key 'ref'", { "CGMU2436601", { ref = "X" } })
      raises("query 1: give a reference or an spi", { "" })
      raises("query 2: 'reference' is longer than 17 characters",
        { "CGMU2436601", "ABCDEFGHIJKLMNOPQRSTUVWXYZ" })
      raises("query 2: query must be a table or a reference string, got number", { "A", 5 })
      raises("queries must be a table", "CGMU2436601")
      raises("queries must be a list", { "CGMU2436601", x = "MSCU" })
      raises("queries must be a list", { [1] = "CGMU2436601", [3] = "MSCU" })
      local st = S.stats()
      assert.are.equal(0, st.api_requests)
      assert.are.equal(0, st.token_requests)
    end)

    it("take a concurrency from 1 to 64 and no other option", function()
      raises("unknown option 'concurency'", { "CGMU2436601" }, { concurency = 2 })
      raises("'concurrency' must be a whole number between 1 and 64", { "A" }, { concurrency = 0 })
      raises("'concurrency' must be a whole number between 1 and 64", { "A" }, { concurrency = 65 })
      raises("'concurrency' must be a whole number between 1 and 64", { "A" }, { concurrency = 1.5 })
      raises("'concurrency' must be a number, got string", { "A" }, { concurrency = "8" })
      raises("options must be a table", { "A" }, 8)
      raises("'on_result' must be a function, got number", { "A" }, { on_result = 1 })
      assert.are.equal(0, S.stats().api_requests)
      local r, n = c:handling_units_many({ "CGMU2436601" }, { concurrency = 64 })
      assert.are.equal(1, r[1].total)
      assert.are.same({ ok = 1, failed = 0 }, n)
    end)

    it("refuse a closed client", function()
      local d = S.client()
      d:close()
      local ok, err = pcall(d.handling_units_many, d, { "CGMU2436601" })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("closed client"))
      -- (nothing runs while the arguments are read, which could close it:
      -- an options table is read raw, client_spec.lua)
    end)
  end)

  describe("memory", function()
    it("keeps no large body in its idle handles once a batch has read it", function()
      -- (a checker's allocator keeps what is freed: no resident size to read)
      if S.under_checker() then return pending("resident size under a memory checker") end
      -- 16 pages of 3 MB at once: each handle's buffer grew to 4 MiB; the
      -- batch over, none is held.
      local out = S.lua_child [[
        local S = require "support"
        local c = S.client{ base_url = S.fault_base("huge:bytes=3000000"), timeout = 60 }
        local refs = {}
        for i = 1, 16 do refs[i] = "CGMU2436601" end
        local r = c:handling_units_many({ "CGMU2436601" }, { concurrency = 1 })
        assert(r[1].items, tostring(r[1]))
        local before = S.rss()
        r = c:handling_units_many(refs, { concurrency = 16 })
        for i = 1, 16 do assert(r[i].items, tostring(r[i])) end
        r = nil
        io.write(math.floor((S.rss() - before) / 1048576), "\n")
        c:close()
      ]]
      local grew = tonumber(out:match("^(%-?%d+)\n$"))
      assert.truthy(grew, out)
      assert.truthy(grew < 24, "resident size grew by " .. tostring(grew) .. " MiB")
    end)
  end)

  describe("lifetime", function()
    it("frees its handles with the client, closed or collected", function()
      local refs = known(6)
      for _ = 1, 3 do
        local c = S.client()
        c:handling_units_many(refs, { concurrency = 3 })
        c:handling_units_many(refs, { concurrency = 6 })
        if _ % 2 == 0 then c:close() end
        c = nil   -- luacheck: ignore 311 (let go, for the collector)
        collectgarbage()
        collectgarbage()
      end
      -- a client used by both the blocking path and batches
      local c = S.client()
      assert(c:handling_units(refs[1]))
      local r = c:handling_units_many(refs)
      assert(c:handling_units(refs[2]))
      assert.are.equal(refs[6], r[6].items[1].reference)
      assert.are.equal(4, S.stats().token_requests)
      c:close()
      assert.are.equal("soget.Client (closed)", tostring(c))
    end)
  end)
end)
