-- Test endpoint of spec/openresty
-- (GET /t/lookup?ref=R[&fault=SPEC][&retries=N][&max=BYTES]):
-- one sng.handling_units call through the example's driver settings, with a
-- sandbox fault in front of the API path; answers what came back as JSON.
local soget = require "soget"
local sng = require "soget.ngx"
local cjson = require "cjson.safe"

local M = {}
local clients = {}

function M.lookup()
  local a = ngx.req.get_uri_args()
  local base = os.getenv("SOGET_BASE_URL")
  if a.fault and a.fault ~= "" then
    local origin, path = base:match("^(https?://[^/]+)(/.*)$")
    base = origin .. "/_fault/" .. a.fault .. path
  end
  local key = base .. "|" .. (a.retries or "")
  local c = clients[key]
  if not c then
    c = soget.client{ base_url = base, retries = tonumber(a.retries) or 2, timeout = 20 }
    clients[key] = c
  end
  local t0 = ngx.now()
  local page, err = sng.handling_units(c, { reference = a.ref or "CGMU2436601" },
    a.max and { max_response_size = tonumber(a.max) } or nil)
  ngx.update_time()
  local out = { seconds = ngx.now() - t0, stats = c:stats() }
  if page then
    out.total = page.total
    out.first = page.items[1] and page.items[1].pswId or nil
  else
    out.error = { kind = err.kind, status = err.status, code = err.code,
      message = err.message, retryable = err.retryable }
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- GET /t/search?doc=D: sng.handling_units_search for a document reference,
-- then every unit through sng.iter (pages fetched in the handler); the
-- sandbox's in-mass API sits beside its tracing API, on the same origin.
function M.search()
  local a = ngx.req.get_uri_args()
  local base = os.getenv("SOGET_BASE_URL")
  local c = clients.search
  if not c then
    c = soget.client{ base_url = base, timeout = 20, search_base_url =
      base:gsub("/api%-tracing%-code/v1$", "/api-tracing-code-in-mass/v1") }
    clients.search = c
  end
  local page, err = sng.handling_units_search(c, { documentReference = a.doc, limit = 10 })
  local out = { stats = c:stats() }
  if page then
    out.total, out.refs = page.total, {}
    for hu in sng.iter(c, page) do out.refs[#out.refs + 1] = hu.reference end
    out.stats = c:stats()
  else
    out.error = { kind = err.kind, message = err.message }
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- GET /t/options: how the driver treats wrong settings.
function M.options()
  local c = soget.client{}
  local out = {}
  local ok, e = pcall(sng.handling_units, c, "CGMU2436601", { bogus = 1 })
  out.unknown_option = not ok and tostring(e) or false
  ok, e = pcall(sng.token_cache, "no_such_dict")
  out.no_dict = not ok and tostring(e) or false
  ok, e = pcall(sng.handling_units, c, { reference = "CGMU2436601", bogus = 1 })
  out.bad_query = not ok and tostring(e) or false
  local page, err = sng.handling_units(c, "CGMU2436601",
    { upstreams = { ["https://elsewhere.invalid"] = "soget_api" } })
  out.no_upstream = page and false or { kind = err.kind, retryable = err.retryable,
    message = err.message }
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

return M
