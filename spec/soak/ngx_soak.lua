-- The soak's handler in nginx (POST /soak, one JSON request per call, from
-- spec/soak/client.lua in ngx mode): the calls are made by soget.ngx over
-- cosockets in this worker, with a client of its own (User-Agent
-- soget-soak/ngx, the token in the soget_tokens shared dict under its own
-- key). Answers what came back as JSON, and on {"op":"sample"} the
-- worker's memory (RSS, Lua's count after a full collection) and open
-- descriptors, with soget.ngx's own figures.
local soget = require "soget"
local sng = require "soget.ngx"
local cjson = require("cjson").new()
local ffi = require "ffi"

cjson.encode_number_precision(14)

local M = {}
local client, opts

local function get_client()
  if not client then
    local base = assert(os.getenv("SOGET_BASE_URL"), "SOGET_BASE_URL not set")
    client = soget.client{ timeout = 30, retries = 2, user_agent = "soget-soak/ngx",
      search_base_url = (base:gsub("/api%-tracing%-code/v1$", "/api-tracing-code-in-mass/v1")) }
    opts = { token_cache = sng.token_cache("soget_tokens", { key = "soak" }) }
  end
  return client
end

local function err_table(e)
  if type(e) ~= "table" then error(e, 0) end
  return { kind = e.kind, status = e.status, code = e.code, message = e.message,
    retryable = e.retryable }
end

local function call(kind, q, o)
  local c = get_client()
  if kind == "search" then return sng.handling_units_search(c, q, o or opts) end
  return sng.handling_units(c, q, o or opts)
end

local function page_table(p)
  return { total = p.total, returned = p.returned, first = p.first, items = p.items }
end

ffi.cdef [[
  void *opendir(const char *name);
  void *readdir(void *dir);
  int closedir(void *dir);
]]

local function fds()
  local d = ffi.C.opendir("/proc/self/fd")
  if d == nil then return nil end
  local n = 0
  while ffi.C.readdir(d) ~= nil do n = n + 1 end
  ffi.C.closedir(d)
  return n - 2   -- "." and ".."; the directory's own descriptor stays counted
end

local function rss_kb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local OPS = {}

function OPS.one(r)
  local page, err = call(r.kind, r.q)
  if page then return { page = page_table(page) } end
  return { err = err_table(err) }
end

function OPS.walk(r)
  local page, err = call(r.kind, r.q)
  if not page then return { items = {}, first_err = err_table(err) } end
  local items = {}
  local o = { token_cache = opts.token_cache, max_items = r.max_items }
  local ok, e = pcall(function()
    for hu in sng.iter(client, page, o) do items[#items + 1] = hu end
  end)
  return { items = items, err = not ok and err_table(e) or nil }
end

-- a batch: every query in its own light thread, all at once
function OPS.bulk(r)
  get_client()
  local threads = {}
  for i, x in ipairs(r.list) do
    threads[i] = ngx.thread.spawn(function()
      local page, err = call(x.kind, x.q)
      if page then return { page = page_table(page) } end
      return { err = err_table(err) }
    end)
  end
  local results = {}
  for i, t in ipairs(threads) do
    local ok, res = ngx.thread.wait(t)
    results[i] = ok and res or { err = { kind = "thread", message = tostring(res) } }
  end
  return { results = results }
end

function OPS.sample()
  collectgarbage("collect")
  collectgarbage("collect")
  return { rss_kb = rss_kb(), lua_kb = collectgarbage("count"), fds = fds(),
    pid = ngx.worker.pid(), driver = sng.stats() }
end

function M.handle()
  ngx.req.read_body()
  local r = cjson.decode(ngx.req.get_body_data() or "{}")
  local op = OPS[r.op]
  if not op then ngx.status = 400; ngx.print("unknown op"); return end
  local out = cjson.encode(op(r))
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Content-Length"] = #out
  ngx.print(out)
end

return M
