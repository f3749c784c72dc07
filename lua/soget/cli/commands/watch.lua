-- soget watch REFERENCE | --spi ID: polls a handling unit and prints each
-- event not printed before; transient failures are noted and polling goes
-- on.
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

return function(args, session)
  local q = query.from_args(args, "a reference", { limit = soget.limits.limit })
  local every = args.every or 60
  if every <= 0 then exit.fail(exit.USAGE, "--every must be more than 0 seconds") end
  if args.count and args.count < 1 then exit.fail(exit.USAGE, "--count must be at least 1") end
  local out = output.out
  -- The events of the last two polls that found the unit: enough for an
  -- event missing from one answer not to come back as new, and bounded
  -- (by two answers' worth) however long the watch runs.
  local seen, seen_before = {}, {}
  local polls, ever_found, missing_noted = 0, false, false
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
      output.say(os.date("%H:%M:%S"), " temporary failure, will retry: ", exit.message(err))
    else
      local found = units.prefer_exact(page.items or {}, q)
      if #found == 0 then
        if not missing_noted then
          output.say("no handling unit matches ", query.text(q), " yet")
          missing_noted = true
        end
      else
        ever_found = true
        local fresh, now_seen = {}, {}
        for _, hu in ipairs(found) do
          for _, e in ipairs(hu.events or {}) do
            local key = table.concat({ hu.pswId or hu.reference or "", e.eventType or "",
              e.eventDate or "", e.eventPlace or "", e.eventLocation or "", e.eventWay or "",
              tostring(e.eventTransportMode) }, "\0")
            local new = not (seen[key] or seen_before[key] or now_seen[key])
            now_seen[key] = true
            if new then
              local copy = {}
              for k, v in pairs(e) do copy[k] = v end
              copy.reference = hu.reference
              copy.pswId = hu.pswId
              fresh[#fresh + 1] = copy
            end
          end
        end
        seen_before, seen = seen, now_seen
        for _, e in ipairs(units.sorted_events(fresh)) do
          if args.json then out:write(output.json(e), "\n")
          else out:write(view.event_line(output.printable_tree(e)), "\n") end
        end
        out:flush()
      end
    end
    if args.count and polls >= args.count then break end
    local _, interrupted = sys.sleep(every)
    if interrupted then exit.fail(exit.INTERRUPTED) end
  end
  return ever_found and exit.OK or exit.NOT_FOUND
end
