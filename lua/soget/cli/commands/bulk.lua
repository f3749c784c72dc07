-- soget bulk FILE: looks up many references at once through
-- client:handling_units_many, exact lookups (--prefix: the references are
-- prefixes, and one that matches several units is ambiguous); results in
-- input order as CSV or JSON lines, a progress bar on a terminal, a
-- summary on stderr. FILE is CSV (a column of it: --column, --header) or
-- JSON Lines (--input jsonl); inputs.lua reads it. With --documents the
-- values are document references, each searched ({ search = {
-- documentReference = value } }) and reported with every unit it has: the
-- pages after a search's first are walked (walk.lua).
local soget = require "soget"
local exit = require "soget.cli.exit"
local inputs = require "soget.cli.inputs"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local sys = require "soget.cli.sys"
local units = require "soget.cli.units"
local walk = require "soget.cli.walk"

local CSV_HEADER = { "input", "status", "matches", "reference", "pswId", "freightFamily",
  "sizeType", "place", "location", "lastEventType", "lastEventDate", "error" }

-- The matches of a row: a document's units, once walked (list); else the
-- lookup's total, unless the server sent none (the module's guess counts
-- no matches): nil, an empty cell.
local function matches(result, list)
  if list then return #list end
  return units.total(result)
end

-- hu: the unit of the row (bulk --documents: one row per unit); by
-- default the lookup's first unit.
local function csv_cells(input, status, result, hu, list)
  if status == "failed" then
    local msg = type(result) == "table" and exit.message(result) or result
    return { input, status, "", "", "", "", "", "", "", "", "", msg }
  end
  hu = hu or (result.items or {})[1] or {}
  local loc = hu.huLocation or {}
  local last = units.last_event(hu) or {}
  local n = matches(result, list)
  return { input, status, n and output.fmtnum(n) or "", hu.reference, hu.pswId,
    hu.freightFamily, hu.sizeType or hu.packagingCode, loc.place, loc.location,
    last.eventType, last.eventDate, "" }
end

local Progress = {}
Progress.__index = Progress

-- shared: the rows go to the same terminal, where the bar is cleared
-- before one is written (else it runs into the row).
-- prefix: ambiguous counts (--prefix), as in the summary.
function Progress.new(total, enabled, shared, prefix)
  return setmetatable({ total = total, done = 0, enabled = enabled, shared = shared,
                        prefix = prefix, found = 0, ambiguous = 0, not_found = 0, failed = 0 },
                      Progress)
end

function Progress:before_row()
  if self.shown and self.shared then
    output.err:write("\r\27[K")
    output.err:flush()
    self.shown = false
  end
end

function Progress:add(status)
  self.done = self.done + 1
  if status == "found" then self.found = self.found + 1
  elseif status == "ambiguous" then self.ambiguous = self.ambiguous + 1
  elseif status == "not_found" then self.not_found = self.not_found + 1
  else self.failed = self.failed + 1 end
end

function Progress:draw()
  if not self.enabled then return end
  local width = 30
  local frac = self.total > 0 and self.done / self.total or 1
  local fill = math.floor(frac * width + 0.5)
  output.err:write("\r\27[K", output.paint_err("cyan", string.rep("█", fill)),
    output.paint_err("dim", string.rep("░", width - fill)),
    string.format(" %d/%d  found %d", self.done, self.total, self.found),
    self.prefix and string.format("  ambiguous %d", self.ambiguous) or "",
    string.format("  not found %d  failed %d", self.not_found, self.failed))
  output.err:flush()
  self.shown = true
end

function Progress:clear()
  if self.enabled then
    output.err:write("\r\27[K")
    output.err:flush()
  end
end

