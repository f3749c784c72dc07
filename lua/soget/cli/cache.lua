-- The token cache: one file per set of credentials (token URL, client id,
-- client secret, API key: a token from other credentials is never used),
-- named by their SHA-256 (soget._privfile.digest), which does not reveal
-- the secret, in a directory only this user can write to. Files are read and written through the
-- module's soget._privfile (C): never through a symbolic link, never a
-- FIFO or another user's file, and replaced atomically through a
-- temporary file with an unpredictable name created exclusively beside
-- the cache file. A directory that is not private is not used at all.
local soget = require "soget"
local config = require "soget.cli.config"
local output = require "soget.cli.output"
local sys = require "soget.cli.sys"

local M = {}

local CACHE_FILE_MAX = 256 * 1024
local PATH_MAX = 4096   -- bytes, its NUL included (Linux's; soget._privfile's too)

-- The key of a set of credentials: the SHA-256 of each value preceded by
-- its length (so no two sets give the same text), as 64 hex digits.
function M.key(creds)
  local parts = {}
  for _, k in ipairs { "token_url", "client_id", "client_secret", "api_key" } do
    local v = creds[k] or ""
    parts[#parts + 1] = #v .. ":" .. v
  end
  return soget._privfile.digest("soget token cache 1\n" .. table.concat(parts, "\n"))
end

-- Why a token must not be cached, or nil: only a token the module would
-- take back is worth keeping (none longer than soget.limits.header_value
-- bytes, none with a control character, none client:set_token refuses).
function M.uncacheable(client, token, seconds_left)
  if type(token) ~= "string" or token == "" then return "it is empty" end
  if #token > soget.limits.header_value then
    return "it is longer than " .. soget.limits.header_value .. " bytes"
  end
  if token:find("%c") then return "it has a control character" end
  if client and not pcall(client.set_token, client, token, math.max(seconds_left, 1)) then
    return "the module refuses it"
  end
  return nil
end

local TokenCache = {}
TokenCache.__index = TokenCache

-- The cache for a set of credentials {token_url, client_id, client_secret,
-- api_key}, or nil when there is no cache folder or no client id.
function M.new(creds)
  local dir = config.cache_dir()
  if not dir or not creds.client_id then return nil end
  local token_url = creds.token_url or ""
  if (token_url .. creds.client_id):find("%c") then
    output.note("token cache: not used: the token URL or the client id has a control character")
    return nil
  end
  local key = M.key(creds)
  return setmetatable({
    dir = dir, token_url = token_url, client_id = creds.client_id, key = key,
    path = dir .. "/token-" .. key,
  }, TokenCache)
end

-- Creates the directory (0700) when it is missing; false (with a note
-- under -v) when it is not private: a symbolic link, another user's, or
-- writable by its group or others; or when it would be made in another
-- user's folder (root with their HOME: their home is theirs to fill).
function TokenCache:open()
  -- a folder whose path fits, but not with the file's name in it: as a
  -- folder too long (neither made, nor the file's warning given)
  local ok, why = false, "its path is too long"
  if #self.path < PATH_MAX then ok, why = soget._privfile.dir(self.dir) end
  if not ok then
    output.note("token cache: not used: ", self.dir, ": ", why)
    return false
  end
  self.usable = true
  return true
end

-- The cached token, its seconds left before renewal and before expiry
-- (client:set_token's), when the file is ours, private and matches, and
-- the token has more than the module's renewal margin
-- (soget.limits.token_margin) left before it expires. A token due for
-- renewal is given as due at once: the client renews it at its first
-- call, and goes on with it while it lasts when that renewal fails (a
-- token host down), as a client that fetched it does. (A file written
-- before renew_at was kept has only expires_at, which was the renewal
-- time: taken as both.)
function TokenCache:read()
  if not self:open() then return nil end
  local text, why, missing = soget._privfile.read(self.path, CACHE_FILE_MAX)
  if not text then
    if missing then output.note("token cache: none yet (", self.path, ")")
    else output.say("ignoring token cache ", self.path, ": ", why) end
    return nil
  end
  local v = {}
  for l in text:gmatch("[^\n]+") do
    local k, val = l:match("^([%w_]+)=(.*)$")
    if k then v[k] = val end
  end
  local expires = sys.number(v.expires_at or "")
  local renew = expires   -- (a file written before renew_at was kept)
  if v.renew_at then renew = sys.number(v.renew_at) end   -- (nil when it is no number)
  if v.token_url ~= self.token_url or v.client_id ~= self.client_id or v.key ~= self.key
     or not v.access_token or M.uncacheable(nil, v.access_token) or not expires or not renew then
    output.note("token cache: ", self.path, " does not match this configuration")
    return nil
  end
  local now = os.time()
  local left = expires - now
  if left < soget.limits.token_margin then
    output.note("token cache: cached token expired")
    return nil
  end
  local renew_left = math.min(renew, expires) - now
  if renew_left <= 0 then
    output.note("token cache: using a cached token (", tostring(left), "s left), due for renewal")
    renew_left = 0
  else
    output.note("token cache: using a cached token (", tostring(left), "s left)")
  end
  self.cached = v.access_token
  return v.access_token, renew_left, left
end

-- Replaces the cache file with the new token of client (mode 0600,
-- atomically): its seconds left before renewal and before expiry, as
-- client:token() gives them.
function TokenCache:write(client, token, seconds_left, expires_in)
  if not self.usable then return end
  if token == self.cached then return end
  if type(seconds_left) ~= "number" or seconds_left <= 0 then return end
  if type(expires_in) ~= "number" or expires_in < seconds_left then expires_in = seconds_left end
  local why = M.uncacheable(client, token, seconds_left)
  if why then
    output.note("token cache: the new token is not kept: ", why)
    return
  end
  local ok, err = soget._privfile.write(self.path, table.concat {
    "# soget token cache: private, do not share\n",
    "token_url=", self.token_url, "\n",
    "client_id=", self.client_id, "\n",
    "key=", self.key, "\n",
    "renew_at=", string.format("%d", os.time() + math.floor(seconds_left)), "\n",
    "expires_at=", string.format("%d", os.time() + math.floor(expires_in)), "\n",
    "access_token=", token, "\n" })
  if ok then output.note("token cache: saved the new token to ", self.path)
  else output.note("token cache: could not write ", self.path, ": ", err) end
end

return M
