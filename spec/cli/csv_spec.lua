-- The command's CSV reader (lua/soget/cli/csv.lua) and what bulk reads
-- with it (inputs.lua), in this process: RFC 4180's cases, the refusals
-- with their line and field, and random texts, for which parse answers
-- rows or nil and a message and never raises (as a fuzz driver calls it).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local csv = require "soget.cli.csv"
local inputs = require "soget.cli.inputs"

-- rows as lists, with each row's line as "@n".
local function flat(rows)
  local out = {}
  for i, r in ipairs(rows) do
    local t = { "@" .. r.line }
    for k, v in ipairs(r) do t[k + 1] = v end
    out[i] = t
  end
  return out
end

local function parsed(text, opts) return flat(assert(csv.parse(text, opts))) end

describe("csv.parse", function()
  it("reads fields, records, quotes as RFC 4180 writes them", function()
    assert.are.same({ { "@1", "a", "b" }, { "@2", "c", "d" } }, parsed("a,b\nc,d\n"))
    assert.are.same({ { "@1", "a", "b" }, { "@2", "c", "d" } }, parsed("a,b\r\nc,d"))
    assert.are.same({ { "@1", 'x,"y"', "z" } }, parsed('"x,""y""",z'))
    assert.are.same({ { "@1", "line\none", "two" }, { "@3", "3" } }, parsed('"line\none",two\n3'))
    assert.are.same({ { "@1", "a", "" }, { "@2", "", "b" }, { "@3", "", "" } }, parsed("a,\n,b\n,\n"))
    assert.are.same({ { "@1", "" } }, parsed('""'))
    assert.are.same({ { "@1", " a ", " b" } }, parsed(" a , b"))   -- spaces kept
    assert.are.same({ { "@1", "a\rb" } }, parsed("a\rb"))           -- a CR alone is text
    assert.are.same({ { "@1", "é", "€" } }, parsed("é,€"))
  end)

  it("skips a byte order mark, empty lines and, when asked, comments", function()
    assert.are.same({ { "@1", "a" } }, parsed("\239\187\191a"))
    assert.are.same({ { "@2", "a" }, { "@4", "b" } }, parsed("\na\n\r\nb\n\n"))
    assert.are.same({ { "@1", "#x" }, { "@2", "a" } }, parsed("#x\na"))
    assert.are.same({ { "@2", "a" } }, parsed("#x,y\na", { comment = "#" }))
    assert.are.same({ { "@1", "a", "#b" } }, parsed("a,#b", { comment = "#" }))
    assert.are.same({ { "@1", "a", "b" } }, parsed("a;b", { separator = ";" }))
    assert.are.same({ { "@1", "a\tb" } }, parsed("a\tb"))
    assert.are.same({}, parsed(""))
  end)

  it("refuses what is not CSV, naming the line and field", function()
    local cases = {
      { 'a,b"c', "line 1, field 2: a quote inside a field that does not start with one" },
      { '"abc', "line 1, field 1: a quoted field is not closed" },
      { 'ok\n"a\nb', "line 2, field 1: a quoted field is not closed" },
      { '"a"b', "line 1, field 1: text after a closing quote" },
      { 'x\n"multi\nline" y', "line 3, field 1: text after a closing quote" },
    }
    for _, c in ipairs(cases) do
      local rows, why = csv.parse(c[1])
      assert.is_nil(rows, c[1])
      assert.are.equal(c[2], why, c[1])
    end
    -- (the third value tells the record cap from text that is not CSV)
    assert.are.same({ nil, "line 3: more than 2 records", "max_rows" },
      { csv.parse("a\nb\nc", { max_rows = 2 }) })
    assert.are.same({ { "a", line = 1 }, { "b", line = 3 } },
      (csv.parse("a\n\nb\n", { max_rows = 2 })))   -- blank lines are no records
    assert.are.same({ nil, "line 1, field 2: longer than 3 bytes" },
      { csv.parse("a,bcde", { max_field = 3 }) })
  end)

  it("raises on options a program got wrong, not on text", function()
    assert.has_error(function() csv.parse(nil) end, "csv.parse: text must be a string")
    assert.has_error(function() csv.parse("", { separator = '"' }) end)
    assert.has_error(function() csv.parse("", { separator = ",," }) end)
    assert.has_error(function() csv.parse("", { comment = "," }) end)
    assert.has_error(function() csv.parse("", { max_rows = 0 }) end)
    assert.has_error(function() csv.parse("", "x") end)
  end)

  it("answers rows or a message for any text, and never raises (5000 random texts)", function()
    local alphabet = { "a", "b", ",", '"', "\n", "\r", " ", "#", "\0", "\255", "é", '""', "\r\n" }
    local seed = 6346
    local function rand(n)
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n + 1
    end
    for _ = 1, 5000 do
      local parts = {}
      for k = 1, rand(40) - 1 do parts[k] = alphabet[rand(#alphabet)] end
      local text = table.concat(parts)
      local ok, rows, why = pcall(csv.parse, text, { comment = "#" })
      assert.is_true(ok, text)
      if rows then
        for _, r in ipairs(rows) do
          assert.is_number(r.line)
          for _, f in ipairs(r) do assert.is_string(f) end
        end
      else
        assert.truthy(why:find("^line %d+"), why)
      end
    end
  end)
end)

describe("bulk's inputs", function()
  it("takes a CSV column by number or by the header's name", function()
    local text = "ref,who\nCGMU2436601,acme\n# skipped\n  CSQU3054383 ,x\n,empty\nshort\n"
    local function values(list)
      local t = {}
      for i, e in ipairs(list) do t[i] = e.value or ("! " .. e.why) end
      return t
    end
    assert.are.same({ "CGMU2436601", "CSQU3054383", "! line 5: empty", "short" },
      values(assert(inputs.from_csv(text, "ref"))))
    assert.are.same({ "acme", "x", "empty", "! line 6: no column 2" },
      values(assert(inputs.from_csv(text, 2, true))))
    assert.are.same({ "ref", "CGMU2436601", "CSQU3054383", "! line 5: empty", "short" },
      values(assert(inputs.from_csv(text))))
    assert.are.same({ nil, 'line 1: no column named "nope" in the header' },
      { inputs.from_csv(text, "nope") })
    assert.are.same({}, assert(inputs.from_csv("", "ref")))
    assert.are.same({ 3 }, { inputs.column("3") })
    assert.are.same({ "name" }, { inputs.column(" name ") })
    assert.is_nil((inputs.column("0")))
    assert.is_nil((inputs.column("1.5")))
  end)

  it("refuses more references than its cap as they are read, the header, blank and # lines not counted", function()
    -- (a cap lowered for the spec: the program's is inputs.MAX_ENTRIES)
    local cap = inputs.MAX_ENTRIES
    finally(function() inputs.MAX_ENTRIES = cap end)
    assert.truthy(cap >= 800000, "fewer references than the README's 16 MiB promise")
    inputs.MAX_ENTRIES = 3
    local why = "more than 3 references: split it"
    assert.are.equal(3, #assert(inputs.from_csv("a\n\n# x\nb\nc\n")))
    assert.are.same({ nil, why }, { inputs.from_csv("a\nb\nc\nd\n") })
    assert.are.equal(3, #assert(inputs.from_csv("ref\na\nb\nc\n", "ref")))
    assert.are.equal(3, #assert(inputs.from_csv("ref\na\nb\nc\n", 1, true)))
    assert.are.same({ nil, why }, { inputs.from_csv("ref\na\nb\nc\nd\n", "ref") })
    -- a text not CSV before the cap is still said as such
    assert.are.same({ nil, 'line 1, field 1: a quoted field is not closed' },
      { inputs.from_csv('"a\nb\nc\nd\ne\n') })
    -- JSON Lines: past the cap, no further line is decoded
    local decoded = 0
    local function decode(l)
      decoded = decoded + 1
      return l, #l + 1
    end
    assert.are.equal(3, #assert(inputs.from_jsonl("a\n\n  \nb\nc\n", "reference", decode)))
    decoded = 0
    assert.are.same({ nil, why }, { inputs.from_jsonl("a\nb\nc\nd\ne\nf\n", "reference", decode) })
    assert.are.equal(3, decoded)
  end)

  it("takes JSON Lines: strings, or an object's member", function()
    local dkjson = require "dkjson"
    local list = inputs.from_jsonl('"A1"\n{"reference":" B2 "}\n\n{"other":1}\n[1]\n3\nnull\n'
      .. '{"reference":""}\n{"a":1} trailing\r\n', "reference", dkjson.decode)
    local got = {}
    for i, e in ipairs(list) do got[i] = e.value or ("! " .. e.why) end
    assert.are.same({ "A1", "B2", '! line 4: no string member "reference"',
      '! line 5: no string member "reference"', "! line 6: neither a string nor an object",
      "! line 7: neither a string nor an object", "! line 8: empty", "! line 9: not JSON" }, got)
  end)
end)
