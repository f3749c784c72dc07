-- The command line: options, commands and their arguments (lua-argparse),
-- with the bounds the module sets (soget.limits, soget.options).
local soget = require "soget"
local completion = require "soget.cli.completion"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local sys = require "soget.cli.sys"

local M = {}

-- The most units `track --max` shows.
M.TRACK_MAX = 1000

-- The API's customs flags (search --customs, any case).
local CUSTOMS = { "Unknown", "Import", "Export", "Transhipment", "Transit" }

local fmtnum = output.fmtnum

-- A converter for a number option: lo..hi (hi may be nil), whole numbers
-- only when whole.
local function number(lo, hi, whole)
  return function(s)
    local n = sys.number(s)
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

-- The converter for a client option given on the command line, and its
-- range as --help shows it ("(0.001-86400)").
local function option_number(name)
  for _, o in ipairs(soget.options) do
    if o.name == name then
      return number(o.min, o.max, o.whole), string.format("(%s-%s)", fmtnum(o.min), fmtnum(o.max))
    end
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
(made 0700, files 0600; not used when the directory is a link, another
user's, or writable by others, nor a file with any group or other
permission; -v says why).
What a server sends is shown with control characters as escapes (\x1b).
Colours only on a terminal, never when NO_COLOR is set.]]
end

-- Each command's --help ends with examples and its exit codes.
local CODES = {
  [0] = "found", [1] = "not found", [2] = "usage error",
  [3] = "configuration error (no credentials, bad profile file)",
  [4] = "authentication failure (credentials or token refused)",
  [5] = "network failure (connection, timeout, TLS)",
  [6] = "API or server error (HTTP error, API error, unreadable answer, pages that do not add up)",
  [74] = "the results could not be written (a full disk)",
  [130] = "interrupted (Ctrl-C)",
}

