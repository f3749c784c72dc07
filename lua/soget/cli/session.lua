-- The client a command uses: options from the profile, the environment
-- and the command line, a cached token when there is one; on close, the
-- new token kept and the counts noted.
local soget = require "soget"
local cache = require "soget.cli.cache"
local config = require "soget.cli.config"
local exit = require "soget.cli.exit"
local output = require "soget.cli.output"
local sys = require "soget.cli.sys"

local M = {}

local Session = {}

-- Builds the client from the profile (args.profile or SOGET_PROFILE), the
-- environment and the options (--timeout, --retries), into s.client.
local function connect(s, args)
  local o = {}
  local at = {}   -- where each setting of the profile is: "path:line"
  local profile = args.profile or sys.getenv("SOGET_PROFILE")
  if profile then
    local path = config.profiles_path()
    if not path then
      exit.fail(exit.CONFIG, "no profile file location: set HOME or XDG_CONFIG_HOME")
    end
    output.note("profile [", profile, "] from ", path)
    local settings, lines = config.read_profile(path, profile)
    for k, v in pairs(settings) do
      o[k] = v
      at[k] = path .. ":" .. lines[k]
    end
  end
  if args.timeout then o.timeout, at.timeout = args.timeout, nil end
  if args.retries then o.retries, at.retries = args.retries, nil end
  if output.verbose then
    for _, opt in ipairs(soget.options) do
      if opt.env then
        local v, from = o[opt.name], "the profile"
        if v == nil then v, from = config.from_env(opt.name) end
        output.note(config.describe(opt.name, v, from))
      end
    end
  end

  local ok, client = pcall(soget.client, o)
  if not ok then
    local msg = tostring(client):gsub("^[^:]*:%d+: ", ""):gsub("^soget%.client: ", "")
    -- an option the profile set: its file and line first, as the
    -- profile's own errors say them
    -- (no token URL beside a profile's base_url, or the environment's on
    -- another host: that line)
    local name = (msg:find("^no token_url for this base_url")
      or msg:find("^SOGET_TOKEN_URL %(from the environment%) is not on base_url's host")) and "base_url"
      or msg:match("^option '([%w_]+)'") or msg:match("^([%a_]+) ")
    if name and at[name] then msg = at[name] .. ": " .. msg end
    if msg:find("no API key") or msg:find("no credentials") then
      msg = msg .. "; or use --profile NAME (see soget --help)"
    end
    exit.fail(exit.CONFIG, msg)
  end
  -- A search key alone makes a client that only searches: a command that
  -- looks units up says so as the module would for no key at all.
  local searches = args.command == "search" or (args.command == "bulk" and args.documents)
  if not searches and o.api_key == nil and config.from_env("api_key") == nil then
    pcall(client.close, client)
    exit.fail(exit.CONFIG, "no API key: give api_key (or set SOGET_API_KEY); or use "
      .. "--profile NAME (see soget --help)")
  end
  local function setting(name)
    local v = o[name]
    if v == nil then v = config.from_env(name) end
    return v
  end
  local client_id = setting("client_id")
  local cached, cached_left, cached_expiry
  if not args.no_token_cache and not setting("access_token") and client_id then
    -- (the token URL the client uses: given, or taken beside its base URL)
    local _, token_url = soget._credentials(client)
    s.cache = cache.new { token_url = token_url, client_id = client_id,
      client_secret = setting("client_secret"), api_key = setting("api_key") }
    if s.cache then cached, cached_left, cached_expiry = s.cache:read() end
  end
  if cached and not pcall(client.set_token, client, cached, cached_left, cached_expiry) then
    output.note("token cache: the module refused the cached token")
  end
  rawset(s, "client", client)
  return client
end

-- session.client is made when a command first asks for it: after the
-- command has checked its arguments, so that a usage error is one (exit
-- 2) even where no credentials are set (exit 3).
Session.__index = function(s, k)
  if k == "client" then return connect(s, rawget(s, "args")) end
  return Session[k]
end

function M.open(args)
  return setmetatable({ args = args }, Session)
end

-- Keeps a token the client fetched, notes the counts, closes the client.
function Session:close()
  local c = rawget(self, "client")
  if not c then return end
  local ok, st = pcall(c.stats, c)
  -- (a client that made no API request has no token worth keeping: asking
  -- for it would send the refused credentials once more)
  if self.cache and self.cache.usable and ok and st and (st.token_requests or 0) > 0
     and (st.api_requests or 0) > 0 then
    -- (the token it holds: never a request at the end)
    local got, tok, left, expiry = pcall(c.token, c, { fetch = false })
    if got and tok and left and left > 0 then self.cache:write(c, tok, left, expiry) end
  end
  if ok and st then
    output.note(string.format("%d API request(s), %d token request(s), %d retr%s, %d connection(s)",
      st.api_requests or 0, st.token_requests or 0, st.retries or 0,
      (st.retries == 1) and "y" or "ies", st.connections or 0))
  end
  pcall(c.close, c)
  self.client = nil
end

return M
