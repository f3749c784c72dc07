-- The process's surroundings: environment variables, terminals, shell
-- commands, waits; and trimming what a person typed.
local M = {}

-- The standard descriptors closed when the program started ("0", "01"...:
-- soget._privfile.std_fds, which opened /dev/null on them); set by init.
M.std_closed = ""

-- An environment variable, nil when unset or empty.
function M.getenv(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- os.execute's result as a boolean, and whether SIGINT ended the command.
function M.run_ok(cmd)
  local a, how, n = os.execute(cmd)
  if type(a) == "number" then            -- Lua 5.1: a wait status
    return a == 0, (a % 256) ~= 0 and a % 128 == 2
  end
  return a == true, how == "signal" and n == 2
end

function M.isatty(fd)
  return (M.run_ok("test -t " .. fd))
end

-- Waits; returns false, true when Ctrl-C interrupted the wait. In this
-- process (soget._sleep): a `sleep` child, which system() runs with SIGINT
-- ignored here, lost a SIGINT sent to this process alone.
function M.sleep(seconds)
  io.stdout:flush()
  local ok = require("soget")._sleep(seconds)
  return ok, not ok
end

-- The finite number s spells in decimal (a sign, digits with a point,
-- an exponent), or nil. tonumber alone reads more than a user means:
-- LuaJIT's "nan" and "inf", every runtime's "1e999" as infinite (which
-- would pass the range checks NaN fails quietly, every comparison false),
-- hexadecimal ("0x3", "0x1p-3") and white space around (" 2").
function M.number(s)
  if type(s) ~= "number" then
    s = tostring(s)
    if not (s:match("^[+-]?%d+%.?%d*$") or s:match("^[+-]?%.%d+$")
            or s:match("^[+-]?%d+%.?%d*[eE][+-]?%d+$") or s:match("^[+-]?%.%d+[eE][+-]?%d+$")) then
      return nil
    end
  end
  local n = tonumber(s)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then return nil end
  return n
end

-- s without the white space at its end. Not gsub("%s+$", ""): that
-- pattern is tried at every position of a run of spaces, each time to the
-- run's end, and a server's text with 100,000 spaces inside took minutes.
-- "^.*%S" backs up from the end once.
function M.rtrim(s)
  return s:match("^.*%S") or ""
end

-- s without the white space at its ends.
function M.trim(s)
  return M.rtrim((s:gsub("^%s+", "")))
end

return M