-- The values of FILE ("-": stdin): {value, line[, why]} each, a value
-- nil (with why) for a row that has none. A file that is not CSV, or
-- holds more references than inputs.MAX_ENTRIES, is a usage error.
local function read_inputs(args)
  local fh
  if args.file == "-" then
    -- (closed when the program started: /dev/null since, sys.std_closed)
    if sys.std_closed and sys.std_closed:find("0", 1, true) then
      exit.fail(exit.USAGE, "cannot read the standard input: it is closed")
    end
    fh = io.stdin
  else
    local why
    fh, why = io.open(args.file, "rb")
    if not fh then
      -- (a function: the file's name may hold '%', which a replacement
      -- string would read as a capture)
      exit.fail(exit.USAGE, "cannot read " .. tostring(why):gsub("^[^:]*: ", function()
        return args.file .. ": "
      end))
    end
  end
  -- A directory opens but cannot be read; a closed standard input neither:
  -- both are said, as a file that cannot be opened is. Read up to the cap
  -- (an endless input, /dev/zero, would take all memory).
  local text, rwhy = fh:read(inputs.MAX_BYTES + 1)
  if fh ~= io.stdin then fh:close() end
  local name = args.file == "-" and "the standard input" or args.file
  if not text and rwhy == nil then text = "" end   -- (an empty input: read(n) gives nil)
  if not text then
    exit.fail(exit.USAGE, "cannot read " .. name .. ": "
      .. tostring(rwhy or "nothing could be read"):gsub("^[^:]*: ", ""))
  end
  if #text > inputs.MAX_BYTES then
    exit.fail(exit.USAGE, ("%s is larger than %d MiB: split it"):format(name,
      math.floor(inputs.MAX_BYTES / 1048576)))
  end
  local column, cwhy = inputs.column(args.column)
  if args.column and not column then exit.fail(exit.USAGE, cwhy) end
  local list, why
  if args.input == "jsonl" then
    if type(column) == "number" then
      exit.fail(exit.USAGE, "--column: with --input jsonl, the name of a member")
    end
    local ok, dkjson = pcall(require, "dkjson")
    if not ok then
      exit.fail(exit.CONFIG, "the dkjson module is missing (Debian: apt-get install lua-dkjson)")
    end
    local member = column or (args.documents and "documentReference") or (args.spi and "spi")
      or "reference"
    list, why = inputs.from_jsonl(text, member, dkjson.decode)
  else
    list, why = inputs.from_csv(text, column, args.header)
  end
  if not list then exit.fail(exit.USAGE, (args.file == "-" and "stdin" or args.file) .. ": " .. why) end
  return list
end

