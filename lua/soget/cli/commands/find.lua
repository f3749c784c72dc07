-- soget find PREFIX | --spi PREFIX: every handling unit whose reference
-- (or S)ONE id) starts with PREFIX, one line each, pages fetched as needed.
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local sys = require "soget.cli.sys"
local view = require "soget.cli.view"
local walk = require "soget.cli.walk"

return function(args, session)
  local q = query.from_args(args, "a prefix",
    { limit = args.page_size or soget.limits.limit, desc = args.desc or nil })
  local client = session.client
  local page, err = client:handling_units(q)
  if not page then
    output.say(exit.message(err))
    return exit.code_for(err)
  end
  local out = output.out
  local tty = sys.isatty(1)
  if tty and not args.json and (page.total or 0) > 0 then
    out:write(view.find_header(), "\n")
  end
  local n, stopped, werr = walk.walk(client, page, q, args.limit, function(hu)
    if args.json then out:write(output.json(hu), "\n")
    else out:write(view.find_line(output.printable_tree(hu)), "\n") end
    out:flush()
  end)
  if werr then
    output.say(exit.message(werr))
    return exit.code_for(werr)
  end
  if n == 0 and not stopped then
    output.say("no handling unit matches ", query.text(q))
    return exit.NOT_FOUND
  end
  if stopped then return walk.report_stop(n, stopped) end
  if tty and not args.json then
    out:write(output.paint("dim", string.format("%d of %d match%s", n, page.total,
      page.total == 1 and "" or "es")), "\n")
  end
  return exit.OK
end
