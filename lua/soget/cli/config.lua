-- Settings: soget.client's options (soget.options: names, types,
-- environment variables, secrets) from a profile file and the
-- environment, and the folders soget keeps its files in.
local soget = require "soget"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local sys = require "soget.cli.sys"

local M = {}

-- name -> soget.options entry: every option is a profile setting.
M.settings = {}
for _, o in ipairs(soget.options) do M.settings[o.name] = o end

local PROFILE_MAX = 1024 * 1024

-- An environment variable naming a folder, nil unless an absolute path:
-- the XDG Base Directory specification has relative ones ignored (they
-- would name a folder under whatever the current directory is), and
-- HOME is taken so too.
local function folder(name)
  local v = sys.getenv(name)
  if v and v:sub(1, 1) == "/" then return v end
  return nil
end

local function home()
  return folder("HOME")
end

function M.config_dir()
  local base = folder("XDG_CONFIG_HOME") or (home() and home() .. "/.config")
  return base and (base .. "/soget") or nil
end

function M.cache_dir()
  local base = folder("XDG_CACHE_HOME") or (home() and home() .. "/.cache")
  return base and (base .. "/soget") or nil
end

function M.profiles_path()
  local p = sys.getenv("SOGET_PROFILES")
  if p then return p end
  local dir = M.config_dir()
  return dir and (dir .. "/profiles.ini") or nil
end

-- The value of an option from its environment variable, and that
-- variable's name (nil, nil for an option without one).
function M.from_env(name)
  local o = M.settings[name]
  if not o or not o.env then return nil, nil end
  return sys.getenv(o.env), o.env
end

