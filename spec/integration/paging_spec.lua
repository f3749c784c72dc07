-- Lazy paging: further pages are fetched only when the current one is used
-- up, with the same filters; the walk always ends, whatever the server says.
local S = require "support"

local PREFIX = "MSCU"   -- a prefix with more than 100 units in the sandbox

local function offsets_asked()
  local out = {}
  for _, r in ipairs(S.requests(200)) do
    if r.path:find("/handling%-units$") then out[#out + 1] = tonumber(r.args.offset or "0") end
  end
  return out
end

describe("paging", function()
  local client
  before_each(function()
    client = S.client()
    assert(client:token())
    S.reset()
  end)
  after_each(function() client:close() end)

  it("fetches nothing more until the first page is used up", function()
    local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
    assert.truthy(page.total > 100, "the sandbox's big prefix")
    assert.are.equal(1, S.stats().api_requests)
    local it = page:iter()
    for _ = 1, 10 do assert.is_table(it()) end
    assert.are.equal(1, S.stats().api_requests)
    assert.is_table(it())                         -- the 11th item
    assert.are.equal(2, S.stats().api_requests)
    it:close()
  end)

  it("walks every match once, asking offset = first + returned", function()
    local page = assert(client:handling_units{ reference = PREFIX, limit = 10, desc = true })
    local seen, n = {}, 0
    local it = page:iter()
    for hu in it do
      n = n + 1
      assert.is_nil(seen[hu.pswId], "no unit twice")
      seen[hu.pswId] = true
      assert.are.equal(PREFIX, hu.reference:sub(1, #PREFIX))
    end
    assert.are.equal(page.total, n)
    assert.are.equal("total reached", it:stats().why)
    local offs = offsets_asked()
    assert.are.equal(math.ceil(page.total / 10), #offs)
    for i, o in ipairs(offs) do assert.are.equal((i - 1) * 10, o) end
    for _, r in ipairs(S.requests(200)) do     -- same filters and page size
      assert.are.equal(PREFIX, r.args.reference)
      assert.are.equal("10", r.args.limit)
      assert.are.equal("true", r.args.desc)
    end
  end)

  it("starts from the query's offset", function()
    local page = assert(client:handling_units{ reference = PREFIX, limit = 10, offset = 95 })
    local n = 0
    for _ in page:iter() do n = n + 1 end
    assert.are.equal(page.total - 95, n)
  end)

  it("caps the walk with max_items and max_pages", function()
    local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
    local n = 0
    for _ in page:iter{ max_items = 15 } do n = n + 1 end
    assert.are.equal(15, n)
    assert.are.equal(2, S.stats().api_requests)
    S.reset()
    n = 0
    for _ in page:iter{ max_pages = 3 } do n = n + 1 end
    assert.are.equal(30, n)
    assert.are.equal(2, S.stats().api_requests)    -- the first page is in hand
    assert.has_error(function() page:iter{ max_items = 0 } end)
    assert.has_error(function() page:iter{ max_items = 1.5 } end)
    assert.has_error(function() page:iter{ bogus = 1 } end)
  end)

  it("reads on to the listing's first empty page when its pages give no total", function()
    -- the decoder's guess for a missing total (first + returned) ended the
    -- walk after a full first page, as if the listing held no more
    local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
    local want = {}
    for hu in page:iter() do want[#want + 1] = hu.pswId end
    local nt = S.client{ base_url = S.fault_base("no-total") }
    page = assert(nt:handling_units{ reference = PREFIX, limit = 10 })
    assert.are.equal(10, page.total)   -- the guess scripts see, as documented
    S.reset()
    local it = page:iter()
    local got = {}
    for hu in it do got[#got + 1] = hu.pswId end
    assert.are.same(want, got)
    assert.are.equal("empty page", it:stats().why)
    -- one request past the last page: the empty one
    assert.are.equal(math.ceil(#want / 10), S.stats().api_requests)
    nt:close()
  end)

  it("says the listing's end when max_items ends the walk at its last unit", function()
    -- why was nil there, as if the walk had been cut short: a script
    -- checking for "total reached" thought units were left
    local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
    local total = page.total
    for _, cap in ipairs { total, total + 1, total - 1 } do
      local it = page:iter{ max_items = cap }
      local n = 0
      for _ in it do n = n + 1 end
      assert.are.equal(math.min(cap, total), n)
      if cap < total then assert.is_nil(it:stats().why, cap)
      else assert.are.equal("total reached", it:stats().why, cap) end
    end
    -- a one-unit listing, max_items = 1
    local one = assert(client:handling_units("CGMU2436601"))
    assert.are.equal(1, one.total)
    local it = one:iter{ max_items = 1 }
    for _ in it do end
    assert.are.equal("total reached", it:stats().why)
  end)

  it("yields nothing for an empty page and asks nothing more", function()
    local page = assert(client:handling_units("ZZZZ9999999"))
    for _ in page:iter() do error("nothing to yield") end
    assert.are.equal(1, S.stats().api_requests)
  end)

  for _, mode in ipairs{ "first", "returned", "total-grows", "stuck", "short" } do
    it("ends on inconsistent paging numbers (" .. mode .. ") without repeating an offset", function()
      local c = S.client{ base_url = S.fault_base("inconsistent:mode=" .. mode) }
      local page = assert(c:handling_units{ reference = PREFIX, limit = 10 })
      local n, units = 0, {}
      for hu in page:iter() do
        n = n + 1
        assert.truthy(n <= 1000, "bounded")
        assert.is_nil(units[hu.pswId], hu.pswId .. " yielded twice")
        units[hu.pswId] = true
      end
      local seen = {}
      for _, o in ipairs(offsets_asked()) do
        assert.is_nil(seen[o], "offset " .. o .. " asked twice")
        seen[o] = true
      end
      assert.truthy(S.stats().api_requests <= 1 + math.ceil(page.total / 10))
      c:close()
    end)
  end

  it("does not yield a unit twice when the data shifts between pages", function()
    local c = S.client{ base_url = S.fault_base("shift:n=3") }
    local page = assert(c:handling_units{ reference = PREFIX, limit = 10 })
    local seen, n = {}, 0
    for hu in page:iter{ max_pages = 4 } do
      assert.is_nil(seen[hu.pswId], hu.pswId)
      seen[hu.pswId] = true
      n = n + 1
    end
    assert.truthy(n < 40, "shifted units were skipped")
    assert.truthy(n >= 31)
    c:close()
  end)

  -- The pager's uservalue: what it remembers between two units.
  local function memory(it)
    if debug.getuservalue then return (debug.getuservalue(it, 1)) end
    return debug.getfenv(it)
  end

  local function count(t)
    local n = 0
    for _ in pairs(t or {}) do n = n + 1 end
    return n
  end

  it("yields a unit repeated on every page once, and remembers two pages at most", function()
    local c = S.client{ base_url = S.fault_base("repeat-unit") }
    local page = assert(c:handling_units{ reference = PREFIX, limit = 10 })
    local again = page.items[1].pswId   -- on every page of this walk
    local it = page:iter()
    local seen, n, most = {}, 0, 0
    for hu in it do
      assert.is_nil(seen[hu.pswId], hu.pswId .. " yielded twice")
      seen[hu.pswId] = true
      n = n + 1
      local m = memory(it)
      assert.is_table(m.seen)
      local ids = count(m.seen) + count(m.prev)
      if ids > most then most = ids end
    end
    assert.is_true(seen[again])
    local pages, want = math.ceil(page.total / 10), 10
    for o = 10, page.total - 1, 10 do               -- later pages: the unit, then 9 new ones
      want = want + math.min(9, page.total - o)
    end
    assert.are.equal(want, n)
    assert.are.equal(pages, S.stats().api_requests)
    -- its last page is one unit over the total (the repeated one): the
    -- walk says its end may have missed units, as it did
    assert.are.equal("a page holds more units than its total", it:stats().why)
    assert.truthy(most <= 20, "ids of two pages at most, not " .. most)
    c:close()
  end)

  it("stops after the first page that brings no new unit, and says why", function()
    -- One unit at every offset, under a lying total of 201: without the
    -- stop, 201 requests.
    local c = S.client{ base_url = S.fault_base("repeat-unit:keep=0:total=201") }
    local page = assert(c:handling_units{ reference = PREFIX, limit = 10 })
    assert.are.equal(201, page.total)
    local it = page:iter()
    local n = 0
    for hu in it do
      n = n + 1
      assert.are.equal(page.items[1].pswId, hu.pswId)
    end
    assert.are.equal(1, n)
    assert.are.equal(2, S.stats().api_requests)
    local st = it:stats()
    assert.are.equal("no new units", st.why)
    assert.are.equal(2, st.pages)
    assert.are.equal(1, st.yielded)
    assert.is_true(st.done)
    c:close()
  end)

  it("stops a manual pager on a page that brings no new unit", function()
    local q = { reference = PREFIX, limit = 10 }
    local c = S.client{ base_url = S.fault_base("repeat-unit:keep=0:total=201") }
    local it = assert(c:handling_units(q)):iter{ manual = true }
    local n, fetches = 0, 0
    while true do
      local hu, need, offset = it:next()
      if hu then
        n = n + 1
      elseif need == "fetch" then
        fetches = fetches + 1
        assert.truthy(fetches <= 201, "bounded")
        q.offset = offset
        it:feed(assert(c:handling_units(q)), offset)
      else
        break
      end
    end
    assert.are.equal(1, n)
    assert.are.equal(1, fetches)
    assert.are.equal("no new units", it:stats().why)
    c:close()
  end)

  it("hands out a copy of the query: what a script changes in it reaches no other pager", function()
    for _, query in ipairs({ { reference = PREFIX, limit = 2 },
                             { search = { documentReference = "3714238101", limit = 2 } } }) do
      local c = S.client()
      local page
      if query.search then page = assert(c:handling_units_search(query.search))
      else page = assert(c:handling_units(query)) end
      local it = page:iter{ manual = true }
      local hu, need, offset, q
      repeat hu, need, offset, q = it:next() until not hu
      assert.are.equal("fetch", need)
      assert.are.equal(2, offset)
      local p = q.search or q
      assert.are.equal(2, p.limit)
      p.reference, p.documentReference, p.limit = "CGMU\r\n" .. ("Z"):rep(3000), "NO-SUCH-BL", 1
      q.offset, q.exact, q.search = 7, true, nil
      S.reset()
      local n = 0
      for _ in page:iter{ max_pages = 2 } do n = n + 1 end
      assert.are.equal(4, n)
      local asked = 0
      for _, r in ipairs(S.requests(10)) do
        if r.kind == "api" or r.kind == "search" then
          asked = asked + 1
          assert.are.equal("2", r.args.limit, r.raw_query)
          assert.are.equal("2", r.args.offset, r.raw_query)
          assert.are.equal(query.search and "3714238101" or PREFIX,
            r.args.documentReference or r.args.reference, r.raw_query)
          assert.are.equal(200, r.status, r.raw_query)
        end
      end
      assert.are.equal(1, asked)
      -- and the next copy is the page's query as it was
      local again = page:iter{ manual = true }
      local _, q2
      repeat hu, need, _, q2 = again:next() until not hu
      assert.are.equal("fetch", need)
      assert.are_not.equal(q, q2)
      assert.are.same(query, q2)
      c:close()
    end
  end)

  it("fetches with a page size in range even when the query a manual pager handed out was changed", function()
    -- next() hands out a copy of the page's query; the automatic pager
    -- reads the page's own: a limit no check would let through is left
    -- out (the server's default), never cast
    for _, bad in ipairs({ 1e9, -1e300, 0 / 0, 2.5e15, -1 }) do
      local c = S.client()
      local page = assert(c:handling_units{ reference = PREFIX, limit = 2 })
      local it = page:iter{ manual = true }
      assert(it:next())
      assert(it:next())
      local hu, need, offset, q = it:next()
      assert.is_nil(hu)
      assert.are.equal("fetch", need)
      assert.are.equal(2, offset)
      q.limit = bad
      S.reset()
      local n = 0
      local walk = page:iter{ max_pages = 2 }
      for _ in walk do n = n + 1 end
      assert.truthy(n > 2, n .. " " .. tostring(walk:stats().why))
      for _, r in ipairs(S.requests(10)) do
        if r.kind == "api" then
          local limit = r.args.limit and tonumber(r.args.limit)
          assert.truthy(limit == nil or (limit >= 1 and limit <= 10), r.raw_query)
          assert.truthy(tonumber(r.args.offset or "0") < 1000, r.raw_query)
          assert.are.equal(200, r.status, r.raw_query)
        end
      end
      c:close()
    end
  end)

  it("stops when the listing shifts by a whole page (every unit of the page already yielded)", function()
    local c = S.client{ base_url = S.fault_base("shift:n=10") }
    local page = assert(c:handling_units{ reference = PREFIX, limit = 10 })
    local it = page:iter()
    local n = 0
    for _ in it do n = n + 1 end
    assert.are.equal(10, n)
    assert.are.equal(2, S.stats().api_requests)
    assert.are.equal("no new units", it:stats().why)
    c:close()
  end)

  it("renews the token when it expires in the middle of the walk", function()
    local c = S.client{ base_url = S.fault_base("expire-token:after=2") }
    local page = assert(c:handling_units{ reference = PREFIX, limit = 10 })
    local n = 0
    for _ in page:iter{ max_pages = 6 } do n = n + 1 end
    assert.are.equal(60, n)
    assert.truthy(S.stats().token_requests >= 2)
    c:close()
  end)

  it("raises the soget.Error when a later page fails", function()
    -- The token stops working after the first page and cannot be renewed
    -- (wrong client secret): the second page fails with kind 'auth'.
    local token = assert(client:token())
    local c = require("soget").client{ access_token = token, api_key = S.api_key,
      client_id = S.client_id, client_secret = "wrong-secret",
      base_url = S.fault_base("expire-token:after=1"), ca_file = S.ca_file }
    local page = assert(c:handling_units{ reference = PREFIX, limit = 10 })
    local n = 0
    local ok, e = pcall(function()
      for _ in page:iter() do n = n + 1 end
    end)
    assert.is_false(ok)
    assert.are.equal(10, n)
    assert.are.equal("table", type(e))
    assert.are.equal("auth", e.kind)
    assert.truthy(tostring(e):find("^soget: auth: "), tostring(e))
    c:close()
  end)

  it("keeps its client alive while it iterates", function()
    local it
    do
      local c = S.client()
      local page = assert(c:handling_units{ reference = PREFIX, limit = 10 })
      it = page:iter{ max_pages = 3 }
    end
    collectgarbage(); collectgarbage()
    local n = 0
    for _ in it do n = n + 1 end
    assert.are.equal(30, n)
  end)

  it("returns itself as a to-be-closed fourth value, and closes", function()
    local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
    local f, s, ctl, closing = page:iter()
    assert.are.equal(f, closing)
    assert.is_nil(s); assert.is_nil(ctl)
    assert.truthy(tostring(f):find("^soget%.Pager %("))
    assert.is_table(f())
    f:close()
    assert.is_nil(f())
    assert.are.equal("soget.Pager (closed)", tostring(f))
    f:close()
  end)

  it("can be driven by hand: manual pagers ask for each page", function()
    local page = assert(client:handling_units{ reference = PREFIX, limit = 10 })
    local it = page:iter{ manual = true, max_pages = 3 }
    local n, fetches = 0, 0
    while true do
      local hu, need, offset, query = it:next()
      if hu then
        n = n + 1
      elseif need == "fetch" then
        fetches = fetches + 1
        assert.are.equal(PREFIX, query.reference)
        it:feed(assert(client:handling_units{ reference = PREFIX, limit = 10, offset = offset }), offset)
      else
        break
      end
    end
    assert.are.equal(30, n)
    assert.are.equal(2, fetches)
  end)
end)
