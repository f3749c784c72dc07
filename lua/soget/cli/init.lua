-- soget.cli: the soget command. run(argv) loads the soget module, parses
-- the arguments, runs the command and returns the exit code; bin/soget
-- only finds these modules and exits with it.
--
--   exit     exit codes and the errors that carry them
--   sys      environment variables, terminals, shell commands
--   output   printable text, messages, colours, columns, JSON, CSV
--   args     the command line
--   config   profile files and the environment (soget.options)
--   cache    the token cache (soget._privfile)
--   session  the client a command uses
--   query    queries from arguments (soget.check_query; searches checked
--            by client:handling_units_search itself)
--   units    events in time order, exact matches
--   view     handling units as text
--   walk     the units of a search across its pages
--   commands/track, find, search, bulk, watch, check
--
-- Every module but exit and sys requires the soget module: run() loads it
-- (from SOGET_MODULE_DIR, the usual paths, or beside a source tree's
-- bin/soget) before it requires them.
local exit = require "soget.cli.exit"

local M = {}

local COMMANDS = {
  track = "soget.cli.commands.track", find = "soget.cli.commands.find",
  search = "soget.cli.commands.search",
  bulk = "soget.cli.commands.bulk", watch = "soget.cli.commands.watch",
  check = "soget.cli.commands.check",
}

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The soget module: from SOGET_MODULE_DIR first, then the usual paths
-- (where bin/soget put the folder it was installed with first), then, from
-- a source tree, the build beside the program (bin/../build/lua5.x, or
-- build/luajit under LuaJIT, as make LUA_VERSION=jit puts it).
-- Returns nil and why when it cannot be loaded: every file Lua tried, and
-- the ways to fix it.
function M.load_module(dir)
  local env_dir = os.getenv("SOGET_MODULE_DIR")
  if env_dir and env_dir ~= "" then package.cpath = env_dir .. "/?.so;" .. package.cpath end
  local ok, mod = pcall(require, "soget")
  local ver = _VERSION:match("%d+%.%d+")
  local build = rawget(_G, "jit") and "luajit" or ver and ("lua" .. ver)
  if not ok then
    local try = dir and build and (dir .. "/../build/" .. build)
    if try and exists(try .. "/soget.so") then
      package.cpath = try .. "/?.so;" .. package.cpath
      package.loaded.soget = nil
      ok, mod = pcall(require, "soget")
    end
  end
  if not ok then
    local abi = ver or "5.1"
    return nil, "cannot load the soget module (soget.so, built for " .. tostring(_VERSION) .. "): "
      .. tostring(mod) .. "\n"
      .. "To fix it, one of:\n"
      .. "  - set SOGET_MODULE_DIR to the folder holding soget.so (in a source tree:\n"
      .. "    build/" .. (build or "lua5.1") .. " after make"
      .. (build == "luajit" and " LUA_VERSION=jit" or "") .. ");\n"
      .. "  - installed with LuaRocks into a tree: eval \"$(luarocks path --tree=TREE"
      .. " --lua-version=" .. abi .. ")\";\n"
      .. "  - add the folder holding soget.so to LUA_CPATH (\"DIR/?.so;;\");\n"
      .. "  - in a source tree: make, then bin/soget (or eval \"$(make env)\");\n"
      .. "  - install the module with the command again: make install PREFIX=..., or\n"
      .. "    luarocks make --lua-version=" .. abi .. " soget-*.rockspec."
  end
  if type(mod) ~= "table" or type(mod.limits) ~= "table" then
    return nil, "the soget module found is not the one this command comes with ("
      .. tostring(type(mod) == "table" and mod._VERSION) .. ", without soget.limits)"
  end
  return mod
end

local function main(argv)
  local soget = require "soget"
  local output = require "soget.cli.output"
  local args = require("soget.cli.args").parse(argv)
  output.verbose = args.verbose
  output.color = output.decide_color(args.color)
  output.color_err = output.decide_color(args.color, 2)
  output.note(soget._VERSION)
  local command = require(COMMANDS[args.command])
  if args.command == "check" then return command(args) end
  local session = require("soget.cli.session").open(args)
  local ok, code = pcall(command, args, session)
  session:close()
  if not ok then error(code, 0) end
  return code
end

local function keep(e)
  if exit.is_exit(e) or exit.is_interrupt(e) then return e end
  if type(e) == "table" and e.kind then return e end   -- a soget error raised by an iterator
  return debug.traceback(tostring(e), 2)
end

-- Runs the command line argv (a list; arg as the interpreter gives it);
-- opts.dir: the folder of the program, to find a source tree's build.
-- Returns the exit code.
function M.run(argv, opts)
  local soget, why = M.load_module(opts and opts.dir)
  if not soget then
    -- before the module: its printable is not there to make why printable
    -- (line breaks and tabs kept: the message lists the files tried)
    io.stderr:write("soget: ", (why:gsub("[%z\1-\8\11-\31\127-\255]", function(c)
      return ("\\x%02x"):format(c:byte())
    end)), "\n")
    return exit.CONFIG
  end
  -- A standard output closed (>&-): the results could go nowhere, and a
  -- descriptor opened later (libcurl's) would take its number and swallow
  -- them unreported; the closed ones are now /dev/null.
  local sys = require "soget.cli.sys"
  sys.std_closed = soget._privfile.std_fds()
  if sys.std_closed:find("1", 1, true) then
    io.stderr:write("soget: cannot write the results: the standard output is closed\n")
    return exit.OUTPUT
  end
  local output = require "soget.cli.output"
  local ok, result = xpcall(function() return main(argv) end, keep)
  local code
  if ok then
    code = result or exit.OK
  elseif exit.is_interrupt(result) then
    if sys.isatty(2) then output.err:write("\n") end
    code = exit.INTERRUPTED
  elseif exit.is_exit(result) then
    if result.out then output.out:write(result.out) end
    if result.err then output.err:write(result.err) end
    if result.message then output.say(result.message) end
    code = result.code
  elseif type(result) == "table" and result.kind then
    output.say(exit.message(result))
    code = exit.code_for(result)
  elseif result == "not enough memory" then   -- (Lua's memory error: no bug of soget's)
    output.say("not enough memory")
    code = exit.INTERNAL
  else
    output.err:write(output.PROGRAM, ": internal error: ", output.printable(tostring(result), true), "\n")
    code = exit.INTERNAL
  end
  output.out:flush()
  if output.out.failed and code ~= exit.INTERRUPTED then
    output.err:write(output.PROGRAM, ": cannot write the results: ",
      output.printable(output.out.failed), "\n")
    code = exit.OUTPUT
  end
  return code
end

return M
