-- Exit codes (also listed in `soget --help`), the errors that end the
-- program with one, and the code of a soget error. Needs no other module.
local M = {
  OK = 0,          -- found / valid / done
  NOT_FOUND = 1,   -- nothing matched; check: not a valid container number
  USAGE = 2,       -- bad arguments
  CONFIG = 3,      -- configuration: missing credentials, bad profile file
  AUTH = 4,        -- credentials or token refused
  NETWORK = 5,     -- connection, timeout or TLS failure
  API = 6,         -- HTTP or API error, undecodable answer
  INTERNAL = 70,   -- a bug in soget, or memory ran out
  OUTPUT = 74,     -- the results could not be written (a full disk)
  INTERRUPTED = 130,
}

M.HELP = [[
Exit codes:
   0  found (check: valid container number)
   1  not found (check: not a valid container number; bulk: some
      references not found or ambiguous, none failed; watch: no poll
      found the unit, and at least one answered)
   2  usage error
   3  configuration error (no credentials, bad profile file)
   4  authentication failure (credentials or token refused)
   5  network failure (connection, timeout, TLS)
   6  API or server error (HTTP error, API error, unreadable answer,
      pages that do not add up)
  70  internal error (a bug in soget), or memory ran out
  74  the results could not be written (a full disk)
 130  interrupted (Ctrl-C)
bulk exits with the code of its first failed lookup or search, if any (2
for a line that is no valid reference or document reference).
]]

local KIND_EXIT = {
  auth = M.AUTH,
  network = M.NETWORK, timeout = M.NETWORK, tls = M.NETWORK,
  http = M.API, api = M.API, decode = M.API,
  interrupted = M.INTERRUPTED,   -- Ctrl-C while a call waited
}

-- The exit code for a soget.Error (an API error for anything unknown).
function M.code_for(err)
  return KIND_EXIT[type(err) == "table" and err.kind or nil] or M.API
end

-- A soget.Error's text without the "soget: " its tostring starts with.
function M.message(err)
  return (tostring(err):gsub("^soget: ", ""))
end

-- Errors that end the program carry an exit code: raised as tables.
local Exit = {}
Exit.__index = Exit
Exit.__tostring = function(e) return e.message or ("exit " .. e.code) end

function M.is_exit(e)
  return getmetatable(e) == Exit
end

-- Ends the program with code; message (if any) goes to stderr as
-- "soget: message", made printable.
function M.fail(code, message)
  error(setmetatable({ code = code, message = message }, Exit), 0)
end

-- Ends the program with code, writing text exactly as given: t.out to
-- stdout, t.err to stderr (a usage text, the version).
function M.finish(code, t)
  error(setmetatable({ code = code, out = t.out, err = t.err }, Exit), 0)
end

-- Ctrl-C: the interpreter's "interrupted!" or an interrupted wait.
function M.is_interrupt(e)
  if M.is_exit(e) then return e.code == M.INTERRUPTED end
  return type(e) == "string" and e:find("interrupted!$") ~= nil
end

return M
