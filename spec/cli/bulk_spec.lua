-- soget bulk: many lookups, results in input order, a summary on stderr.
local cli = require "cli.cli"
local cjson = require "cjson"
local support = cli.support

local function refs(n)
  local c = support.client()
  local out = {}
  for hu in assert(c:handling_units { reference = "MSCU" }):iter { max_items = n } do
    out[#out + 1] = hu.reference
  end
  c:close()
  return out
end

describe("soget bulk", function()
  local home
  before_each(function() home = cli.tmpdir() end)
  after_each(function() cli.rm(home) end)

  it("reads a file and prints CSV in input order with found and not found", function()
    local list = refs(20)
    local input = { "CGMU2436601", "ZZZZ0000000" }
    for _, r in ipairs(list) do input[#input + 1] = r end
    input[#input + 1] = "# a comment"
    input[#input + 1] = ""
    input[#input + 1] = "QQQQ1234567"
    cli.write(home .. "/refs.txt", table.concat(input, "\n") .. "\n")
    local r = cli.run({ "bulk", home .. "/refs.txt" }, { home = home })
    assert.are.equal(1, r.code, r.err)   -- some not found, none failed
    local lines = cli.lines(r.out)
    assert.are.equal("input,status,matches,reference,pswId,freightFamily,sizeType,place,"
      .. "location,lastEventType,lastEventDate,error", lines[1])
    assert.are.equal(#list + 4, #lines)
    local first = cli.csv(lines[2])
    assert.are.same({ "CGMU2436601", "found", "1", "CGMU2436601", "CNI0000063978", "Container",
      "22G1", "FRLEH", "MTDF", "CUS", "2020-05-21T08:30:12+02:00", "" }, first)
    assert.are.same({ "ZZZZ0000000", "not_found", "0" }, { table.unpack(cli.csv(lines[3]), 1, 3) })
    for i, ref in ipairs(list) do
      local f = cli.csv(lines[3 + i])
      assert.are.equal(ref, f[1])
      assert.are.equal("found", f[2])
      assert.are.equal(ref, f[4])
    end
    assert.are.equal("QQQQ1234567", cli.csv(lines[#lines])[1])
    assert.are.equal(string.format("soget: %d references: %d found, 2 not found, 0 failed\n",
      #list + 3, #list + 1), r.err)
  end)

  it("skips a line of white space alone, as a blank line", function()
    local r = cli.run({ "bulk", "-" }, { home = home, stdin = "CGMU2436601\n   \n\t\nZZZZ0000000\n" })
    assert.are.equal(1, r.code, r.err)   -- one not found, none failed
    local lines = cli.lines(r.out)
    assert.are.equal(3, #lines)          -- the header and two rows
    assert.are.equal("CGMU2436601", cli.csv(lines[2])[1])
    assert.are.equal("ZZZZ0000000", cli.csv(lines[3])[1])
  end)

  it("names a file it cannot read as a usage error, whatever its name holds", function()
    for _, name in ipairs({ "refs.txt", "100%.txt", "x%2y", "%1" }) do
      local r = cli.run({ "bulk", home .. "/" .. name }, { home = home })
      assert.are.equal(2, r.code, r.err)
      assert.are.equal("soget: cannot read " .. home .. "/" .. name .. ": No such file or directory\n",
        r.err)
      assert.are.equal("", r.out)
    end
  end)

  it("reads stdin with - and prints JSON lines", function()
    local r = cli.run({ "bulk", "-", "--json" }, { home = home,
      stdin = "CGMU2436601\r\nZZZZ0000000\n  CSQU3054383  \n" })
    local lines = cli.lines(r.out)
    assert.are.equal(3, #lines)
    local a, b = cjson.decode(lines[1]), cjson.decode(lines[2])
    assert.are.equal("CGMU2436601", a.input)
    assert.are.equal("found", a.status)
    assert.are.equal("CNI0000063978", a.items[1].pswId)
    assert.are.equal("not_found", b.status)
    assert.are.equal(0, b.matches)
    assert.are.equal("CSQU3054383", cjson.decode(lines[3]).input)
    assert.truthy(r.err:find("3 references: ", 1, true))
  end)

  it("reports failed lookups and exits with the failure's code", function()
    local list = refs(6)
    local input = { "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ZZZZ0000000" }
    for _, x in ipairs(list) do input[#input + 1] = x end
    -- the first request the API sees fails once
    local base = support.fault_base("503-then-ok:n=1:id=" .. support.uid("bulk"))
    local r = cli.run({ "--retries", "0", "bulk", "-", "--concurrency", "1" },
      { home = home, stdin = table.concat(input, "\n"), env = { SOGET_BASE_URL = base } })
    assert.are.equal(2, r.code, r.err)   -- the first failure: a line that is no reference
    local lines = cli.lines(r.out)
    assert.are.equal(#input + 1, #lines)
    local failed, statuses = 0, {}
    for i = 2, #lines do
      local f = cli.csv(lines[i])
      assert.are.equal(input[i - 1], f[1])
      statuses[i - 1] = f[2]
      if f[2] == "failed" then failed = failed + 1
      elseif i == 3 then assert.are.equal("not_found", f[2])
      else assert.are.equal("found", f[2]) end
    end
    assert.are.equal("failed", statuses[1])
    assert.truthy(cli.csv(lines[2])[12]:find("longer than 17", 1, true))
    assert.are.equal(2, failed)
    local err503
    for i = 3, #lines do
      local f = cli.csv(lines[i])
      if f[2] == "failed" then err503 = f[12] end
    end
    assert.truthy(err503:find("HTTP 503", 1, true))
    assert.truthy(r.err:find("2 failed\n$"))
  end)

  it("counts no matches the server did not send, and fails a first page that announces units and holds none", function()
    -- no total: the module's guess (first + returned) is no count of matches
    local nt = support.fault_base("no-total")
    local r = cli.run({ "bulk", "--prefix", "-", "--json" }, { home = home, stdin = "MSCU\n",
      env = { SOGET_BASE_URL = nt } })
    assert.are.equal(1, r.code, r.err)
    local v = cjson.decode(cli.lines(r.out)[1])
    assert.are.equal("ambiguous", v.status)
    assert.is_nil(v.matches)
    r = cli.run({ "bulk", "--prefix", "-" }, { home = home, stdin = "MSCU\n", env = { SOGET_BASE_URL = nt } })
    assert.truthy(cli.lines(r.out)[2]:find("^MSCU,ambiguous,,MSCU"), r.out)
    -- sent, the total counts
    r = cli.run({ "bulk", "--prefix", "-", "--json" }, { home = home, stdin = "MSCU\n" })
    assert.are.equal(408, cjson.decode(cli.lines(r.out)[1]).matches)
    -- a document's units, walked, count whatever the server's total
    r = cli.run({ "bulk", "--documents", "-", "--json" }, { home = home, stdin = "3714238101\n",
      env = { SOGET_SEARCH_BASE_URL = support.search_base_url:gsub("/api%-tracing%-code%-in%-mass",
        "/_fault/no-total/api-tracing-code-in-mass") } })
    assert.are.equal(0, r.code, r.err)
    v = cjson.decode(cli.lines(r.out)[1])
    assert.are.equal(25, v.matches)
    assert.are.equal(25, #v.items)
    -- units announced, none held: no answer, not "not found"
    r = cli.run({ "bulk", "--prefix", "-", "--json" }, { home = home, stdin = "MSCU0\n",
      env = { SOGET_BASE_URL = support.fault_base("inconsistent:mode=short") } })
    assert.are.equal(6, r.code, r.err)
    v = cjson.decode(cli.lines(r.out)[1])
    assert.are.equal("failed", v.status)
    assert.are.same({ kind = "incomplete",
      message = "the server's page at offset 0 announces 43 units and holds none" }, v.error)
  end)

  it("takes a CSV file with a field of 70,000 bytes in another column; a reference that long fails alone", function()
    local text = "reference,notes\nCGMU2436601," .. ("x"):rep(70000) .. "\n" .. ("C"):rep(70000)
      .. ",n\nSOGU1000004,ok\n"
    local r = cli.run({ "bulk", "--header", "--column", "reference", "-", "--json" },
      { home = home, stdin = text })
    assert.are.equal(2, r.code, r.err)   -- the bad line's usage code
    local got = {}
    for _, l in ipairs(cli.lines(r.out)) do got[#got + 1] = cjson.decode(l).status end
    assert.are.same({ "found", "failed", "found" }, got)
  end)

  -- `bulk -c 2 - --json` of 20 references that match nothing, a fresh
  -- token asked for; and the check that every row failed so.
  local TWENTY = {}
  for i = 1, 20 do TWENTY[i] = ("MSCU%07d"):format(i) end
  TWENTY = table.concat(TWENTY, "\n") .. "\n"
  local function bulk_twenty(env)
    return cli.run({ "--no-token-cache", "bulk", "-c", "2", "-", "--json" },
      { home = home, stdin = TWENTY, env = env })
  end
  local function all_failed(r, pattern, kind)
    local out = cli.lines(r.out)
    assert.are.equal(20, #out)
    for _, l in ipairs(out) do
      local v = cjson.decode(l)
      assert.are.equal("failed", v.status)
      if kind then assert.are.equal(kind, v.error.kind) end
      assert.truthy(v.error.message:find(pattern), v.error.message)
    end
  end

  it("sends no more lookups once the token endpoint refused the credentials: one token request", function()
    support.reset()
    -- (one batch: the module fails every lookup left with the refusal)
    local r = bulk_twenty { SOGET_CLIENT_SECRET = "not-the-secret" }
    assert.are.equal(4, r.code, r.err)
    all_failed(r, "^token request refused", "auth")
    local st = support.stats()
    assert.are.equal(1, st.token_requests)
    assert.are.equal(0, st.api_requests)
  end)

  it("begins a new batch once when a token request fails for a moment; no more while it fails",
    function()
    -- the first token request answered 503: no row fails, two token requests
    support.reset()
    local r = bulk_twenty { SOGET_TOKEN_URL =
      support.fault_token("503-then-ok:n=1:id=" .. support.uid("bulk-token")) }
    assert.are.equal(1, r.code, r.err)   -- (not found: no row failed)
    assert.are.equal(20, #cli.lines(r.out))
    for _, l in ipairs(cli.lines(r.out)) do assert.are.equal("not_found", cjson.decode(l).status) end
    assert.are.equal(2, support.stats().token_requests)
    -- every token request answered 502: every row fails, two token requests
    support.reset()
    r = bulk_twenty { SOGET_TOKEN_URL = support.fault_token("502") }
    assert.are.equal(6, r.code, r.err)
    all_failed(r, "^token request failed with HTTP 502")
    local st = support.stats()
    assert.are.equal(2, st.token_requests)
    assert.are.equal(0, st.api_requests)
  end)

  it("exits 6 when the server fails every lookup", function()
    local r = cli.run({ "--retries", "0", "bulk", "-", "--json" }, { home = home,
      stdin = "CGMU2436601\nCSQU3054383\n", env = { SOGET_BASE_URL = support.fault_base("500") } })
    assert.are.equal(6, r.code)
    for _, l in ipairs(cli.lines(r.out)) do
      local v = cjson.decode(l)
      assert.are.equal("failed", v.status)
      assert.are.equal("http", v.error.kind)
      assert.are.equal(500, v.error.status)
    end
    assert.truthy(r.err:find("2 references: 0 found, 0 not found, 2 failed", 1, true))
  end)

  it("reads real CSV: a header row, quoted fields, --column NAME or N", function()
    cli.write(home .. "/in.csv", table.concat({
      "customer,reference,note",
      'acme,CGMU2436601,"first, with a comma"',
      '"Smith ""and"" Sons","SOGET LOT 7","a note',
      'on two lines"',
      "# a comment",
      "",
      "globex,MSCU99,x",
      "initech,,empty",
      "short",
    }, "\r\n") .. "\r\n")
    local r = cli.run({ "bulk", "--column", "reference", home .. "/in.csv" }, { home = home })
    assert.are.equal(2, r.code, r.err)   -- rows without a reference fail as no reference
    local lines = cli.lines(r.out)
    assert.are.equal(6, #lines)
    assert.are.same({ "CGMU2436601", "found", "1", "CGMU2436601" }, { table.unpack(cli.csv(lines[2]), 1, 4) })
    -- exact: the lot, not the ten lots its reference begins
    assert.are.same({ "SOGET LOT 7", "found", "1", "SOGET LOT 7" }, { table.unpack(cli.csv(lines[3]), 1, 4) })
    assert.are.same({ "MSCU99", "not_found", "0" }, { table.unpack(cli.csv(lines[4]), 1, 3) })
    assert.are.same({ "", "failed" }, { table.unpack(cli.csv(lines[5]), 1, 2) })
    assert.are.equal("line 8: empty", cli.csv(lines[5])[12])
    assert.are.equal("line 9: no column 2", cli.csv(lines[6])[12])
    -- the same by number, the header skipped
    local n = cli.run({ "bulk", "--column", "2", "--header", home .. "/in.csv" }, { home = home })
    assert.are.equal(r.out, n.out)
    -- a header name that is not there, a file that is not CSV: usage errors, nothing sent
    for _, col in ipairs({ "1e20", "2.5", "0", "-1", "100001" }) do
      local rc = cli.run({ "bulk", "--column=" .. col, home .. "/in.csv" }, { home = home })
      assert.are.equal(2, rc.code, rc.err)
      assert.are.equal("soget: --column: a number must be a whole number from 1 to 100000\n", rc.err)
    end
    local bad = cli.run({ "bulk", "--column", "ref", home .. "/in.csv" }, { home = home })
    assert.are.equal(2, bad.code)
    assert.truthy(bad.err:find('in.csv: line 1: no column named "ref" in the header', 1, true), bad.err)
    local q = cli.run({ "bulk", "-" }, { home = home, stdin = 'CGMU2436601\n"unclosed\n' })
    assert.are.equal(2, q.code)
    assert.truthy(q.err:find("stdin: line 2, field 1: a quoted field is not closed", 1, true), q.err)
    assert.are.equal("", q.out)
  end)

  it("reads the first column of a CSV row, as the issue's CGMU2436601,acme", function()
    local r = cli.run({ "bulk", "-" }, { home = home, stdin = "CGMU2436601,acme\nCSQU3054383,globex\n" })
    local lines = cli.lines(r.out)
    assert.are.same({ "CGMU2436601", "found" }, { table.unpack(cli.csv(lines[2]), 1, 2) })
    assert.are.equal("CSQU3054383", cli.csv(lines[3])[1])
  end)

  it("reads JSON Lines: strings, or objects by --column", function()
    local input = table.concat({ '"CGMU2436601"', '{"reference":"SOGET LOT 70","x":1}',
      '{"ref":"SOGU1000004"}', "", "not json", '{"reference":42}', "[1]" }, "\n")
    local r = cli.run({ "bulk", "--input", "jsonl", "--json", "-" }, { home = home, stdin = input })
    assert.are.equal(2, r.code, r.err)
    local recs = {}
    for _, l in ipairs(cli.lines(r.out)) do recs[#recs + 1] = cjson.decode(l) end
    assert.are.equal(6, #recs)
    assert.are.same({ "CGMU2436601", "found" }, { recs[1].input, recs[1].status })
    assert.are.same({ "SOGET LOT 70", "found", 1 }, { recs[2].input, recs[2].status, recs[2].matches })
    assert.are.same({ "failed", "invalid", 'line 3: no string member "reference"' },
      { recs[3].status, recs[3].error.kind, recs[3].error.message })
    assert.are.equal("line 5: not JSON", recs[4].error.message)
    assert.are.equal('line 6: no string member "reference"', recs[5].error.message)
    assert.are.equal("line 7: no string member \"reference\"", recs[6].error.message)
    local by = cli.run({ "bulk", "--input", "jsonl", "--column", "ref", "-" }, { home = home,
      stdin = '{"ref":"SOGU1000004"}\n' })
    assert.are.equal(0, by.code, by.err)
    -- every passage of the container: found, the most recent first in the row
    assert.are.same({ "SOGU1000004", "found", "12", "SOGU1000004", "CNI0000900012" },
      { table.unpack(cli.csv(cli.lines(by.out)[2]), 1, 5) })
    local num = cli.run({ "bulk", "--input", "jsonl", "--column", "2", "-" }, { home = home, stdin = '"A"' })
    assert.are.equal(2, num.code)
  end)

  it("with --prefix, reports a prefix that matches several units as ambiguous", function()
    local r = cli.run({ "bulk", "--prefix", "--json", "-" }, { home = home,
      stdin = "CGMU2436601\nSOGET LOT 7\nMSCU99\nZZZZ9\n" })
    assert.are.equal(1, r.code, r.err)   -- ambiguous ones, none failed
    local recs = {}
    for _, l in ipairs(cli.lines(r.out)) do recs[#recs + 1] = cjson.decode(l) end
    assert.are.same({ "found", 1 }, { recs[1].status, recs[1].matches })
    assert.are.same({ "ambiguous", 11 }, { recs[2].status, recs[2].matches })
    assert.are.same({ "ambiguous", 7 }, { recs[3].status, recs[3].matches })
    assert.are.same({ "not_found", 0 }, { recs[4].status, recs[4].matches })
    assert.are.equal("soget: 4 references: 1 found, 2 ambiguous, 1 not found, 0 failed\n", r.err)
    -- ambiguous ones alone: still 1, not 0
    local a = cli.run({ "bulk", "--prefix", "-" }, { home = home, stdin = "MSCU99\n" })
    assert.are.equal(1, a.code, a.err)
    assert.are.equal("soget: 1 reference: 0 found, 1 ambiguous, 0 not found, 0 failed\n", a.err)
    -- exact (the default): the lot is found, the prefix is not a reference
    local e = cli.run({ "bulk", "-" }, { home = home, stdin = "SOGET LOT 7\nMSCU99\n" })
    assert.are.equal(1, e.code)
    assert.are.equal("soget: 2 references: 1 found, 1 not found, 0 failed\n", e.err)
    assert.are.equal(2, cli.run({ "bulk", "--prefix", "--documents", "-" }, { home = home,
      stdin = "X\n" }).code)
  end)

  it("shows no progress bar when stderr is not a terminal", function()
    local r = cli.run({ "bulk", "-" }, { home = home, stdin = "CGMU2436601\n" })
    assert.are.equal(0, r.code)
    assert.is_nil(r.err:find("\r", 1, true))
    assert.is_nil(r.err:find("\27", 1, true))
  end)

  it("keeps its lookups going while one waits to retry, and still writes rows in input order",
    function()
    local list = refs(20)
    cli.write(home .. "/refs.txt", table.concat(list, "\n") .. "\n")
    support.reset()
    -- the first request answered 429, Retry-After 3 s: the other 19
    -- lookups are made meanwhile (in chunks of 4 x concurrency, 7 were)
    local base = support.fault_base("429:n=1:retry-after=3:id=" .. support.uid("bulk-window"))
    local r = cli.run({ "bulk", "--concurrency", "2", home .. "/refs.txt" },
                      { home = home, env = { SOGET_BASE_URL = base }, timeout = 60 })
    assert.are.equal(0, r.code, r.err)
    local lines = cli.lines(r.out)
    assert.are.equal(21, #lines, r.out)
    for i, ref in ipairs(list) do
      local row = cli.csv(lines[i + 1])
      assert.are.equal(ref, row[1])
      assert.are.equal("found", row[2])
    end
    local waited, retried
    local log = support.requests(40)
    for _, e in ipairs(log) do
      if e.kind == "api" and e.status == 429 then waited = e end
    end
    assert.truthy(waited, "no 429 in the log")
    for _, e in ipairs(log) do
      if e.kind == "api" and e.seq > waited.seq and e.args.reference == waited.args.reference then
        retried = e
      end
    end
    assert.truthy(retried, "no retry of " .. tostring(waited.args.reference))
    local between = 0
    for _, e in ipairs(log) do
      if e.kind == "api" and e.seq > waited.seq and e.seq < retried.seq then between = between + 1 end
    end
    assert.are.equal(19, between)
  end)

  it("stops looking up once its results cannot be written, and says how far it got", function()
    local list = refs(100)
    cli.write(home .. "/refs.txt", table.concat(list, "\n") .. "\n")
    support.reset()
    -- not even the header: no lookup at all
    local r = cli.run({ "bulk", "--concurrency", "2", home .. "/refs.txt" },
                      { home = home, out = "/dev/full", timeout = 60 })
    assert.are.equal(74, r.code, r.err)
    assert.truthy(r.err:find("soget: cannot write the results: ", 1, true), r.err)
    assert.are.equal(0, support.stats().api_requests)
    assert.truthy(r.err:find("soget: 0 of 100 references: 0 found, 0 not found, 0 failed\n", 1,
      true), r.err)
    -- the output full after some rows (a 2 KiB file size limit): the
    -- lookups stop there, those in flight ended, the rest never sent
    r = cli.run({ "bulk", "--concurrency", "2", home .. "/refs.txt" },
                { home = home, timeout = 60, sh = "trap '' XFSZ; ulimit -f 2;" })
    assert.are.equal(74, r.code, r.err)
    assert.truthy(r.err:find("soget: cannot write the results: ", 1, true), r.err)
    local done = tonumber(r.err:match("soget: (%d+) of 100 references: "))
    assert.truthy(done and done > 0 and done < 100, r.err)
    local sent = support.stats().api_requests
    assert.truthy(sent >= done and sent < 100, sent .. " sent, " .. done .. " written")
  end)

  it("searches no document once its results cannot be written (--documents)", function()
    local docs = {}
    for i = 1, 40 do docs[i] = "3714238101" end
    cli.write(home .. "/docs.txt", table.concat(docs, "\n") .. "\n")
    support.reset()
    local r = cli.run({ "bulk", "--documents", home .. "/docs.txt" },
                      { home = home, out = "/dev/full", timeout = 60 })
    assert.are.equal(74, r.code, r.err)
    assert.truthy(r.err:find("soget: cannot write the results: ", 1, true), r.err)
    local st = support.stats()
    assert.are.equal(0, st.search_requests + st.api_requests)
    assert.truthy(r.err:find("soget: 0 of 40 documents: 0 found, 0 not found, 0 failed; 0 units\n", 1,
      true), r.err)
    -- full after some rows: the documents after the one not written are
    -- neither searched further nor counted
    support.reset()
    r = cli.run({ "bulk", "--documents", "--concurrency", "2", home .. "/docs.txt" },
                { home = home, timeout = 60, sh = "trap '' XFSZ; ulimit -f 8;" })
    assert.are.equal(74, r.code, r.err)
    local done, units = r.err:match("soget: (%d+) of 40 documents: .*; (%d+) units\n")
    done, units = tonumber(done), tonumber(units)
    assert.truthy(done and done > 0 and done < 40, r.err)
    assert.are.equal(25 * done, units)
    assert.truthy(support.stats().search_requests < 40 * 3, r.err)
  end)

  describe("--documents", function()
    local function search_info()
      local body = support.popen_read("curl -sS --max-time 10 " .. cli.q(support.http .. "/_control/info"))
      return cjson.decode(body).search
    end

    local function oracle(doc)
      local body = support.popen_read("curl -sS --max-time 10 " .. cli.q(support.http
        .. "/_control/search?documentReference=" .. doc))
      return cjson.decode(body).items
    end

    it("reports each document with every unit it has, one CSV row per unit, in input order", function()
      local docs = {}
      for _, d in ipairs(search_info().documents) do docs[string.format("%d", d.units) .. (d.example and "x" or "")] = d end
      local big, three, one = docs["25"].documentReference, docs["3"].documentReference,
        docs["1"].documentReference
      cli.write(home .. "/docs.txt", table.concat({ "# bills of lading", three, "NOSUCHDOCUMENT1",
        "", "HLCUEUR2002APIK9", big, one }, "\n") .. "\n")
      support.reset()
      local r = cli.run({ "bulk", "--documents", home .. "/docs.txt" }, { home = home })
      assert.are.equal(1, r.code, r.err)   -- one not found, none failed
      local lines = cli.lines(r.out)
      assert.are.equal("input,status,matches,reference,pswId,freightFamily,sizeType,place,"
        .. "location,lastEventType,lastEventDate,error", lines[1])
      local expect = {}
      local function add(doc)
        local items = oracle(doc)
        if #items == 0 then expect[#expect + 1] = { doc, "not_found", "0", "" } end
        for _, hu in ipairs(items) do
          expect[#expect + 1] = { doc, "found", tostring(#items), hu.reference }
        end
      end
      for _, doc in ipairs { three, "NOSUCHDOCUMENT1", "HLCUEUR2002APIK9", big, one } do add(doc) end
      assert.are.equal(3 + 1 + 1 + 25 + 1, #expect)
      assert.are.equal(#expect + 1, #lines)
      for i, e in ipairs(expect) do
        local f = cli.csv(lines[i + 1])
        assert.are.same(e, { f[1], f[2], f[3], f[4] }, lines[i + 1])
      end
      local cgmu
      for i = 2, #lines do
        if lines[i]:find("^HLCUEUR2002APIK9,") then cgmu = cli.csv(lines[i]) end
      end
      assert.are.same({ "HLCUEUR2002APIK9", "found", "1", "CGMU2436601", "CNI0000063978",
        "Container", "22G1", "FRLEH", "MTDF", "CUS", "2020-05-21T08:30:12+02:00", "" }, cgmu)
      assert.are.equal("soget: 5 documents: 4 found, 1 not found, 0 failed; 30 units\n", r.err)
      -- one search per document, two more for the 25 units' other pages; no lookup
      local st = support.stats()
      assert.are.equal(5 + 2, st.search_requests)
      assert.are.equal(st.search_requests, st.api_requests)
    end)

    it("reads stdin and prints one JSON line per document with all its units", function()
      local big
      for _, d in ipairs(search_info().documents) do if d.units == 25 then big = d end end
      local r = cli.run({ "bulk", "-", "--documents", "--json" }, { home = home,
        stdin = "HLCUEUR2002APIK9\r\n  " .. big.documentReference .. "  \nNOSUCHDOCUMENT1\n" })
      assert.are.equal(1, r.code, r.err)
      local lines = cli.lines(r.out)
      assert.are.equal(3, #lines)
      local a, b, c = cjson.decode(lines[1]), cjson.decode(lines[2]), cjson.decode(lines[3])
      assert.are.same({ "HLCUEUR2002APIK9", "found", 1, "CGMU2436601" },
        { a.input, a.status, a.matches, a.items[1].reference })
      assert.are.equal(big.documentReference, b.input)
      assert.are.equal(25, #b.items)
      local want = oracle(big.documentReference)
      for i, hu in ipairs(b.items) do assert.are.equal(want[i].reference, hu.reference) end
      assert.are.same({ "not_found", 0 }, { c.status, c.matches })
      assert.truthy(r.err:find("3 documents: 2 found, 1 not found, 0 failed; 26 units\n", 1, true))
    end)

    it("fails a line the module refuses, alone, and exits 2", function()
      support.reset()
      local r = cli.run({ "bulk", "-", "--documents" }, { home = home,
        stdin = "HLCUEUR2002APIK9\nBAD\27[2JDOC\nBAD\155DOC\n" })
      assert.are.equal(2, r.code, r.err)
      local lines = cli.lines(r.out)
      assert.are.equal(4, #lines)
      assert.are.equal("CGMU2436601", cli.csv(lines[2])[4])
      local bad = cli.csv(lines[3])
      assert.are.equal("BAD\\x1b[2JDOC", bad[1])
      assert.are.equal("failed", bad[2])
      assert.truthy(bad[12]:find("control character", 1, true), bad[12])
      -- a byte that is not UTF-8 (a raw C1 CSI), refused as a lookup's is
      bad = cli.csv(lines[4])
      assert.are.equal("failed", bad[2], lines[4])
      assert.truthy(bad[12]:find("'documentReference' is not valid UTF-8", 1, true), bad[12])
      assert.truthy(r.err:find("3 documents: 1 found, 0 not found, 2 failed; 1 unit\n", 1, true))
      assert.are.equal(1, support.stats().search_requests)
    end)

    it("exits with the code of a failed search", function()
      local origin, path = os.getenv("SOGET_SEARCH_BASE_URL"):match("^(https?://[^/]+)(/.*)$")
      local r = cli.run({ "--retries", "0", "bulk", "-", "--documents", "--json" }, { home = home,
        stdin = "HLCUEUR2002APIK9\n", env = { SOGET_SEARCH_BASE_URL = origin .. "/_fault/500" .. path } })
      assert.are.equal(6, r.code)
      local v = cjson.decode(cli.lines(r.out)[1])
      assert.are.same({ "failed", "http", 500 }, { v.status, v.error.kind, v.error.status })
    end)

    it("fails a document whose first page announces units it does not hold, as search does", function()
      -- (before: "not_found", exit 1, where `soget search` stops with exit 6)
      local origin, path = os.getenv("SOGET_SEARCH_BASE_URL"):match("^(https?://[^/]+)(/.*)$")
      local env = { SOGET_SEARCH_BASE_URL = origin .. "/_fault/inconsistent:mode=short:id="
        .. support.uid("short") .. path }
      local r = cli.run({ "bulk", "-", "--documents", "--json" }, { home = home,
        stdin = "3714238101\n", env = env })
      assert.are.equal(6, r.code, r.err)
      local v = cjson.decode(cli.lines(r.out)[1])
      assert.are.same({ "failed", "incomplete" }, { v.status, v.error.kind })
      assert.truthy(v.error.message:find("before the total of 25 it announces", 1, true), v.error.message)
      r = cli.run({ "search", "--document", "3714238101" }, { home = home, env = env })
      assert.are.equal(6, r.code, r.err)
    end)

    it("is not --spi", function()
      local r = cli.run({ "bulk", "-", "--documents", "--spi" }, { home = home, stdin = "X\n" })
      assert.are.equal(2, r.code)
      assert.truthy(r.err:find("^Usage: soget bulk"), r.err)
    end)
  end)
end)
