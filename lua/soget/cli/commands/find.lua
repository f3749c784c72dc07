-- soget find PREFIX | --spi PREFIX: every handling unit whose reference
-- (or S)ONE id) starts with PREFIX, one line each, pages fetched as needed.
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local sys = require "soget.cli.sys"
local units = require "soget.cli.units"
local walk = require "soget.cli.walk"

return function(args, session)
  args.reference = args.prefix   -- the argument is named as its help names it
  local q = query.from_args(args, "a prefix",
    { limit = args.page_size or soget.limits.limit, desc = args.desc or nil })
  local client = session.client
  local page, err = client:handling_units(q)
  if not page then
    output.say(exit.message(err))
    return exit.code_for(err)
  end
  local n, code = walk.list(args, client, page, q)
  if not n then return code end
  if n == 0 then
    output.say("no handling unit matches ", query.text(q))
    return exit.NOT_FOUND
  end
  local out = output.out
  if sys.isatty(1) and not args.json then
    -- (a total the server did not send is no count of matches)
    local total = units.total(page)
    out:write(output.paint("dim", total
      and string.format("%d of %d match%s", n, total, total == 1 and "" or "es")
      or string.format("%d match%s (the server sent no total)", n, n == 1 and "" or "es")), "\n")
  end
  return exit.OK
end
