-- Shared tools for the module specs: the sandbox's settings, its control
-- endpoint (through the curl command line, so the module under test never
-- checks itself), and fault URLs.
local cjson = require "cjson"

local M = {}

local function env(name)
  local v = os.getenv(name)
  if not v or v == "" then
    error(name .. " is not set: run the specs through spec/run (or make test), "
      .. "or eval \"$(sandbox/run start)\" first", 2)
  end
  return v
end

M.base_url = env("SOGET_BASE_URL")
M.token_url = env("SOGET_TOKEN_URL")
M.client_id = env("SOGET_CLIENT_ID")
M.client_secret = env("SOGET_CLIENT_SECRET")
M.api_key = env("SOGET_API_KEY")
M.ca_file = env("SOGET_CA_FILE")
M.http = env("SOGET_SANDBOX_HTTP")
M.lua = os.getenv("SOGET_LUA") or "lua5.4"   -- the interpreter under test
M.https = env("SOGET_SANDBOX_HTTPS")
M.search_base_url = env("SOGET_SEARCH_BASE_URL")
M.search_key = env("SOGET_SANDBOX_SEARCH_KEY")   -- accepted by the search only

local shell_quote = require("ports").q
M.shell_quote = shell_quote

-- A path as another user (nobody, through setpriv) reaches it from the
-- tree the specs run in: relative when it lies under the current folder.
-- A clone in root's home (mode 0700) is not reachable by its absolute
-- path, but the current folder, inherited, is (make test-asan's
-- interpreter is the tree's spec/hygiene/lua-asan).
function M.for_other_user(path)
  local p = io.popen("pwd -P")
  local pwd = p and p:read("*l")
  if p then p:close() end
  if pwd and pwd ~= "" and path:sub(1, #pwd + 1) == pwd .. "/" then return path:sub(#pwd + 2) end
  return path
end

-- A command's standard output ("*a": 5.1 and 5.2 reject "a").
function M.popen_read(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

-- Runs a shell command; its exit code (128 + N when signal N ended it),
-- on every runtime (os.execute answers a wait status on 5.1 and LuaJIT,
-- true/nil, "exit"/"signal", n from 5.2 on).
function M.execute(cmd)
  local a, how, n = os.execute(cmd)
  if type(a) == "number" then   -- 5.1, LuaJIT: the wait status
    if a % 256 ~= 0 then return 128 + a % 128 end
    return math.floor(a / 256)
  end
  if how == "signal" then return 128 + n end
  return n or (a and 0 or 1)
end

-- A file's bytes, or "" when it cannot be read.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- Writes `text` to `path` (created or truncated).
function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- Sends a soget.Call's request (`call:request()`) with the curl command
-- line, the driver the specs play: status (0 when nothing answered),
-- headers (names lowercased), body.
function M.curl_send(req)
  local hfile, bfile, dfile = os.tmpname(), os.tmpname(), os.tmpname()
  local cmd = { "curl -sS --max-time 10 --cacert", shell_quote(M.ca_file), "-X", req.method,
    "-D", hfile, "-o", bfile, "-w '%{http_code}'" }
  for k, v in pairs(req.headers) do cmd[#cmd + 1] = "-H " .. shell_quote(k .. ": " .. v) end
  if req.body then
    M.write_file(dfile, req.body)
    cmd[#cmd + 1] = "--data-binary @" .. dfile
  end
  cmd[#cmd + 1] = shell_quote(req.url)
  local status = tonumber(M.popen_read(table.concat(cmd, " ") .. " 2>/dev/null")) or 0
  local headers = {}
  for line in M.read_file(hfile):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k then headers[k:lower()] = v end
  end
  local body = M.read_file(bfile)
  os.remove(hfile); os.remove(bfile); os.remove(dfile)
  return status, headers, body
end

-- Runs curl against the plain-HTTP control endpoint; returns the decoded JSON.
local function control(method, path)
  local cmd = "curl -sS --max-time 10 -X " .. method .. " " .. shell_quote(M.http .. path)
  local body = M.popen_read(cmd)
  local ok, v = pcall(cjson.decode, body)
  if not ok then error("control endpoint " .. path .. " answered: " .. tostring(body)) end
  return v
end

function M.reset() return control("POST", "/_control/reset") end
function M.stats() return control("GET", "/_control/stats") end
function M.requests(n) return control("GET", "/_control/requests?n=" .. (n or 10)) end
-- Every unit the sandbox's search matches, in its order: {total, items}.
function M.search(q)
  local parts = {}
  for k, v in pairs(q) do
    parts[#parts + 1] = k .. "=" .. tostring(v):gsub("[^%w%-._~]", function(c)
      return ("%%%02X"):format(c:byte())
    end)
  end
  table.sort(parts)
  return control("GET", "/_control/search?" .. table.concat(parts, "&"))
end

-- Every token the sandbox issued since it started (its token log, which a
-- reset does not clear), oldest first.
function M.issued_tokens()
  local v = control("GET", "/_control/tokens")
  assert(v.complete, "the sandbox's token log is incomplete: a secrets check would miss tokens")
  for _, t in ipairs(v.tokens) do
    assert(t:match("^%x+$") and #t >= 32, "a token not of the sandbox's form (hex digits)")
  end
  return v.tokens
end

-- The percent-encoded form soget sends a value in (the token request's
-- body): hex digits upper-case, and lower-case as a server may echo it.
local function form_encoded(s, fmt)
  return (s:gsub("[^%w%-._~]", function(c) return fmt:format(c:byte()) end))
end

-- A check for secrets: check(text) answers nil, or the name of the secret
-- the text holds (never its value). The secrets are every one the suite's
-- sandbox knows, in every form soget sends it: the client secret as it is
-- and percent-encoded (the token request's body, hex digits in either
-- case), the API key and the search-only key as they are (header values),
-- and every token the sandbox issued since it started, as it is (the
-- bearer header; its percent-encoded form is the same, as tokens are hex
-- digits). soget sends nothing in base64 (never HTTP Basic credentials).
-- `extra`: more secrets, name -> value (tokens the sandbox did not issue).
function M.secret_check(extra)
  local plain = {}
  local function add(name, v)
    if v and #v >= 4 then plain[#plain + 1] = { name, v } end
  end
  add("the client secret", M.client_secret)
  add("the client secret, percent-encoded", form_encoded(M.client_secret, "%%%02X"))
  add("the client secret, percent-encoded (lower case)", form_encoded(M.client_secret, "%%%02x"))
  add("the API key", M.api_key)
  add("the search-only key", M.search_key)
  for name, v in pairs(extra or {}) do add(name, v) end
  local seen, unique = {}, {}
  for _, p in ipairs(plain) do
    if not seen[p[2]] then seen[p[2]], unique[#unique + 1] = true, p end
  end
  -- Tokens by the thousand: each run of hex digits of a text is looked up
  -- window by window, instead of a search of the text per token.
  local tokens, lengths, n = {}, {}, 0
  for _, t in ipairs(M.issued_tokens()) do
    tokens[t], n = true, n + 1
    lengths[#t] = true
  end
  return function(text)
    for _, p in ipairs(unique) do
      if text:find(p[2], 1, true) then return p[1] end
    end
    for run in text:gmatch("%x+") do
      for len in pairs(lengths) do
        for i = 1, #run - len + 1 do
          if tokens[run:sub(i, i + len - 1)] then
            return "a token the sandbox issued"
          end
        end
      end
    end
    return nil
  end, n
end

-- The base URL (and token URL) with a fault spec in front of the API path.
local function with_fault(url, spec)
  local origin, path = url:match("^(https?://[^/]+)(/.*)$")
  return origin .. "/_fault/" .. spec .. path
end
function M.fault_base(spec, origin)
  local url = M.base_url
  if origin == "http" then url = url:gsub("^https://[^/]+", M.http) end
  return with_fault(url, spec)
end
function M.fault_token(spec) return with_fault(M.token_url, spec) end

-- Options for a client against the sandbox (HTTPS, verified with its CA).
function M.options(extra)
  local o = {
    client_id = M.client_id, client_secret = M.client_secret, api_key = M.api_key,
    base_url = M.base_url, token_url = M.token_url, ca_file = M.ca_file,
    search_base_url = M.search_base_url,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

function M.client(extra)
  return require("soget").client(M.options(extra))
end

-- Wall-clock seconds with sub-second precision (os.time has whole seconds).
function M.now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("*a"))
  p:close()
  return t
end

-- Whether the interpreter under test runs under a memory checker (ASan,
-- valgrind), whose allocator keeps what is freed and whose shadow maps
-- are terabytes of address space.
function M.under_checker()
  return M.lua:find("lua%-asan$") ~= nil or M.lua:find("lua%-valgrind$") ~= nil
end

-- Runs chunk (Lua source) in a fresh interpreter under test, with this
-- process's paths, GLIBC_TUNABLES set to a fixed mmap threshold: malloc
-- then gives large blocks back at free, so that the resident size shows
-- what is kept. Returns its output, standard error included. shell, if
-- given, runs first in the child's shell (a ulimit).
function M.lua_child(chunk, shell)
  return M.popen_read((shell or "") .. " GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 "
    .. shell_quote(M.lua) .. " -e " .. shell_quote("package.path = "
    .. ("%q"):format(package.path) .. "; package.cpath = " .. ("%q"):format(package.cpath)
    .. "\n" .. chunk) .. " 2>&1")
end

-- In such a child: its resident size in bytes, after a full collection.
function M.rss()
  collectgarbage()
  collectgarbage()
  local f = assert(io.open("/proc/self/statm"))
  local pages = f:read("*a"):match("^%d+ (%d+)")
  f:close()
  return tonumber(pages) * 4096
end

-- Unique ids for stateful faults.
local n = 0
function M.uid(prefix)
  n = n + 1
  return (prefix or "t") .. os.time() .. "x" .. n .. "x" .. math.random(1, 1e6)
end

return M
