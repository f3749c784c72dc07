-- soget search --document REF | --voyage-ref REF | --voyage-id ID
-- [--customs FLAG] [--agent CODE]: every handling unit of a bill of lading
-- or a voyage (client:handling_units_search), one line each as find shows
-- them, pages fetched as needed, then a summary line: units, containers
-- and other freight, where they are now.
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local sys = require "soget.cli.sys"
local units = require "soget.cli.units"
local view = require "soget.cli.view"
local walk = require "soget.cli.walk"

return function(args, session)
  local q = query.search_from_args(args,
    { limit = args.page_size or soget.limits.limit, desc = args.desc or nil })
  local client = session.client
  local page, err = query.search(client, q)
  if not page then
    output.say(exit.message(err))
    return exit.code_for(err)
  end
  local tally = units.tally()
  local n, code = walk.list(args, client, page, q, "handling_units_search",
    function(hu) tally:add(hu) end)
  if not n then return code end
  if n == 0 then
    output.say("no handling unit matches ", query.search_text(q))
    return exit.NOT_FOUND
  end
  -- the summary ends the table on a terminal; otherwise it goes to stderr,
  -- so that stdout stays one unit per line
  local summary = view.search_summary(tally, units.total(page))
  if sys.isatty(1) and not args.json then
    output.out:write(output.paint("dim", output.printable(summary)), "\n")
  else
    output.say(summary)
  end
  return exit.OK
end