-- The units of a document's search, every page of it, from its first
-- page: the list, or nil and why not (a failed fetch: its error; pages
-- that do not add up: a message).
-- They are held to the last page (a document is written whole or fails):
-- past walk.HELD_MAX of memory more than the program held when it began
-- (base, in KB, after a full collection), measured after a full
-- collection, the document fails, rather than the program (a server can
-- make one endless).
local function all_units(client, page, q, base)
  local list, over = {}, false
  local max = walk.HELD_MAX / 1024
  local n, stopped, err = walk.walk(client, page, q, nil, function(hu)
    list[#list + 1] = hu
    if #list % 10 == 0 and collectgarbage("count") - base > max then
      collectgarbage()
      if collectgarbage("count") - base > max then
        over = true
        return false
      end
    end
  end, "handling_units_search")
  if err then return nil, err end
  if over then
    return nil, string.format("stopped after %d units: they take more than %d MiB to hold "
      .. "(soget search --document lists a document's units as they come)", n,
      math.floor(walk.HELD_MAX / 1048576))
  end
  if stopped then
    return nil, string.format("stopped after %d unit%s: %s", n, n == 1 and "" or "s", stopped)
  end
  return list
end

return function(args, session)
  if args.prefix and args.documents then
    exit.fail(exit.USAGE, "--prefix is for references: a document's search matches it exactly")
  end
  local entries = read_inputs(args)
  local documents = args.documents
  local exact = not args.prefix
  local out = output.out
  local json = args.json or args.format == "jsonl"
  local concurrency = args.concurrency or 8
  local client = session.client
  output.note("concurrent lookups, ", concurrency, " at a time")
  local progress = Progress.new(#entries, sys.isatty(2), sys.isatty(1), args.prefix)
  local first_failure
  local unit_count = 0
  if documents then query.check_search(client) end   -- before any output
  local held_base   -- (all_units)
  if documents then
    collectgarbage()
    collectgarbage()   -- (what finalizers let go of goes in a second cycle)
    held_base = collectgarbage("count")
  end
  if not json then out:write(table.concat(CSV_HEADER, ","), "\n") end

  -- bad: why the value is no query the module takes. A document found has
  -- all its units fetched first: found, with every unit; or failed, with
  -- the error of a fetch, or incomplete: why its pages did not add up. A
  -- prefix (--prefix) that matches several units is ambiguous.
  local function emit(input, q, result, bad)
    local status, list, incomplete
    if bad then status = "failed"
    elseif type(result) == "table" and result.kind then status = "failed"
    elseif documents and ((result.total or 0) ~= 0 or #(result.items or {}) > 0) then
      -- a first page that announces units or holds some: walked, so that
      -- one that does not add up (none of the units it announces, units
      -- past a total of 0) fails the document as `search` does
      status = "found"
    elseif (result.total or 0) > 0 and #(result.items or {}) > 0 then
      status = (not exact and not documents and result.total > 1) and "ambiguous" or "found"
    elseif (units.total(result) or 0) > 0 then
      -- a first page that announces units and holds none: no answer (as
      -- find says of it), not "not found"
      status, incomplete = "failed", string.format("the server's page at offset 0 announces "
        .. "%d unit%s and holds none", result.total, result.total == 1 and "" or "s")
    else status = "not_found" end
    if status == "found" and documents and not out.failed then
      local why
      list, why = all_units(client, result, q, held_base)
      if list then unit_count = unit_count + #list
      elseif type(why) == "string" then status, incomplete = "failed", why
      else status, result = "failed", why end
    end
    if status == "failed" and not first_failure then
      first_failure = bad and exit.USAGE or incomplete and exit.API or exit.code_for(result)
    end
    progress:add(status)
    progress:before_row()
    if json then
      local fields = { { "input", input }, { "status", status } }
      if bad then
        fields[3] = { "error", { kind = "invalid", message = bad } }
      elseif incomplete then
        fields[3] = { "error", { kind = "incomplete", message = incomplete } }
      elseif status == "failed" then
        fields[3] = { "error", { kind = result.kind, status = result.status, code = result.code,
          message = result.message, retryable = result.retryable } }
      else
        fields[3] = { "matches", matches(result, list) }
        fields[4] = { "items", list or result.items or {}, "units" }
      end
      out:write(output.json_object(fields), "\n")
    elseif list then   -- a document's units, one row each
      for _, hu in ipairs(list) do
        out:write(output.csv_row(csv_cells(input, status, result, hu, list), #CSV_HEADER), "\n")
      end
    else
      out:write(output.csv_row(csv_cells(input, status, bad or incomplete or result),
        #CSV_HEADER), "\n")
    end
  end

  -- The token endpoint refused the credentials (not for a while: for
  -- good): every lookup left would ask again and fail alike, so none is
  -- sent, and each row fails with that error.
  local refused_token
  local function token_refused(r)
    if type(r) == "table" and r.kind == "auth" and r.retryable == false
       and type(r.message) == "string" and r.message:find("^token request refused") then
      refused_token = refused_token or r
    end
  end

  -- The bar again, every step rows (about a hundred times over the run)
  -- and at the last one.
  local step = math.max(1, math.floor(#entries / 100))
  local function maybe_draw()
    if progress.done % step == 0 or progress.done == #entries then progress:draw() end
  end

  -- References: batches of up to WINDOW, `concurrency` lookups in flight
  -- whatever each waits for (a retry's wait holds up no other), each row
  -- written as soon as the rows before it are. A window bounds what the
  -- rows and the queries hold.
  --
  -- A batch's lookups share its token request's failure: one failed token
  -- request fails every lookup of the batch left (a refusal so costs one
  -- request). A failure that may pass (an HTTP 503, a timeout) begins a new
  -- batch for the lookups without an answer, once, and again after answers
  -- came: a token endpoint down for a moment fails no row, and one that
  -- stays down costs two token requests a window. (A refusal stops the
  -- windows after it too: token_refused.)
  local WINDOW = 10000
  local function token_failed(r)
    return type(r) == "table" and r.kind ~= nil and r.retryable == true
      and type(r.message) == "string" and r.message:find("^token request") ~= nil
  end
  local function look_up_references()
    -- the results cannot be written (a full disk, a closed pipe): the
    -- lookups left are of no use; the caller reports it (exit 74)
    local STOP, AGAIN = {}, {}
    local first = 1
    while first <= #entries do
      local last = math.min(first + WINDOW - 1, #entries)
      local rows = {}
      for j = first, last do
        local e = entries[j]
        local row = { input = e.value or "", bad = e.why }
        if e.value then
          -- exact: every unit of the reference, the most recent S)ONE id first
          local q = { [args.spi and "spi" or "reference"] = e.value, limit = soget.limits.limit,
                      exact = exact or nil, desc = exact or nil }
          local ok, why = query.check(q)
          row.q, row.bad = q, not ok and why or nil
        end
        rows[j - first + 1] = row
      end
      local n, next_row = #rows, 1
      local function write_ready()
        while next_row <= n do
          local r = rows[next_row]
          if r.bad then emit(r.input, r.q, nil, r.bad)
          elseif r.result ~= nil then
            token_refused(r.result)
            emit(r.input, r.q, r.result)
          else break end
          rows[next_row] = false   -- written: let go of its page
          next_row = next_row + 1
          maybe_draw()
          if out.failed then break end
        end
        out:flush()
        if out.failed then error(STOP, 0) end
      end
      local again = 1   -- new batches a token failure may still begin
      while true do
        local queries, at = {}, {}   -- at[k]: the row of queries[k]
        for j = next_row, n do
          local r = rows[j]
          if r and not r.bad and r.result == nil then
            if refused_token then r.result = refused_token
            else
              queries[#queries + 1] = r.q
              at[#queries] = j
            end
          end
        end
        local ok, err = pcall(function()
          write_ready()
          if #queries == 0 then return end
          client:handling_units_many(queries, { concurrency = concurrency,
            on_result = function(k, result)
              if not token_failed(result) then
                again = 1   -- answers came: the next failure may begin a batch again
              elseif again > 0 then
                again = again - 1
                error(AGAIN, 0)
              end
              rows[at[k]].result = result
              write_ready()
            end })
        end)
        if ok then break end
        if err == STOP then return end
        if err ~= AGAIN then error(err, 0) end
      end
      -- (the module answers every lookup of a batch it ends normally)
      assert(next_row > n, "bulk: a lookup of the batch got no answer")
      first = last + 1
    end
  end

  -- Documents: in chunks, each document found walked (which the client
  -- cannot do inside a batch) before the next chunk.
  local function search_documents()
    local chunk = concurrency * 4
    local i = 1
    -- the header out first: output that cannot be written sends no search
    -- (the caller reports it, exit 74)
    out:flush()
    if out.failed then return end
    while i <= #entries do
      local batch, queries = {}, {}
      for j = i, math.min(i + chunk - 1, #entries) do
        local e = entries[j]
        local input = e.value or ""
        if not e.value then
          batch[#batch + 1] = { input = input, bad = e.why }
        else
          -- the module checks a search when it is sent (query.many)
          local q = { documentReference = e.value, limit = soget.limits.limit }
          batch[#batch + 1] = { input = input, q = q, search = true }
          queries[#queries + 1] = { search = q }
        end
      end
      if refused_token then
        for _, b in ipairs(batch) do
          if b.search then b.result = refused_token end
        end
      else
        -- every search has its result, or why the module refused it, at its index
        local results, refused = query.many(client, queries, { concurrency = concurrency })
        local k = 0
        for _, b in ipairs(batch) do
          if b.search then
            k = k + 1
            b.bad, b.result = refused[k], results[k]
          end
        end
      end
      for _, b in ipairs(batch) do
        if b.bad then emit(b.input, b.q, nil, b.bad)
        else
          token_refused(b.result)
          emit(b.input, b.q, b.result)
        end
        -- (a document's rows not written: the next ones neither walked
        -- nor counted)
        if out.failed then break end
      end
      out:flush()
      progress:draw()
      i = i + chunk
      -- the results cannot be written (a full disk, a closed pipe): the
      -- documents left are of no use; the caller reports it (exit 74)
      if out.failed then break end
    end
  end

  progress:draw()
  if documents then
    search_documents()
  else
    look_up_references()
  end
  progress:clear()
  local word = documents and "document" or "reference"
  local counts = string.format("%s%d %s%s: ",
    progress.done < #entries and (progress.done .. " of ") or "", #entries, word,
    #entries == 1 and "" or "s")
  local tail = documents and string.format("; %d unit%s", unit_count,
    unit_count == 1 and "" or "s") or ""
  -- ambiguous only counts with --prefix
  local amb = args.prefix and (progress.ambiguous .. " ambiguous") or nil
  if output.color_err then   -- our own words and numbers, coloured
    local ep = output.paint_err
    output.err:write(output.PROGRAM, ": ", counts, ep("green", progress.found .. " found"), ", ",
      amb and (ep(progress.ambiguous > 0 and "yellow" or nil, amb) .. ", ") or "",
      ep(progress.not_found > 0 and "yellow" or nil, progress.not_found .. " not found"), ", ",
      ep(progress.failed > 0 and "red" or nil, progress.failed .. " failed"), tail, "\n")
  else
    output.say(counts, progress.found, " found, ", amb and (amb .. ", ") or "", progress.not_found,
      " not found, ",
      progress.failed, " failed", tail)
  end
  if first_failure then return first_failure end
  if progress.not_found > 0 or progress.ambiguous > 0 then return exit.NOT_FOUND end
  return exit.OK
end
