-- soget track REFERENCE | --spi ID: where a handling unit is, and its
-- timeline; the units that match exactly when the API answers a prefix.
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local units = require "soget.cli.units"
local view = require "soget.cli.view"
local walk = require "soget.cli.walk"

return function(args, session)
  local q = query.from_args(args, "a reference", { limit = soget.limits.limit })
  local client = session.client
  local page, err = client:handling_units(q)
  if not page then
    output.say(exit.message(err))
    return exit.code_for(err)
  end
  local items = {}
  local _, stopped, werr = walk.walk(client, page, q, args.max or 10,
    function(hu) items[#items + 1] = hu end)
  if werr then
    output.say(exit.message(werr))
    return exit.code_for(werr)
  end
  items = units.prefer_exact(items, q)
  local out = output.out
  if args.json then
    out:write(output.json { total = page.total, returned = page.returned, first = page.first,
                            items = items }, "\n")
    if stopped then return walk.report_stop(#items, stopped) end
    return #items > 0 and exit.OK or exit.NOT_FOUND
  end
  if #items == 0 and not stopped then
    output.say("no handling unit matches ", query.text(q))
    return exit.NOT_FOUND
  end
  for i, hu in ipairs(items) do
    if i > 1 then out:write("\n", output.paint("dim", string.rep("─", 40)), "\n\n") end
    view.print_unit(output.printable_tree(hu))
  end
  if (page.total or 0) > #items then
    out:write("\n", output.paint("dim", string.format("%d of %d matches shown; "
      .. "list them all with: soget find %s", #items, page.total,
      output.printable(q.spi and ("--spi " .. q.spi) or q.reference))), "\n")
  end
  if stopped then return walk.report_stop(#items, stopped) end
  return exit.OK
end
