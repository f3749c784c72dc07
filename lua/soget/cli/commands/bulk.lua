-- soget bulk FILE: looks up many references at once through
-- client:handling_units_many; results in input order as CSV or JSON
-- lines, a progress bar on a terminal, a summary on stderr. With
-- --documents the lines are document references, each searched
-- ({ search = { documentReference = line } }) and reported with every
-- unit it has: the pages after a search's first are walked (walk.lua).
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local sys = require "soget.cli.sys"
local units = require "soget.cli.units"
local walk = require "soget.cli.walk"

local paint = output.paint

local CSV_HEADER = { "input", "status", "matches", "reference", "pswId", "freightFamily",
  "sizeType", "place", "location", "lastEventType", "lastEventDate", "error" }

-- hu: the unit of the row (bulk --documents: one row per unit); by
-- default the first of the lookup's exact matches.
local function csv_cells(input, status, result, q, hu)
  if status == "failed" then
    local msg = type(result) == "table" and exit.message(result) or result
    return { input, status, "", "", "", "", "", "", "", "", "", msg }
  end
  hu = hu or units.prefer_exact(result.items or {}, q)[1] or {}
  local loc = hu.huLocation or {}
  local last = units.last_event(hu) or {}
  return { input, status, output.fmtnum(result.total or 0), hu.reference, hu.pswId,
    hu.freightFamily, hu.sizeType or hu.packagingCode, loc.place, loc.location,
    last.eventType, last.eventDate, "" }
end

local Progress = {}
Progress.__index = Progress

function Progress.new(total, enabled)
  return setmetatable({ total = total, done = 0, enabled = enabled,
                        found = 0, not_found = 0, failed = 0 }, Progress)
end

function Progress:add(status)
  self.done = self.done + 1
  if status == "found" then self.found = self.found + 1
  elseif status == "not_found" then self.not_found = self.not_found + 1
  else self.failed = self.failed + 1 end
end

function Progress:draw()
  if not self.enabled then return end
  local width = 30
  local frac = self.total > 0 and self.done / self.total or 1
  local fill = math.floor(frac * width + 0.5)
  output.err:write("\r\27[K", paint("cyan", string.rep("█", fill)),
    paint("dim", string.rep("░", width - fill)),
    string.format(" %d/%d  found %d  not found %d  failed %d",
      self.done, self.total, self.found, self.not_found, self.failed))
  output.err:flush()
end

function Progress:clear()
  if self.enabled then
    output.err:write("\r\27[K")
    output.err:flush()
  end
end