-- The known setting closest to a misspelt one (at most two edits), or nil.
function M.closest_setting(k)
  local best, best_d
  for name in pairs(M.settings) do
    -- Levenshtein distance, two rows; none for a name whose length alone
    -- is more than two edits away (a long line would take the square of
    -- its length)
    if math.abs(#k - #name) <= 2 then
      local prev, cur = {}, {}
      for j = 0, #name do prev[j] = j end
      for i = 1, #k do
        cur[0] = i
        for j = 1, #name do
          local cost = k:sub(i, i):lower() == name:sub(j, j) and 0 or 1
          cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
        end
        prev, cur = cur, prev
      end
      local d = prev[#name]
      if d <= 2 and (not best_d or d < best_d or (d == best_d and name < best)) then
        best, best_d = name, d
      end
    end
  end
  return best
end

-- Parses the text of an INI-like profile file (path: for messages) and
-- returns the settings of its section [name], typed by soget.options, and
-- the line of each (by name).
-- Raises a configuration error otherwise. No error message names any part
-- of a value, nor the name of a setting it does not know (a value may
-- stand where a name should be): only line numbers and known names.
-- Values are on one line: an indented line after a setting, which other
-- INI readers take as a continuation of its value, is an error.
function M.parse_profile(text, path, name)
  local sections, lines, current, lineno = {}, {}, nil, 0
  local setting_indent    -- indentation of the setting just read, if any
  local function bad(fmt, ...)
    exit.fail(exit.CONFIG, string.format("%s:%d: " .. fmt, path, lineno, ...))
  end
  text = text:gsub("^\239\187\191", "")   -- a UTF-8 byte order mark, as editors may write
  for raw in (text:gsub("\n$", "") .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    local indent = #raw:match("^%s*")
    local l = sys.trim(raw)
    if l == "" then
      setting_indent = nil
    elseif not l:match("^[#;]") then
      if setting_indent and indent > setting_indent then
        bad("an indented line cannot continue the value above (put the whole value on one line)")
      end
      local section = l:match("^%[([^%]]*)%]$")
      section = section and sys.trim(section)
      if section then
        current = sections[section] or {}
        sections[section] = current
        lines[current] = lines[current] or {}
        setting_indent = nil
      else
        local k, v = l:match("^([%w_%-]+)%s*=%s*(.-)$")
        if not k then bad("expected 'key = value' or '[profile]'") end
        if not current then bad("a setting comes before any [profile] line") end
        k = k:gsub("%-", "_")
        local q = v:match('^"(.*)"$') or v:match("^'(.*)'$")
        if q then v = q end
        local o = M.settings[k]
        if not o then
          local guess = M.closest_setting(k)
          if guess then bad("unknown setting (did you mean %s?)", guess) end
          bad("unknown setting")
        end
        if o.type == "number" then
          local n = sys.number(v)
          if not n then bad("'%s' must be a number", k) end
          v = n
        elseif o.type == "boolean" then
          local lv = v:lower()
          if lv == "true" or lv == "yes" or lv == "1" or lv == "on" then v = true
          elseif lv == "false" or lv == "no" or lv == "0" or lv == "off" then v = false
          else bad("'%s' must be true or false", k) end
        end
        if k == "ca_file" and v ~= "" and v:sub(1, 1) ~= "/" then
          -- it decides whom secrets are sent to: relative, it would name a
          -- file under whatever folder soget runs in
          bad("'ca_file' must be an absolute path (a relative one names a file under "
            .. "the current directory)")
        end
        current[k] = v
        lines[current][k] = lineno
        setting_indent = indent
      end
    end
  end
  local p = sections[name]
  if not p then
    local names = {}
    for n in pairs(sections) do names[#names + 1] = n end
    table.sort(names)
    exit.fail(exit.CONFIG, string.format("no profile [%s] in %s%s", name, path,
      #names > 0 and (" (it has: " .. table.concat(names, ", ") .. ")") or ""))
  end
  return p, lines[p]
end

-- Whether settings hold a secret (soget.options' secret ones).
function M.has_secret(settings)
  for k in pairs(settings) do
    if M.settings[k] and M.settings[k].secret then return true end
  end
  return false
end

-- Reads the section [name] of the profile file at path. The file may
-- hold secrets and its settings say where they are sent: it must be the
-- user's (or root's), writable by no one else, and a regular file (or the
-- user's own pipe), read through soget._privfile, so a FIFO planted there
-- cannot hang soget. A file holding secrets that others can read gets a
-- warning, whichever section holds them, before any error in it.
function M.read_profile(path, name)
  local text, mode = soget._privfile.read_config(path, PROFILE_MAX)
  if not text then exit.fail(exit.CONFIG, "cannot use profile file " .. path .. ": " .. mode) end
  if mode and mode % 64 ~= 0 and M.names_a_secret(text) then   -- any group or other bit
    output.say(string.format("warning: %s holds secrets and is readable by others "
      .. "(mode %o); run: chmod 600 %s", path, mode, sys.shell_quote(path)))
  end
  return M.parse_profile(text, path, name)
end

-- Whether a line of a profile file's text sets a secret, in any profile
-- of it, whatever else the file holds (an error it is then refused for
-- included): said before the file is parsed.
function M.names_a_secret(text)
  for line in text:gsub("^\239\187\191", ""):gmatch("[^\n]+") do
    local k = line:match("^%s*([%w_%-]+)%s*=")
    local o = k and M.settings[(k:gsub("%-", "_"))]
    if o and o.secret then return true end
  end
  return false
end

-- A URL with anything up to its last '@' masked: a password may hold '/'
-- or '@' (written so, libcurl reads the last '@' as the end of it).
local function safe_url(u)
  if type(u) ~= "string" then return u end
  local scheme, rest = u:match("^(%a[%w+.-]*://)(.*)$")
  if not scheme or not rest:find("@", 1, true) then return u end
  return scheme .. "***@" .. rest:match("^.*@(.*)$")
end

-- A setting for -v: its value (never a secret's) and where it came from.
function M.describe(name, value, from)
  if value == nil then return name .. ": (not set)" end
  if M.settings[name] and M.settings[name].secret then
    return name .. ": (set, from " .. from .. ")"
  end
  return name .. ": " .. tostring(safe_url(value)) .. " (from " .. from .. ")"
end

return M
