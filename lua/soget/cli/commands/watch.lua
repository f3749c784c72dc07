-- soget watch REFERENCE | --spi ID: polls a handling unit (an exact
-- lookup, as track makes; --prefix: the units REFERENCE begins, one page
-- of them, said when more match) and
-- prints each event not printed before, in time order; transient failures
-- are noted and polling goes on. The exit code: 0 when the unit was found,
-- 1 when no poll found it and at least one answered (failed polls aside),
-- and when every poll failed, the code of the last failure (5 for the
-- network).
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local sys = require "soget.cli.sys"
local units = require "soget.cli.units"
local view = require "soget.cli.view"

local function transient(err)
  return err.retryable == true or err.kind == "network" or err.kind == "timeout"
end

-- A page that announces units and holds none (a listing that changed
-- between the count and the fetch, or a server's fault): a failed poll of
-- the API's, which the next may not meet.
local Inconsistent = { __tostring = function(e) return "soget: api: " .. e.message end }
local function inconsistent(total)
  return setmetatable({ kind = "api", retryable = true, message = string.format(
    "the server's page announces %d unit%s and holds none", total, total == 1 and "" or "s") },
    Inconsistent)
end

-- An event as a line of JSON: the unit's reference and S)ONE id, then the
-- event's fields in the document's order. Members of the event named so
-- (outside the schema: a server's) are left out: a second key of the same
-- name would credit the event to another unit in most JSON readers.
local function event_json(e)
  local head = output.json_object { { "reference", e.reference }, { "pswId", e.pswId } }
  local ev = e.event
  if ev.reference ~= nil or ev.pswId ~= nil then
    ev = {}
    for k, v in pairs(e.event) do
      if k ~= "reference" and k ~= "pswId" then ev[k] = v end
    end
  end
  local body = output.json(ev, "event")
  if body == "{}" then return head end
  if head == "{}" then return body end
  return head:sub(1, -2) .. "," .. body:sub(2)
end

-- What tells an event from another: its unit and its fields, the date as
-- the instant it stands for (a server that writes one date with another
-- offset sends the same event), each part as its length then its bytes
-- (a server's text may hold any byte: no separator can be told from it).
local function event_key(hu, e)
  local parts = { hu.pswId or hu.reference or "", e.eventType or "", "", e.eventPlace or "",
                  e.eventLocation or "", e.eventWay or "", tostring(e.eventTransportMode) }
  local sec, ns = units.instant(e.eventDate)
  parts[3] = sec and ("@%d.%d"):format(sec, ns) or "'" .. tostring(e.eventDate or "")
  for i = 1, #parts do parts[i] = #parts[i] .. ":" .. parts[i] end
  return table.concat(parts)
end

return function(args, session)
  local q = query.from_args(args, "a reference",
    args.prefix and { limit = soget.limits.limit } or { exact = true })
  local every = args.every or 60
  if every <= 0 then exit.fail(exit.USAGE, "--every must be more than 0 seconds") end
  if args.count and args.count < 1 then exit.fail(exit.USAGE, "--count must be at least 1") end
  local out = output.out
  -- The events of the last two polls that found the unit: enough for an
  -- event missing from one answer not to come back as new, and bounded
  -- (by two answers' worth) however long the watch runs.
  local seen, seen_before = {}, {}
  local polls, answered, ever_found, missing_noted, more_noted = 0, 0, false, false, false
  local last_err
  if sys.isatty(2) then
    output.say("watching ", query.text(q), " every ", output.fmtnum(every), "s (Ctrl-C to stop)")
  end
  while true do
    polls = polls + 1
    local page, err = session.client:handling_units(q)
    if not page then
      if not transient(err) then
        output.say(exit.message(err))
        return exit.code_for(err)
      end
      last_err = err
      output.say(os.date("%H:%M:%S"), " temporary failure, will retry: ", exit.message(err))
    elseif #(page.items or {}) == 0 and (units.total(page) or 0) > 0 then
      last_err = inconsistent(page.total)
      output.say(os.date("%H:%M:%S"), " temporary failure, will retry: ", exit.message(last_err))
    else
      answered = answered + 1
      local found = page.items or {}
      if #found == 0 then
        if not missing_noted then
          output.say("no handling unit matches ", query.text(q), " yet")
          missing_noted = true
        end
      else
        ever_found = true
        local total = units.total(page)
        if args.prefix and not more_noted and (total or 0) > #found then
          -- one page a poll: the units past it are not watched
          output.say("watching the first ", #found, " of the ", total, " units ",
            query.text(q), " begins: narrow the prefix to watch the others")
          more_noted = true
        elseif args.prefix and not more_noted and not total and #found >= q.limit then
          -- (a full page and no total: there may be more)
          output.say("watching the first ", #found, " units ", query.text(q), " begins (the "
            .. "server sent no total: there may be more): narrow the prefix to watch any others")
          more_noted = true
        end
        local fresh, now_seen = {}, {}
        for _, hu in ipairs(found) do
          for _, e in ipairs(units.events(hu)) do
            local key = event_key(hu, e)
            local new = not (seen[key] or seen_before[key] or now_seen[key])
            now_seen[key] = true
            if new then
              fresh[#fresh + 1] = { reference = hu.reference, pswId = hu.pswId, event = e,
                                    eventDate = e.eventDate }
            end
          end
        end
        seen_before, seen = seen, now_seen
        for _, f in ipairs(soget.events_in_order({ events = fresh })) do
          if args.json then
            out:write(event_json(f), "\n")
          else
            local line = {}
            for k, v in pairs(f.event) do line[k] = v end
            line.reference, line.pswId = f.reference, f.pswId
            out:write(view.event_line(output.printable_tree(line)), "\n")
          end
        end
        out:flush()
        -- the results cannot be written (a full disk, a closed pipe): no
        -- point in polling on; the caller reports it (exit 74)
        if out.failed then return exit.OUTPUT end
      end
    end
    if args.count and polls >= args.count then break end
    local _, interrupted = sys.sleep(every)
    if interrupted then exit.fail(exit.INTERRUPTED) end
  end
  if answered == 0 and last_err then
    output.say("every poll failed (", polls, "); the last: ", exit.message(last_err))
    return exit.code_for(last_err)
  end
  return ever_found and exit.OK or exit.NOT_FOUND
end
