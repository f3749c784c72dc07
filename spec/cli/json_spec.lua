-- Every --json output, byte for byte: each command's one documented shape
-- (README.md), the same bytes on every run (three runs) and the same as
-- its committed fixture (spec/fixtures/cli/), which the sandbox's fixed
-- data makes. track writes one JSON document; find, search, bulk, watch
-- and check write JSON Lines, a value a line.
local cli = require "cli.cli"
local cjson = require "cjson"

local BULK_IN = "CGMU2436601\nSOGET LOT 7\nMSCU99\nABCDEFGHIJKLMNOPQRSTUVWXYZ\n"

local cases = {
  { "track", { "track", "CGMU2436601", "--json" }, "track.json", 0 },
  { "find", { "find", "SOGET LOT 7", "--json" }, "find.jsonl", 0 },
  { "search", { "search", "--document", "HLCUEUR2002APIK9", "--json" }, "search.jsonl", 0 },
  { "bulk", { "bulk", "--json", "-" }, "bulk.jsonl", 2, BULK_IN },
  { "watch", { "watch", "CGMU2436601", "--count", "1", "--every", "0.1", "--json" }, "watch.jsonl", 0 },
  { "check", { "check", "CSQU3054383", "CGMU2436601", "--json" }, "check.jsonl", 1 },
}

describe("--json", function()
  for _, c in ipairs(cases) do
    local name, argv, fixture, code, stdin = c[1], c[2], c[3], c[4], c[5]
    it(name .. " writes its fixture's bytes, the same on every run", function()
      local want = cli.read("spec/fixtures/cli/" .. fixture)
      assert.truthy(want and #want > 0, fixture)
      for run = 1, 3 do
        local r = cli.run(argv, { stdin = stdin })
        assert.are.equal(code, r.code, name .. ": " .. r.err)
        assert.are.equal(want, r.out, name .. ", run " .. run)
      end
      -- each line one JSON value (track: the whole output)
      for _, l in ipairs(cli.lines(want)) do
        assert.are.equal("table", type(cjson.decode(l)), l)
      end
    end)
  end

  it("writes the schema's empty arrays as [], in the document's order", function()
    local v = cli.read("spec/fixtures/cli/find.jsonl")
    -- the lots have no shipment, no reference, no hazardous item
    assert.truthy(v:find('"references":[],"customsFlag":"Import"', 1, true), v:sub(1, 400))
    assert.truthy(v:find('"shipments":[],"transport":{', 1, true))
    assert.truthy(v:find('"hazardousItems":[],"emptyReturn":{', 1, true))
    -- fields in the document's order: reference first
    for _, l in ipairs(cli.lines(v)) do assert.truthy(l:find('^{"reference":'), l) end
    local t = cli.read("spec/fixtures/cli/track.json")
    assert.truthy(t:find('^{"total":1,"returned":1,"first":0,"items":%[{"reference":"CGMU2436601"'), t)
  end)
end)
