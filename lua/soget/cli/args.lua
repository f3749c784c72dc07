-- The command line: options, commands and their arguments (lua-argparse),
-- with the bounds the module sets (soget.limits, soget.options).
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"

local M = {}

local fmtnum = output.fmtnum

-- A converter for a number option: lo..hi (hi may be nil), whole numbers
-- only when whole.
local function number(lo, hi, whole)
  return function(s)
    local n = tonumber(s)
    if not n then return nil, "'" .. s .. "' is not a number" end
    if whole and n ~= math.floor(n) then return nil, "'" .. s .. "' is not a whole number" end
    if (lo and n < lo) or (hi and n > hi) then
      if hi then
        return nil, string.format("'%s' is not between %s and %s", s, fmtnum(lo), fmtnum(hi))
      end
      return nil, string.format("'%s' must be at least %s", s, fmtnum(lo))
    end
    return n
  end
end

-- The converter for a client option given on the command line.
local function option_number(name)
  for _, o in ipairs(soget.options) do
    if o.name == name then return number(o.min, o.max, o.whole) end
  end
  error("soget.options has no " .. name)
end

-- text wrapped at width (between words), every line starting with lead.
local function reflow(text, width, lead)
  lead = lead or ""
  local lines, cur = {}, nil
  for word in text:gmatch("%S+") do
    if cur and #cur + 1 + #word > width then
      lines[#lines + 1] = cur
      cur = nil
    end
    cur = cur and (cur .. " " .. word) or (lead .. word)
  end
  lines[#lines + 1] = cur
  return table.concat(lines, "\n")
end

-- The configuration part of --help: the environment variables and the
-- profile settings, from soget.options.
local function config_help()
  local envs, more = {}, {}
  local shown = { client_id = true, client_secret = true, api_key = true }
  for _, o in ipairs(soget.options) do
    if o.env then envs[#envs + 1] = o.env end
    if not shown[o.name] then more[#more + 1] = o.name end
  end
  return reflow("Configuration comes from the environment (" .. table.concat(envs, ", ")
      .. ") or from a profile (--profile NAME or SOGET_PROFILE) in"
      .. " ${XDG_CONFIG_HOME:-~/.config}/soget/profiles.ini (or the file SOGET_PROFILES"
      .. " names):", 72) .. "\n\n"
    .. "   [prod]\n   client_id = my-client\n   client_secret = ...\n   api_key = ...\n"
    .. reflow("also: " .. table.concat(more, ", "), 72, "   # ")
    .. [[


A profile's settings win; what it leaves out comes from the environment.
Tokens are kept between runs in ${XDG_CACHE_HOME:-~/.cache}/soget/
(a 0700 directory of yours, files of mode 0600; anything else is not used).
What a server sends is shown with control characters as escapes (\x1b).
Colours only on a terminal, never when NO_COLOR is set.]]
end

-- The parser. Usage errors raise an exit.USAGE error carrying the usage of
-- the command concerned; --version raises an exit.OK one carrying the
-- version. --help and `help` print and exit (argparse's own).
function M.parser()
  local ok, argparse = pcall(require, "argparse")
  if not ok then
    exit.fail(exit.CONFIG, "the argparse module is missing (Debian: apt-get install lua-argparse)")
  end
  local limits = soget.limits

  local parser = argparse(output.PROGRAM)
    :description("Where is a container? Command-line client for SOGET's API Tracing Code.")
    :epilog(exit.HELP .. "\n" .. config_help())
    :add_help_command()
    :command_target("command")
    :require_command(true)
  parser:flag("--version"):description("Print the version and exit.")
    :action(function()
      exit.finish(exit.OK, { out = output.PROGRAM .. " (" .. soget._VERSION .. ")\n" })
    end)
  parser:option("-p --profile"):description("Use the settings of profile NAME."):argname("NAME")
  parser:flag("-v --verbose"):description("Say what happens on stderr (never secrets).")
  parser:option("--color"):description("Colours: auto (on a terminal), always or never.")
    :choices { "auto", "always", "never" }:default("auto"):argname("WHEN")
  parser:option("--timeout"):description("Seconds allowed for each request.")
    :convert(option_number("timeout")):argname("SECONDS")
  parser:option("--retries"):description("Retries of a failed request.")
    :convert(option_number("retries")):argname("N")
  parser:flag("--no-token-cache"):description("Neither read nor write the token cache.")

  local track = parser:command("track")
    :summary("Show where a handling unit is, and its timeline.")
    :description("Show where a handling unit is: place, indicators, transport, events in "
      .. "time order and shipments. Dates are shown as the API sends them.")
  track:argument("reference"):description("Container or handling unit reference."):args("?")
  track:option("--spi"):description("Look up by S)ONE id instead."):argname("ID")
  track:option("--max"):description("Show at most N units when several match.")
    :convert(number(1, 1000, true)):default("10"):argname("N")
  track:flag("--json"):description("Print the decoded data as JSON.")

  local find = parser:command("find")
    :summary("List every handling unit whose reference starts with PREFIX.")
    :description("List every handling unit whose reference (or S)ONE id) starts with "
      .. "PREFIX, one line each, fetching pages as they are needed.")
  find:argument("reference"):description("Reference prefix."):args("?"):argname("prefix")
  find:option("--spi"):description("Match S)ONE ids instead."):argname("PREFIX")
  find:option("--limit"):description("Stop after N matches.")
    :convert(number(1, nil, true)):argname("N")
  find:option("--page-size"):description("Units per request (1-" .. limits.limit .. ").")
    :convert(number(1, limits.limit, true)):argname("N")
  find:flag("--desc"):description("Sort in descending order.")
  find:flag("--json"):description("Print each unit as a line of JSON.")

  local search = parser:command("search")
    :summary("List every handling unit of a bill of lading or a voyage.")
    :description("List every handling unit of a document (a bill of lading) or of a "
      .. "voyage, one line each as find shows them, fetching pages as they are needed; then "
      .. "a summary: how many units, containers and other freight, where they are now "
      .. "(after the table on a terminal, else on stderr). Give at least one of --document, "
      .. "--voyage-ref and --voyage-id; every option given must match exactly.")
  search:option("--document"):description("Announcement document reference (a bill of lading).")
    :argname("REF")
  search:option("--voyage-ref"):description("The voyage agent's reference of the voyage.")
    :argname("REF")
  search:option("--voyage-id"):description("The voyage agent's S)ONE id.")
    :argname("ID")
  search:option("--customs"):description("Only units with this customs flag: Unknown, "
      .. "Import, Export, Transhipment or Transit (any case).")
    :argname("FLAG")
  search:option("--agent"):description("Only units of this freight agent (the shipping "
      .. "company's agent code).")
    :argname("CODE")
  search:option("--limit"):description("Stop after N units.")
    :convert(number(1, nil, true)):argname("N")
  search:option("--page-size"):description("Units per request (1-" .. limits.limit .. ").")
    :convert(number(1, limits.limit, true)):argname("N")
  search:flag("--desc"):description("Sort in descending order.")
  search:flag("--json"):description("Print each unit as a line of JSON.")

  local bulk = parser:command("bulk")
    :summary("Look up many references at once (CSV or JSON lines).")
    :description("Look up the references of FILE (one per line; '-' reads stdin; blank "
      .. "lines and lines starting with # are skipped). Results come in input order as CSV "
      .. "(default) or JSON lines; a summary of found / not found / failed goes to stderr.")
  bulk:argument("file"):description("File of references, or - for stdin.")
  bulk:option("--format"):description("Output format: csv or jsonl.")
    :choices { "csv", "jsonl" }:default("csv")
  bulk:flag("--json"):description("Same as --format jsonl.")
  bulk:option("-c --concurrency"):description("Lookups in flight at once (1-"
      .. limits.concurrency .. ").")
    :convert(number(1, limits.concurrency, true)):default("8"):argname("N")
  bulk:mutex(
    bulk:flag("--spi"):description("The lines are S)ONE ids."),
    bulk:flag("--documents"):description("The lines are document references (bills of "
      .. "lading): each is searched, and reported with every unit it has (CSV: one row per "
      .. "unit).")
  )

  local watch = parser:command("watch")
    :summary("Poll a handling unit and print each new event.")
    :description("Poll a handling unit and print the events not printed before. Transient "
      .. "failures are noted on stderr and polling goes on; Ctrl-C stops.")
  watch:argument("reference"):description("Container or handling unit reference."):args("?")
  watch:option("--spi"):description("Watch by S)ONE id instead."):argname("ID")
  watch:option("--every"):description("Seconds between polls.")
    :convert(number(0.1, 86400)):default("60"):argname("SECONDS")
  watch:option("--count"):description("Stop after N polls.")
    :convert(number(1, nil, true)):argname("N")
  watch:flag("--json"):description("Print each event as a line of JSON.")

  local check = parser:command("check")
    :summary("Check ISO 6346 container numbers (offline).")
    :description("Check that each REFERENCE is a valid ISO 6346 container number "
      .. "(owner code, category, serial number, check digit) and say why not.")
  check:argument("reference"):description("Container number."):args("+")
  check:flag("--json"):description("Print each verdict as a line of JSON.")

  require("soget.cli.completion").add(parser)

  -- usage errors exit 2, with the usage of the command concerned
  parser.error = function(p, msg)
    exit.finish(exit.USAGE, { err = p:get_usage() .. "\n\nError: " .. output.printable(msg) .. "\n" })
  end
  return parser
end

-- The arguments as a table (args.command names the command).
function M.parse(argv)
  return M.parser():parse(argv)
end

return M
