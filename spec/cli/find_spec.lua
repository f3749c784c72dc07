-- soget find: every match, one line each, pages fetched lazily.
local cli = require "cli.cli"
local cjson = require "cjson"
local support = cli.support

local function total_of(prefix)
  local c = support.client()
  local page = assert(c:handling_units { reference = prefix, limit = 1 })
  c:close()
  return page.total
end

describe("soget find", function()
  it("prints one line per match over many pages (a prefix of more than 100)", function()
    local total = total_of("MSCU")
    assert.is_true(total > 100)
    support.reset()
    local r = cli.run { "find", "MSCU" }
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(total, #lines)
    local seen = {}
    for _, l in ipairs(lines) do
      local ref, spi = l:match("^(MSCU%d+)%s+(%u%u%u%d+)%s")
      assert.truthy(ref, l)
      assert.is_nil(seen[spi], "twice: " .. spi)
      seen[spi] = true
    end
    -- pages of 10 by default: lazily, one request per page
    assert.are.equal(math.ceil(total / 10), support.stats().api_requests)
  end)

  it("--limit stops early and --desc reverses the order", function()
    local asc = cli.lines(cli.run({ "find", "MSCU", "--limit", "3" }).out)
    assert.are.equal(3, #asc)
    local all = cli.lines(cli.run({ "find", "MSCU" }).out)
    local desc = cli.run { "find", "MSCU", "--desc", "--limit", "3", "--page-size", "2" }
    assert.are.equal(0, desc.code, desc.err)
    local d = cli.lines(desc.out)
    assert.are.equal(3, #d)
    assert.are.same({ all[#all], all[#all - 1], all[#all - 2] }, d)
    assert.are.same({ all[1], all[2], all[3] }, asc)
  end)

  it("--json prints one decodable unit per line", function()
    local r = cli.run { "find", "CGMU", "--json" }
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(total_of("CGMU"), #lines)
    for _, l in ipairs(lines) do
      local hu = cjson.decode(l)
      assert.truthy(hu.reference:find("^CGMU"))
      assert.are.equal("table", type(hu.events))
    end
  end)

  it("exits 1 when nothing matches", function()
    local r = cli.run { "find", "QQQQ" }
    assert.are.equal(1, r.code)
    assert.are.equal("", r.out)
    assert.truthy(r.err:find("no handling unit matches QQQQ", 1, true))
  end)
end)
