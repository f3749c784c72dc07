-- soget track REFERENCE | --spi ID: where a handling unit is, and its
-- timeline. An exact lookup (client:handling_units{exact = true}): the
-- units whose reference (or S)ONE id) is the one given, in any case; a
-- container seen on several passages has one unit per passage, shown the
-- most recent S)ONE id first. --prefix: REFERENCE is a prefix, and every
-- unit it begins is shown (at most --max), as the API lists them.
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local query = require "soget.cli.query"
local sys = require "soget.cli.sys"
local units = require "soget.cli.units"
local view = require "soget.cli.view"
local walk = require "soget.cli.walk"

local MAX_SHOWN = require("soget.cli.args").TRACK_MAX   -- the most --max takes

return function(args, session)
  local exact = not args.prefix
  local q = query.from_args(args, "a reference",
    exact and { exact = true, desc = true } or { limit = soget.limits.limit })
  local client = session.client
  local page, err = client:handling_units(q)
  if not page then
    output.say(exit.message(err))
    return exit.code_for(err)
  end
  local max = args.max or 10
  local items, stopped = {}, nil
  if exact then
    for i = 1, math.min(#page.items, max) do items[i] = page.items[i] end
  else
    local _, why, werr = walk.walk(client, page, q, max, function(hu) items[#items + 1] = hu end)
    if werr then
      output.say(exit.message(werr))
      return exit.code_for(werr)
    end
    stopped = why
  end
  local out = output.out
  if args.json then
    -- (no total when the server sent none: the module's guess counts no
    -- matches)
    out:write(output.json({ total = units.total(page), returned = #items, first = 0,
      items = items }, "page"), "\n")
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
  if (units.total(page) or 0) > #items then
    -- quoted where a shell needs it, so that the hint can be pasted back
    -- ("SOGET LOT 7")
    local function arg(v)
      return v:find("^[%w%-_.,/:@+=]+$") and v or sys.shell_quote(v)
    end
    -- (a value that begins with "-" would be read as an option: the
    -- reference after "--", the S)ONE id joined to its option)
    local what
    if q.spi then
      what = q.spi:sub(1, 1) == "-" and arg("--spi=" .. q.spi) or ("--spi " .. arg(q.spi))
    else
      what = (q.reference:sub(1, 1) == "-" and "-- " or "") .. arg(q.reference)
    end
    what = output.printable(what)
    -- (an exact lookup reads at most 50 pages of at most 10 units, each
    -- page refused when it holds more than asked: its total stays within
    -- --max's range, MAX_SHOWN)
    if exact then
      out:write("\n", output.paint("dim", string.format("%d of %d units shown (one per passage); "
        .. "all of them with: soget track --max %d %s", #items, page.total,
        math.min(page.total, MAX_SHOWN), what)), "\n")
    else
      out:write("\n", output.paint("dim", string.format("%d of %d matches shown; "
        .. "list them all with: soget find %s", #items, page.total, what)), "\n")
    end
  end
  if stopped then return walk.report_stop(#items, stopped) end
  return exit.OK
end
