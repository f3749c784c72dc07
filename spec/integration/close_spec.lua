-- __close as Lua 5.4 calls it, on the client, the pager and a Call: a
-- variable marked <close> leaving its block (normally or by an error), and
-- a `break` out of a generic for, which closes the loop's fourth value (the
-- pager page:iter() returns). The code is 5.4 syntax, loaded only on 5.4;
-- other runtimes have no to-be-closed variables, and these specs are
-- pending there (spec/integration/self_spec.lua checks that every runtime
-- registers __close).
local S = require "support"

local IS_54 = _VERSION == "Lua 5.4"

-- Runs 5.4 source with the given arguments.
local function run54(src, ...)
  return assert(load(src, "=(close spec)", "t"))(...)
end

describe("__close (Lua 5.4)", function()
  if not IS_54 then
    it("runs on Lua 5.4 only", function()
      pending((rawget(_G, "jit") and "LuaJIT" or _VERSION)
        .. " has no to-be-closed variables: the Lua 5.4 run covers __close")
    end)
    return
  end

  before_each(function() S.reset() end)

  it("closes a client marked <close> when its block ends, or an error leaves it", function()
    local c = run54([[
      local S = ...
      local kept
      do
        local c <close> = S.client()
        assert(c:handling_units("CGMU2436601"))
        kept = c
        assert(tostring(c) ~= "soget.Client (closed)")
      end
      return kept
    ]], S)
    assert.are.equal("soget.Client (closed)", tostring(c))
    local ok, err = pcall(c.handling_units, c, "CGMU2436601")
    assert.is_false(ok)
    assert.truthy(tostring(err):find("attempt to use a closed client", 1, true), err)

    local held
    ok, err = pcall(run54, [[
      local S, keep = ...
      local c <close> = S.client()
      keep(c)
      error("raised in the block")
    ]], S, function(x) held = x end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("raised in the block", 1, true), err)
    assert.are.equal("soget.Client (closed)", tostring(held))
    assert.are.equal(1, S.stats().api_requests)
  end)

  it("closes the pager on a break out of `for hu in page:iter()`: nothing more is fetched", function()
    local c = S.client()
    local page = assert(c:handling_units{ reference = "MSCU", limit = 10 })
    assert.truthy(page.total > 30)
    S.reset()
    -- iter_of(page) is page:iter() with its four values, keeping the pager
    local pager
    local function iter_of(p, o)
      local a, b, k, d = p:iter(o)
      pager = a
      return a, b, k, d
    end
    local n = run54([[
      local page, iter_of = ...
      local n = 0
      for hu in iter_of(page) do
        n = n + 1
        if n == 15 then break end
      end
      return n
    ]], page, iter_of)
    assert.are.equal(15, n)
    assert.are.equal("soget.Pager (closed)", tostring(pager))
    assert.is_true(pager:stats().done)
    assert.is_nil(pager())   -- a closed pager yields nothing more
    assert.are.equal(1, S.stats().api_requests)   -- the second page only

    -- an error in the loop's body closes it too
    local ok, err = pcall(run54, [[
      local page, iter_of = ...
      for hu in iter_of(page) do error("raised in the loop") end
    ]], page, iter_of)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("raised in the loop", 1, true), err)
    assert.are.equal("soget.Pager (closed)", tostring(pager))
    c:close()
  end)

  it("closes a Call marked <close>, giving back the client's token lease", function()
    local c = S.client()
    local call = run54([[
      local c = ...
      local kept
      do
        local k <close> = c:begin("CGMU2436601")
        local req = assert(k:request())
        assert(req.kind == "token")    -- this call now holds the token lease
        kept = k
      end
      return kept
    ]], c)
    assert.are.equal("soget.Call (done)", tostring(call))
    local ok, err = pcall(call.request, call)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("on a call that is over", 1, true), err)
    -- the lease went with it: the next call asks for the token itself,
    -- instead of waiting for a request that will never answer
    local req, rerr, wait = c:begin("CGMU2436601"):request()
    assert.is_nil(rerr)
    assert.is_nil(wait)
    assert.are.equal("token", req.kind)
    c:close()
    assert.are.equal(0, S.stats().token_requests)   -- the Call does no I/O of its own
  end)
end)