-- examples: command lines; codes: {code, text or nil for CODES' text}.
local function epilog(examples, codes)
  local lines = { "Examples:" }
  for _, e in ipairs(examples) do lines[#lines + 1] = "   " .. e end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Exit codes:"
  for _, c in ipairs(codes) do
    lines[#lines + 1] = reflow(c[2] or CODES[c[1]], 72 - 8, (" "):rep(8))
      :gsub("^ +", string.format("%4d    ", c[1]))
  end
  return table.concat(lines, "\n")
end

-- The exit codes of a command that talks to the API: 2 to 6, 74 and 130 as
-- CODES says, with the command's own (0, 1, and any other it words its
-- own way) merged in, in order.
local function codes(own)
  local by, t = {}, {}
  for _, c in ipairs { { 2 }, { 3 }, { 4 }, { 5 }, { 6 }, { 74 }, { 130 } } do by[c[1]] = c end
  for _, c in ipairs(own) do by[c[1]] = c end
  for _, c in pairs(by) do t[#t + 1] = c end
  table.sort(t, function(a, b) return a[1] < b[1] end)
  return t
end

-- The program's version, with the module's and libcurl's.
M.VERSION = "0.1.0"
function M.version_text()
  return string.format("%s %s (module %s, libcurl %s)\n", output.PROGRAM, M.VERSION,
    (tostring(soget._VERSION):match("([%d.]+)%s*$") or "?"), tostring(soget.libcurl_version))
end

-- The parser. Usage errors raise an exit.USAGE error carrying the usage of
-- the command concerned; --version raises an exit.OK one carrying the
-- version. --help and `help` print and exit (argparse's own).
-- The argnames of the options whose value is a number (or a column).
local NUMBER_ARGNAMES = { N = true, SECONDS = true, ["N|NAME"] = true }

function M.parser()
  local ok, argparse = pcall(require, "argparse")
  if not ok then
    exit.fail(exit.CONFIG, "the argparse module is missing (Debian: apt-get install lua-argparse)")
  end
  local limits = soget.limits

  local parser = argparse(output.PROGRAM)
    :description("Where is a container? Command-line client for SOGET's API Tracing Code.")
    :epilog(exit.HELP .. "\n" .. config_help())
    :add_help_command({ epilog = epilog({ "soget help track", "soget help" },
      { { 0, "the help printed" }, { 2, "usage error (a command that does not exist)" },
        { 74, "the help could not be written" } }) })
    :command_target("command")
    :require_command(true)
  parser:flag("--version"):description("Print the version and exit.")
    :action(function()
      exit.finish(exit.OK, { out = M.version_text() })
    end)
  parser:option("-p --profile"):description("Use the settings of profile NAME."):argname("NAME")
  parser:flag("-v --verbose"):description("Say what happens on stderr (never secrets).")
  parser:option("--color"):description("Colours: auto (on a terminal), always or never.")
    :choices { "auto", "always", "never" }:default("auto"):argname("WHEN")
  local timeout_number, timeout_range = option_number("timeout")
  local retries_number, retries_range = option_number("retries")
  parser:option("--timeout")
    :description("Seconds for each call, its token and retries included " .. timeout_range .. ".")
    :convert(timeout_number):argname("SECONDS")
  parser:option("--retries"):description("Retries of a failed request " .. retries_range .. ".")
    :convert(retries_number):argname("N")
  parser:flag("--no-token-cache"):description("Neither read nor write the token cache.")

  local track = parser:command("track")
    :summary("Show where a handling unit is, and its timeline.")
    :description("Show where a handling unit is: place, indicators, transport, events in "
      .. "time order and shipments. Dates are shown as the API sends them. The unit whose "
      .. "reference is REFERENCE, in any case (the API's own filter is a prefix); a container "
      .. "seen on several passages has one unit per passage, the most recent S)ONE id first.")
    :epilog(epilog({ "soget track CGMU2436601", "soget track --spi CNI0000063978",
      "soget track MSCU99 --prefix --max 3          # every unit MSCU99 begins",
      "soget track CGMU2436601 --json | jq '.items[0].huLocation'" },
      codes { { 0, "found" }, { 1, "no unit has that reference (or S)ONE id)" } }))
  track:argument("reference"):description("Container or handling unit reference."):args("?")
  track:option("--spi"):description("Look up by S)ONE id instead."):argname("ID")
  track:flag("--prefix"):description("REFERENCE is a prefix: show every unit it begins.")
  track:option("--max"):description("Show at most N units when several match (1-" .. M.TRACK_MAX .. ").")
    :convert(number(1, M.TRACK_MAX, true)):default("10"):argname("N")
  track:flag("--json"):description("Print {total, returned, first, items} as JSON.")

  local find = parser:command("find")
    :summary("List every handling unit whose reference starts with PREFIX.")
    :description("List every handling unit whose reference (or S)ONE id) starts with "
      .. "PREFIX, one line each, fetching pages as they are needed.")
    :epilog(epilog({ "soget find MSCU --limit 20", "soget find --spi CNI00000639",
      "soget find MSCU99 --json | jq -r .reference     # JSON Lines: a unit a line" },
      codes { { 0, "found" }, { 1, "nothing matches" },
        { 6, "API or server error, or pages that do not add up (the units so far are "
          .. "printed)" } }))
  find:argument("prefix"):description("Reference prefix."):args("?")
  find:option("--spi"):description("Match S)ONE ids instead."):argname("PREFIX")
  find:option("--limit"):description("Stop after N matches.")
    :convert(number(1, nil, true)):argname("N")
  find:option("--page-size"):description("Units per request (1-" .. limits.limit .. ").")
    :convert(number(1, limits.limit, true)):argname("N")
  find:flag("--desc"):description("Sort in descending order.")
  find:flag("--json"):description("Print each unit as a line of JSON (JSON Lines).")

  local search = parser:command("search")
    :summary("List every handling unit of a bill of lading or a voyage.")
    :description("List every handling unit of a document (a bill of lading) or of a "
      .. "voyage, one line each as find shows them, fetching pages as they are needed; then "
      .. "a summary: how many units, containers and other freight, where they are now "
      .. "(after the table on a terminal, else on stderr). Give at least one of --document, "
      .. "--voyage-ref and --voyage-id; every option given must match exactly.")
    :epilog(epilog({ "soget search --document 3714238101",
      "soget search --voyage-ref CMAG-LEH-2501 --customs import --limit 50",
      "soget search --document 3714238101 --json > units.jsonl" },
      codes { { 0, "found" }, { 1, "nothing matches" } }))
  search:option("--document"):description("Announcement document reference (a bill of lading).")
    :argname("REF")
  search:option("--voyage-ref"):description("The voyage agent's reference of the voyage.")
    :argname("REF")
  search:option("--voyage-id"):description("The voyage agent's S)ONE id.")
    :argname("ID")
  completion.offer(search:option("--customs"):description("Only units with this customs "
      .. "flag: " .. table.concat(CUSTOMS, ", ", 1, #CUSTOMS - 1) .. " or " .. CUSTOMS[#CUSTOMS]
      .. " (any case).")
    :argname("FLAG"), CUSTOMS)
  search:option("--agent"):description("Only units of this freight agent (the shipping "
      .. "company's agent code).")
    :argname("CODE")
  search:option("--limit"):description("Stop after N units.")
    :convert(number(1, nil, true)):argname("N")
  search:option("--page-size"):description("Units per request (1-" .. limits.limit .. ").")
    :convert(number(1, limits.limit, true)):argname("N")
  search:flag("--desc"):description("Sort in descending order.")
  search:flag("--json"):description("Print each unit as a line of JSON (JSON Lines).")

  local bulk = parser:command("bulk")
    :summary("Look up many references at once (CSV or JSON lines).")
    :description("Look up the references of FILE ('-' reads stdin): CSV (quoted fields "
      .. "as RFC 4180 writes them; the references in --column, the first by default; blank "
      .. "lines and lines starting with # skipped), or JSON Lines with --input jsonl (a "
      .. "string a line, or an object whose member --column names). Each is an exact "
      .. "lookup; with --prefix a prefix, and one that matches several units is ambiguous. "
      .. "Results come in input order as CSV (default) or JSON lines; a summary of found / "
      .. "not found / failed goes to stderr.")
    :epilog(epilog({ "soget bulk refs.txt > out.csv                 # one reference a line",
      "soget bulk --column reference customers.csv  # a CSV file with a header row",
      "soget bulk --column 2 --header orders.csv", "soget bulk --input jsonl --json - < refs.jsonl",
      "soget bulk --documents bls.txt", "soget bulk --prefix prefixes.txt" },
      codes { { 0, "every reference found" },
        { 1, "some not found (or ambiguous, with --prefix), none failed" },
        { 2, "usage error, a file that is not CSV or JSON Lines, or a value that is no "
          .. "valid reference (its row fails; the others are looked up)" } })
      .. "\nAfter failed lookups, the code of the first one (2, 4, 5 or 6).")
  bulk:argument("file"):description("File of references (CSV or JSON Lines), or - for stdin.")
  bulk:option("--format"):description("Output format: csv or jsonl.")
    :choices { "csv", "jsonl" }:default("csv")
  bulk:flag("--json"):description("Same as --format jsonl.")
  bulk:option("--input"):description("Input format: csv or jsonl.")
    :choices { "csv", "jsonl" }:default("csv"):argname("FORMAT")
  bulk:option("--column"):description("Where the references are: a column number (from 1) "
      .. "or, with a header row, its name; with --input jsonl, an object's member (default "
      .. "reference; spi with --spi, documentReference with --documents).")
    :argname("N|NAME")
  bulk:flag("--header"):description("The first CSV row is a header (so with --column NAME).")
  bulk:flag("--prefix"):description("The references are prefixes: a prefix that matches "
      .. "several units is ambiguous.")
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
    :description("Poll a handling unit (the one whose reference is REFERENCE, as track "
      .. "finds it) and print the events not printed before, in time order. Transient "
      .. "failures are noted on stderr and polling goes on; Ctrl-C stops.")
    :epilog(epilog({ "soget watch CGMU2436601 --every 60",
      "soget watch CGMU2436601 --every 300 --count 12 --json >> events.jsonl" },
      codes { { 0, "the unit was found (--count polls made)" },
        { 1, "no poll found the unit, and at least one answered" },
        { 5, "every poll failed on the network (connection, timeout, TLS)" },
        { 6, "an API or server error that is not transient, or every poll failed with a "
          .. "transient one (429, 5xx)" }, { 130, "stopped with Ctrl-C" } }))
  watch:argument("reference"):description("Container or handling unit reference."):args("?")
  watch:option("--spi"):description("Watch by S)ONE id instead."):argname("ID")
  watch:flag("--prefix"):description("REFERENCE is a prefix: watch the units it begins, "
    .. "the API's first page of them (10; said when more match).")
  watch:option("--every"):description("Seconds between polls (0.1-86400).")
    :convert(number(0.1, 86400)):default("60"):argname("SECONDS")
  watch:option("--count"):description("Stop after N polls.")
    :convert(number(1, nil, true)):argname("N")
  watch:flag("--json"):description("Print each event as a line of JSON (JSON Lines).")

  local check = parser:command("check")
    :summary("Check ISO 6346 container numbers (offline).")
    :description("Check that each REFERENCE is a valid ISO 6346 container number "
      .. "(owner code, category, serial number, check digit) and say why not.")
    :epilog(epilog({ "soget check CSQU3054383", "soget check CSQU3054383 CGMU2436601 --json" },
      { { 0, "every number valid" }, { 1, "a number invalid" }, { 2, "usage error" }, { 74 } }))
  check:argument("reference"):description("Container number."):args("+")
  check:flag("--json"):description("Print each verdict as a line of JSON.")

  completion.add(parser)

  -- usage errors exit 2, with the usage of the command concerned; the
  -- commands' parsers too (`soget help nope` raises from the help
  -- command's). argparse's own messages have lines ("Did you mean ...?").
  local function usage_error(p, msg)
    exit.finish(exit.USAGE, { err = p:get_usage() .. "\n\nError: " .. output.printable(msg, true)
      .. "\n" })
  end
  -- an option that takes a value given twice (--document A --document B)
  -- is a usage error, not the last one taken silently; the names of those
  -- whose value is a number (or a column), by their argname, for
  -- negatives_joined
  local numbers = {}
  local function on_every(p)
    p.error = usage_error
    for _, o in ipairs(rawget(p, "_options") or {}) do
      if (rawget(o, "_maxargs") or 0) > 0 then o:overwrite(false) end
      if NUMBER_ARGNAMES[rawget(o, "_argname")] then
        for _, alias in ipairs(rawget(o, "_aliases") or {}) do numbers[alias] = true end
      end
    end
    for _, sub in ipairs(rawget(p, "_commands") or {}) do on_every(sub) end
  end
  on_every(parser)
  return parser, numbers
end

-- A negative number after an option that takes one ("--limit -1") is its
-- value, which its range then refuses, not an unknown option "-1"
-- (argparse's reading): joined as "--limit=-1" ("-c-1").
local function negatives_joined(argv, numbers)
  local out, i = {}, 1
  while i <= #argv do
    local a, v = argv[i], argv[i + 1]
    if a == "--" then
      for j = i, #argv do out[#out + 1] = argv[j] end
      break
    end
    if numbers[a] and type(v) == "string" and v:find("^%-%.?%d") then
      out[#out + 1] = a .. (a:find("^%-%-") and "=" or "") .. v
      i = i + 2
    else
      out[#out + 1] = a
      i = i + 1
    end
  end
  return out
end

-- The arguments as a table (args.command names the command). argparse
-- prints --help and `help` itself, then calls os.exit(0): both are caught
-- while it parses, so that the help goes out as every output does (a write
-- that fails, to a full disk, exits 74 with a message).
function M.parse(argv)
  -- luacheck: ignore 121 122 (print and os.exit, replaced while argparse runs)
  local parser, numbers = M.parser()
  local real_print, real_exit, printed = print, os.exit, {}
  print = function(...)
    local n, parts = select("#", ...), {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    printed[#printed + 1] = table.concat(parts, "\t") .. "\n"
  end
  os.exit = function(code)
    print, os.exit = real_print, real_exit
    exit.finish((code == nil or code == true or code == 0) and exit.OK or exit.USAGE,
      { out = table.concat(printed) })
  end
  local ok, r = pcall(parser.parse, parser, negatives_joined(argv, numbers))
  print, os.exit = real_print, real_exit
  if not ok then error(r, 0) end
  -- (an empty SOGET_PROFILE is no profile; an empty --profile is a mistake)
  if r.profile and r.profile:find("^%s*$") then exit.fail(exit.USAGE, "empty --profile") end
  return r
end

return M
