-- Small shell tools for the install and embed specs: bounded commands with
-- their exit code and output, temporary directories, the runtime under test.
local M = {}

-- The runtime busted runs under: "5.1", "5.2", "5.3", "5.4" or "jit".
M.runtime = rawget(_G, "jit") and "jit" or _VERSION:match("%d+%.%d+")
M.abi = M.runtime == "jit" and "5.1" or M.runtime
M.lua = os.getenv("SOGET_LUA")
if not M.lua or M.lua == "" then
  M.lua = M.runtime == "jit" and "luajit" or "lua" .. M.runtime
end
-- pkg-config's name for the runtime's headers and library.
M.pc = M.runtime == "jit" and "luajit" or "lua" .. M.runtime

local S = require "support"
M.quote = S.shell_quote
local read_all = S.read_file
M.read_all = read_all

-- Runs cmd with sh under `timeout` (seconds, default 300); stdout and
-- stderr together. Returns the exit code (124 on timeout) and the output.
-- Outer make variables are dropped so a nested make starts clean.
function M.run(cmd, seconds)
  local log = os.tmpname()
  local full = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout " .. (seconds or 300)
    .. " sh -c " .. M.quote(cmd) .. " >" .. log .. " 2>&1"
  local a, _, c = os.execute(full)
  local code
  if type(a) == "number" then            -- Lua 5.1: a wait status
    code = (a % 256 == 0) and a / 256 or a
  elseif a then
    code = 0
  else
    code = c or 1
  end
  local out = read_all(log)
  os.remove(log)
  return code, out
end

-- Like run, but raises with the output when the command fails.
function M.check(cmd, seconds)
  local code, out = M.run(cmd, seconds)
  if code ~= 0 then
    error(("command failed (exit %s): %s\n%s"):format(tostring(code), cmd, out), 2)
  end
  return out
end

function M.have(program)
  return M.run("command -v " .. M.quote(program)) == 0
end

function M.mktemp()
  local p = assert(io.popen("mktemp -d 2>/dev/null"))
  local dir = (p:read("*l") or ""):match("^%s*(.-)%s*$")
  p:close()
  assert(dir ~= "" and dir:sub(1, 1) == "/", "mktemp -d failed")
  return dir
end

function M.rmtree(dir)
  if dir and dir:match("^/.+/[^/]+$") then
    os.execute("rm -rf " .. M.quote(dir))
  end
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Loads soget in a new process of the runtime under test with
-- package.cpath = cpath only (and an empty package.path): the module needs
-- no other Lua module. Returns the exit code and what it printed: its
-- _VERSION.
function M.load_from(cpath)
  local code = 'package.path = ""; package.cpath = '
    .. ("%q"):format(cpath)
    .. '; local s = require("soget"); io.write(s._VERSION)'
  return M.run(M.quote(M.lua) .. " -e " .. M.quote(code), 60)
end

-- -I flags for the runtime's headers from pkg-config (nil when unknown).
function M.lua_incdir()
  local p = io.popen("pkg-config --cflags-only-I " .. M.pc .. " 2>/dev/null")
  local out = p and p:read("*a") or ""
  if p then p:close() end
  return out:match("%-I(%S+)")
end

-- Evaluates a rockspec (a Lua file of assignments) into a table.
function M.load_rockspec(path)
  local src = assert(read_all(path) ~= "" and read_all(path), "cannot read " .. path)
  local env = {}
  local chunk
  if setfenv then
    chunk = assert(loadstring(src, "@" .. path))
    setfenv(chunk, env)
  else
    chunk = assert(load(src, "@" .. path, "t", env))
  end
  chunk()
  return env
end

-- The single soget-*.rockspec in the source tree: file name and contents.
function M.rockspec()
  local p = assert(io.popen("ls soget-*.rockspec 2>/dev/null"))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  assert(#names == 1, "expected one soget-*.rockspec, found " .. #names)
  return names[1], M.load_rockspec(names[1])
end

return M
