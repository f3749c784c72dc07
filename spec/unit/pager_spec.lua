-- page:iter() with no I/O: pages come from soget.Call steps or are fed to
-- a manual pager; checks what the walk asks for next and what it says
-- (it:stats()) while and after it reads the last page.
local soget = require "soget"

local function client()
  return soget.client{ base_url = "https://api.example.test/v1",
    token_url = "https://auth.example.test/token", api_key = "key-0123456789abcdef",
    access_token = "tok-static-1234", retries = 0,
    search_base_url = "https://api.example.test/in-mass/v1" }
end

-- A page body of a listing of `total` units MSCU<i>, from `first`, `n` units.
local function page(total, first, n)
  local items = {}
  for i = first, first + n - 1 do
    items[#items + 1] = ('{"reference":"MSCU%d","pswId":"id%d","events":[]}'):format(i, i)
  end
  return ('{"total":%d,"returned":%d,"first":%d,"items":[%s]}'):format(total, #items, first,
    table.concat(items, ","))
end

-- The page a call answers (its request checked to ask for `offset`).
local function fetched(call, total, offset, n)
  local req = assert(call:request())
  assert.truthy(req.url:find("offset=" .. offset, 1, true) or offset == 0, req.url)
  return assert(call:response(200, page(total, offset, n)))
end

-- Walks a manual pager to its end, feeding pages of 10 of a listing of
-- `total` (or what feed(offset) answers): the ids yielded, the offsets
-- asked for.
local function drain(it, total, feed)
  local ids, asked = {}, {}
  for _ = 1, 100 do
    local hu, need, offset = it:next()
    if hu then
      ids[#ids + 1] = hu.pswId
    elseif need == "fetch" then
      asked[#asked + 1] = offset
      it:feed(soget.decode(feed and feed(offset) or page(total, offset, math.min(10, total - offset))),
        offset)
    else
      break
    end
  end
  return ids, asked
end

describe("a pager", function()
  it("walks on from a page a call asked for at an offset given to begin()", function()
    local c = client()
    for _, q in ipairs({ { reference = "MSCU", limit = 10 },
                         { search = { documentReference = "3714238101", limit = 10 } } }) do
      local p = fetched(c:begin(q, 10), 30, 10, 10)
      local it = p:iter{ manual = true }
      local ids, asked = drain(it, 30)
      assert.are.equal(20, #ids)
      assert.are.equal("id10", ids[1])
      assert.are.same({ 20 }, asked)
      assert.are.equal("total reached", it:stats().why)
    end
    c:close()
  end)

  it("says nothing while it reads the last page, then why it ended", function()
    local p = soget.decode(page(25, 0, 10))
    local it = p:iter{ manual = true }
    local n = 0
    while n < 21 do
      local hu, need, offset = it:next()
      if hu then n = n + 1
      elseif need ~= "fetch" then error("the pager needs " .. tostring(need))
      else it:feed(soget.decode(page(25, offset, math.min(10, 25 - offset))), offset) end
    end
    local st = it:stats()                      -- on the last page, 4 units to go
    assert.is_nil(st.why)
    assert.is_false(st.done)
    for _ in it do n = n + 1 end
    assert.are.equal(25, n)
    st = it:stats()
    assert.are.equal("total reached", st.why)
    assert.is_true(st.done)
  end)

  it("says nothing when max_items or close() ended it on the last page", function()
    local function last_page_walk(opts)
      local it = soget.decode(page(25, 0, 10)):iter(opts)
      local n = 0
      while true do
        local hu, need, offset = it:next()
        if hu then
          n = n + 1
          if n == 21 and not opts.max_items then it:close() end
        elseif need == "fetch" then
          it:feed(soget.decode(page(25, offset, math.min(10, 25 - offset))), offset)
        else
          break
        end
      end
      return n, it:stats()
    end
    local n, st = last_page_walk{ manual = true, max_items = 22 }
    assert.are.equal(22, n)
    assert.is_nil(st.why)
    assert.is_true(st.done)
    n, st = last_page_walk{ manual = true }
    assert.are.equal(21, n)
    assert.is_nil(st.why)
    local one = soget.decode(page(5, 0, 5)):iter{ max_items = 2 }
    for _ in one do end
    assert.is_nil(one:stats().why)
  end)

  it("takes a page only once next() asked for it, and asks once for a page not yet fed", function()
    -- the last page of a listing (10 to 20 of 20): its units yielded, the
    -- walk is over, and nothing may be fed to it; nor, on an earlier page,
    -- before next() said "fetch"
    local it = soget.decode(page(20, 10, 10)):iter{ manual = true }
    for _ = 1, 10 do assert(it:next()) end
    local ok, msg = pcall(it.feed, it, soget.decode(page(20, 0, 10)), 0)
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("this pager is not waiting for a page", 1, true), msg)
    assert.is_nil(it:next())
    assert.are.equal(10, it:stats().yielded)
    assert.are.equal("total reached", it:stats().why)
    it = soget.decode(page(30, 0, 10)):iter{ manual = true }
    for _ = 1, 10 do assert(it:next()) end
    ok, msg = pcall(it.feed, it, soget.decode(page(30, 10, 10)), 10)
    assert.is_false(ok, "fed before next() asked")
    assert.truthy(tostring(msg):find("this pager is not waiting for a page", 1, true), msg)
    local _, what, offset = it:next()
    assert.are.same({ "fetch", 10 }, { what, offset })
    _, what, offset = it:next()                       -- asked again: the same answer
    assert.are.same({ "fetch", 10 }, { what, offset })
    assert.are.equal(1, it:stats().pages)
    it:feed(soget.decode(page(30, 10, 10)), 10)
    ok = pcall(it.feed, it, soget.decode(page(30, 10, 10)), 10)
    assert.is_false(ok, "fed twice")
    assert.truthy(it:next())
  end)

  it("ends on a last page that brings no new unit as it does on any other", function()
    -- the listing moved: the last page (10 to 20 of 20) repeats the units
    -- of the first
    local it = soget.decode(page(20, 0, 10)):iter{ manual = true }
    local ids = drain(it, 20, function() return (page(20, 0, 10):gsub('"first":0', '"first":10')) end)
    assert.are.equal(10, #ids)
    assert.are.equal("no new units", it:stats().why)
  end)

  it("says so when it ends at a total that changed or contradicts a page, not \"total reached\"", function()
    -- a listing of 20 that grew to 25 before page 2: the walk stops at
    -- the smallest total (u15..u19 never asked for), and says why its end
    -- may have missed units
    local it = soget.decode(page(20, 0, 10)):iter{ manual = true }
    local ids, asked = drain(it, 20, function(offset) return page(25, offset, 10) end)
    assert.are.equal(20, #ids)
    assert.are.same({ 10 }, asked)
    assert.are.equal("the listing's total changed while it was read", it:stats().why)
    -- a page holding more units than its total
    it = soget.decode(page(5, 0, 10)):iter{ manual = true }
    drain(it, 5)
    assert.are.equal("a page holds more units than its total", it:stats().why)
    -- an empty page below the total
    it = soget.decode(page(20, 0, 10)):iter{ manual = true }
    drain(it, 20, function(offset) return page(20, offset, 0) end)
    assert.are.equal("an empty page below the total announced", it:stats().why)
    -- an honest listing: as before
    it = soget.decode(page(20, 0, 10)):iter{ manual = true }
    drain(it, 20)
    assert.are.equal("total reached", it:stats().why)
  end)

  it("takes units with a `returned` of 0 for a page that does not add up, not an empty one", function()
    local body = page(10, 0, 3):gsub('"returned":3', '"returned":0')
    local it = soget.decode(body):iter{ manual = true }
    local ids = drain(it, 10)
    assert.are.equal(3, #ids)
    assert.are.equal("inconsistent page: returned is not the number of items", it:stats().why)
    -- an exact lookup answers no such page as complete
    local c = client()
    local call = c:begin{ reference = "MSCU0", exact = true }
    assert(call:request())
    local p, err = call:response(200, (page(0, 0, 1):gsub('"returned":1', '"returned":0')))
    assert.is_nil(p)
    assert.are.equal("api", err.kind)
    assert.truthy(err.message:find("returned is not the number of items", 1, true), err.message)
    c:close()
  end)

  it("says why a decoded page's walk ends short of its total: no client to fetch with", function()
    local it = soget.decode(page(30, 0, 10)):iter()
    local n = 0
    for _ in it do n = n + 1 end
    assert.are.equal(10, n)
    assert.is_true(it:stats().done)
    assert.are.equal("no client", it:stats().why)
    -- and a complete one says it reached its total
    it = soget.decode(page(10, 0, 10)):iter()
    for _ in it do end
    assert.are.equal("total reached", it:stats().why)
  end)

  it("yields every unit with an empty pswId, which names no unit", function()
    local p = assert(soget.decode('{"total":3,"returned":3,"first":0,"items":[{"reference":"A",'
      .. '"pswId":""},{"reference":"B","pswId":""},{"reference":"C","pswId":""}]}'))
    local refs = {}
    for hu in p:iter() do refs[#refs + 1] = hu.reference end
    assert.are.same({ "A", "B", "C" }, refs)
  end)

  it("keeps page:iter() whatever the server names its members", function()
    -- a top-level member named iter would hide the method: not kept
    local p = assert(soget.decode('{"total":1,"returned":1,"first":0,"items":[{"pswId":"a",'
      .. '"iter":"kept in a unit"}],"iter":"x","other":"kept"}'))
    assert.is_nil(rawget(p, "iter"))
    assert.are.equal("kept", p.other)
    assert.are.equal("kept in a unit", p.items[1].iter)
    local ids = {}
    for hu in p:iter() do ids[#ids + 1] = hu.pswId end
    assert.are.same({ "a" }, ids)
  end)
end)
