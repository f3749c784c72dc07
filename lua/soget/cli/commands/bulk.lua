-- soget bulk FILE: looks up many references at once through
-- client:handling_units_many; results in input order as CSV or JSON
-- lines, a progress bar on a terminal, a summary on stderr.
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local sys = require "soget.cli.sys"
local units = require "soget.cli.units"

local paint = output.paint

local CSV_HEADER = { "input", "status", "matches", "reference", "pswId", "freightFamily",
  "sizeType", "place", "location", "lastEventType", "lastEventDate", "error" }

local function csv_cells(input, status, result, q)
  if status == "failed" then
    local msg = type(result) == "table" and exit.message(result) or result
    return { input, status, "", "", "", "", "", "", "", "", "", msg }
  end
  local hu = units.prefer_exact(result.items or {}, q)[1] or {}
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

return function(args, session)
  local inputs = read_inputs(args.file)
  local out = output.out
  local json = args.json or args.format == "jsonl"
  local concurrency = args.concurrency or 8
  local client = session.client
  output.note("concurrent lookups, ", concurrency, " at a time")
  local progress = Progress.new(#inputs, sys.isatty(2))
  local first_failure
  if not json then out:write(table.concat(CSV_HEADER, ","), "\n") end

  -- bad: why the line is no query the module takes
  local function emit(input, q, result, bad)
    local status
    if bad then status = "failed"
    elseif type(result) == "table" and result.kind then status = "failed"
    elseif (result.total or 0) > 0 and #(result.items or {}) > 0 then status = "found"
    else status = "not_found" end
    if status == "failed" and not first_failure then
      first_failure = bad and exit.USAGE or exit.code_for(result)
    end
    progress:add(status)
    if json then
      local rec = { input = input, status = status }
      if status == "failed" then
        rec.error = bad and { kind = "invalid", message = bad } or {
          kind = result.kind, status = result.status, code = result.code,
          message = result.message, retryable = result.retryable }
      else
        rec.total = result.total
        rec.items = units.prefer_exact(result.items or {}, q)
      end
      out:write(output.json(rec), "\n")
    else
      out:write(output.csv_row(csv_cells(input, status, bad or result, q), #CSV_HEADER), "\n")
    end
  end

  local chunk = concurrency * 4
  local i = 1
  progress:draw()
  while i <= #inputs do
    local batch, queries = {}, {}
    for j = i, math.min(i + chunk - 1, #inputs) do
      local q = { [args.spi and "spi" or "reference"] = inputs[j], limit = soget.limits.limit }
      local ok, why = query.check(q)
      batch[#batch + 1] = { input = inputs[j], q = q, bad = not ok and why or nil }
      if ok then queries[#queries + 1] = q end
    end
    local results = {}
    if #queries > 0 then
      results = client:handling_units_many(queries, { concurrency = concurrency })
    end
    local k = 0
    for _, b in ipairs(batch) do
      if b.bad then emit(b.input, b.q, nil, b.bad)
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
  local counts = string.format("%d reference%s: ", #inputs, #inputs == 1 and "" or "s")
  if output.color or sys.isatty(2) then   -- our own words and numbers, coloured
    output.err:write(output.PROGRAM, ": ", counts, paint("green", progress.found .. " found"), ", ",
      paint(progress.not_found > 0 and "yellow" or nil, progress.not_found .. " not found"), ", ",
      paint(progress.failed > 0 and "red" or nil, progress.failed .. " failed"), "\n")
  else
    output.say(counts, progress.found, " found, ", progress.not_found, " not found, ",
      progress.failed, " failed")
  end
  if first_failure then return first_failure end
  if progress.not_found > 0 then return exit.NOT_FOUND end
  return exit.OK
end