-- The references of FILE ("-": stdin), without blank and # lines.
local function read_inputs(file)
  local fh
  if file == "-" then fh = io.stdin
  else
    local why
    fh, why = io.open(file, "r")
    if not fh then
      exit.fail(exit.USAGE, "cannot read " .. tostring(why):gsub("^[^:]*: ", file .. ": "))
    end
  end
  local inputs = {}
  for l in fh:lines() do
    l = sys.trim(l)
    if l ~= "" and not l:match("^#") then inputs[#inputs + 1] = l end
  end
  if fh ~= io.stdin then fh:close() end
  return inputs
end

-- The units of a document's search, every page of it, from its first
-- page: the list, or nil and why not (a failed fetch: its error; pages
-- that do not add up: a message).
local function all_units(client, page, q)
  local list = {}
  local n, stopped, err = walk.walk(client, page, q, nil,
    function(hu) list[#list + 1] = hu end, "handling_units_search")
  if err then return nil, err end
  if stopped then
    return nil, string.format("stopped after %d unit%s: %s", n, n == 1 and "" or "s", stopped)
  end
  return list
end

return function(args, session)
  local inputs = read_inputs(args.file)
  local documents = args.documents
  local out = output.out
  local json = args.json or args.format == "jsonl"
  local concurrency = args.concurrency or 8
  local client = session.client
  output.note("concurrent lookups, ", concurrency, " at a time")
  local progress = Progress.new(#inputs, sys.isatty(2))
  local first_failure
  local unit_count = 0
  if not json then out:write(table.concat(CSV_HEADER, ","), "\n") end

  -- bad: why the line is no query the module takes. A document found has
  -- all its units fetched first: found, with every unit; or failed, with
  -- the error of a fetch, or incomplete: why its pages did not add up.
  local function emit(input, q, result, bad)
    local status, list, incomplete
    if bad then status = "failed"
    elseif type(result) == "table" and result.kind then status = "failed"
    elseif (result.total or 0) > 0 and #(result.items or {}) > 0 then status = "found"
    else status = "not_found" end
    if status == "found" and documents then
      local why
      list, why = all_units(client, result, q)
      if list then unit_count = unit_count + #list
      elseif type(why) == "string" then status, incomplete = "failed", why
      else status, result = "failed", why end
    end
    if status == "failed" and not first_failure then
      first_failure = bad and exit.USAGE or incomplete and exit.API or exit.code_for(result)
    end
    progress:add(status)
    if json then
      local rec = { input = input, status = status }
      if bad then rec.error = { kind = "invalid", message = bad }
      elseif incomplete then rec.error = { kind = "incomplete", message = incomplete }
      elseif status == "failed" then
        rec.error = { kind = result.kind, status = result.status, code = result.code,
          message = result.message, retryable = result.retryable }
      else
        rec.total = result.total
        rec.items = list or units.prefer_exact(result.items or {}, q)
      end
      out:write(output.json(rec), "\n")
    elseif list then   -- a document's units, one row each
      for _, hu in ipairs(list) do
        out:write(output.csv_row(csv_cells(input, status, result, q, hu), #CSV_HEADER), "\n")
      end
    else
      out:write(output.csv_row(csv_cells(input, status, bad or incomplete or result, q),
        #CSV_HEADER), "\n")
    end
  end

  local chunk = concurrency * 4
  local i = 1
  progress:draw()
  while i <= #inputs do
    local batch, queries = {}, {}
    for j = i, math.min(i + chunk - 1, #inputs) do
      if documents then
        -- the module checks a search when it is sent (query.many)
        local q = { documentReference = inputs[j], limit = soget.limits.limit }
        batch[#batch + 1] = { input = inputs[j], q = q }
        queries[#queries + 1] = { search = q }
      else
        local q = { [args.spi and "spi" or "reference"] = inputs[j], limit = soget.limits.limit }
        local ok, why = query.check(q)
        batch[#batch + 1] = { input = inputs[j], q = q, bad = not ok and why or nil }
        if ok then queries[#queries + 1] = q end
      end
    end
    local results = {}
    if documents then
      -- every line has its result, or why the module refused it, at its index
      local refused
      results, refused = query.many(client, queries, { concurrency = concurrency })
      for k, b in ipairs(batch) do b.bad, b.result = refused[k], results[k] end
    elseif #queries > 0 then
      results = client:handling_units_many(queries, { concurrency = concurrency })
    end
    local k = 0
    for _, b in ipairs(batch) do
      if b.bad then emit(b.input, b.q, nil, b.bad)
      elseif documents then emit(b.input, b.q, b.result)
      else
        k = k + 1
        emit(b.input, b.q, results[k])
      end
    end
    out:flush()
    progress:draw()
    i = i + chunk
  end
  progress:clear()
  local word = documents and "document" or "reference"
  local counts = string.format("%d %s%s: ", #inputs, word, #inputs == 1 and "" or "s")
  local tail = documents and string.format("; %d unit%s", unit_count,
    unit_count == 1 and "" or "s") or ""
  if output.color or sys.isatty(2) then   -- our own words and numbers, coloured
    output.err:write(output.PROGRAM, ": ", counts, paint("green", progress.found .. " found"), ", ",
      paint(progress.not_found > 0 and "yellow" or nil, progress.not_found .. " not found"), ", ",
      paint(progress.failed > 0 and "red" or nil, progress.failed .. " failed"), tail, "\n")
  else
    output.say(counts, progress.found, " found, ", progress.not_found, " not found, ",
      progress.failed, " failed", tail)
  end
  if first_failure then return first_failure end
  if progress.not_found > 0 then return exit.NOT_FOUND end
  return exit.OK
end
