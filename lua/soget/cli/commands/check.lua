-- soget check REFERENCE...: ISO 6346 container numbers, offline.
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"

return function(args)
  local out, code = output.out, exit.OK
  for _, ref in ipairs(args.reference) do
    local ok, why = soget.check_container_number(ref)
    if not ok then code = exit.NOT_FOUND end
    if args.json then
      out:write(output.json_object { { "reference", ref }, { "valid", ok and true or false },
        { "reason", why } }, "\n")
    elseif ok then
      out:write(output.printable(ref), ": ", output.paint("green", "valid"),
        " ISO 6346 container number\n")
    else
      out:write(output.printable(ref), ": ", output.paint("red", "invalid"), ": ",
        output.printable(why), "\n")
    end
  end
  return code
end
