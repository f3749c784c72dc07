-- One client of the soak (the README, "Soak under faults"), run as its
-- own process by spec/soak/run.lua:
--
--   LUA spec/soak/client.lua NAME lib|ngx OUT.json
--
-- lib: a soget client in this process (the module from SOGET_MODULE_DIR)
-- makes the calls; ngx: the calls are made by soget.ngx in the nginx at
-- SOAK_NGX_URL (spec/soak/ngx_soak.lua), one at a time, and this process
-- checks them. Either way, each call's outcome is compared with the
-- sandbox's data and its requests (the sandbox's log, for this client's
-- User-Agent) must explain it. Stops after SOAK_CLIENT_CALLS calls or
-- SOAK_SECONDS seconds; writes its figures to OUT.json.
local here = (arg[0]:match("^(.*)/[^/]*$")) or "."
package.path = here .. "/?.lua;" .. package.path
local dir = os.getenv("SOGET_MODULE_DIR")
if dir then package.cpath = dir .. "/?.so;" .. package.cpath end

local C = require "common"
local cjson = C.json

local NAME, MODE, OUT = arg[1], arg[2], arg[3]
assert(NAME and (MODE == "lib" or MODE == "ngx") and OUT,
  "usage: client.lua NAME lib|ngx OUT.json")
local function envn(k, d) return tonumber(os.getenv(k) or "") or d end
local SECONDS = envn("SOAK_SECONDS", 600)
local CALLS = envn("SOAK_CLIENT_CALLS", 1000000)
local SAMPLE = envn("SOAK_SAMPLE", 10)
local WARM = envn("SOAK_WARM", 60)
local SEED = envn("SOAK_SEED", os.time())
local RETRIES = 2
local UA = "soget-soak/" .. NAME
local PID = C.pid()

local function log(fmt, ...)
  io.stderr:write(("[%s] " .. fmt .. "\n"):format(NAME, ...))
end

local ctl = C.control(assert(os.getenv("SOGET_SANDBOX_HTTP"), "SOGET_SANDBOX_HTTP not set"))
local info = ctl.get("/_control/info")
local EX = C.expectations(ctl)
local X = C.explainer(RETRIES)

-- seeded per client: a run can be replayed in the same order of draws
local seed = SEED
for i = 1, #NAME do seed = seed * 31 + NAME:byte(i) end
math.randomseed(seed % 2147483647)
local rnd = math.random

---------------------------------------------------------------------------
-- what the calls ask for
local LOOKUPS, SEARCHES, WALKS = {}, {}, {}
local function lookup(q) LOOKUPS[#LOOKUPS + 1] = q end
for _, p in ipairs({ info.big_prefix, "CGMU", "MAEU", "HLXU", "CSQU", "STL", "mscu9", "MSCU1",
  info.example, "ZZZZ", "CGMU2436601" }) do
  lookup({ reference = p })
end
-- units laid down by hand: a container on several passages, lots whose
-- references begin one another's (where exact lookups differ from prefixes)
for _, f in pairs(info.fixtures or {}) do
  if type(f) == "table" and f.reference then lookup({ reference = f.reference }) end
end
lookup({ spi = "CNI00000639" })
lookup({ spi = "MAR0000" })
lookup({ reference = info.big_prefix, spi = "CNI" })
-- whole references and pswIds of units met in the big listing
do
  local big = EX:list("lookup", { reference = info.big_prefix })
  for i = 1, 20 do
    local u = big[(i * 37) % #big + 1]
    lookup({ reference = u.reference })
    if i % 4 == 0 then lookup({ spi = u.pswId }) end
  end
end
local S = info.search or {}
for _, d in ipairs(S.documents or {}) do
  SEARCHES[#SEARCHES + 1] = { documentReference = d.documentReference }
end
if S.voyage then
  local v = S.voyage
  for _, q in ipairs({
    { voyageAgentReference = v.voyageAgentReference },
    { voyageAgentId = v.voyageAgentId },
    { voyageAgentReference = v.voyageAgentReference, customsFlag = "Import" },
    { voyageAgentReference = v.voyageAgentReference, customsFlag = "Export", freightAgent = "ONEF" },
    { voyageAgentId = v.voyageAgentId, freightAgent = "HLAG" },
  }) do SEARCHES[#SEARCHES + 1] = q end
  WALKS[#WALKS + 1] = { "search", { voyageAgentReference = v.voyageAgentReference } }
  WALKS[#WALKS + 1] = { "search", { voyageAgentId = v.voyageAgentId } }
end
SEARCHES[#SEARCHES + 1] = { documentReference = "NO-SUCH-DOCUMENT" }
for _, p in ipairs({ info.big_prefix, "CGMU", "MAEU", "STL" }) do
  WALKS[#WALKS + 1] = { "lookup", { reference = p } }
end
WALKS[#WALKS + 1] = { "search", { documentReference = "3714238101" } }
-- the API refuses these itself: an S)ONE id of letters and digits only
local REFUSED = { { spi = "CNI-1" }, { spi = "MAR 1" } }

-- exact lookups, when the module has them (soget.check_query tells; the
-- nginx worker's module is built from the same tree)
local EXACT = require("soget").check_query({ reference = "X", exact = true }) == true

-- every listing, fetched once now: the process's memory is then flat
for _, q in ipairs(LOOKUPS) do EX:list("lookup", q) end
for _, q in ipairs(SEARCHES) do EX:list("search", q) end
for _, w in ipairs(WALKS) do EX:list(w[1], w[2]) end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- a query with paging drawn at random
local function paged(kind, base)
  local q = copy(base)
  local total = #EX:list(kind, base)
  if rnd() < 0.7 then q.limit = rnd(1, 10) end
  if rnd() < 0.5 then q.offset = rnd(0, total + 2) end
  if rnd() < 0.3 then q.desc = true end
  return q
end

---------------------------------------------------------------------------
-- the calls, by soget in this process or by soget.ngx in nginx
local client, ngx_http
if MODE == "lib" then
  local soget = require "soget"
  client = soget.client{ user_agent = UA, timeout = 30, retries = RETRIES }
else
  ngx_http = C.http(assert(os.getenv("SOAK_NGX_URL"), "SOAK_NGX_URL not set"))
end

local function ngx_call(req)
  local status, body = ngx_http:request("POST", "/soak", cjson.encode(req))
  assert(status == 200, "nginx /soak: " .. tostring(status) .. " " .. tostring(body))
  return cjson.decode(body)
end

local function one(kind, q)
  if ngx_http then
    local r = ngx_call({ op = "one", kind = kind, q = q })
    return r.page, r.err
  end
  local page, err
  if kind == "search" then page, err = client:handling_units_search(q)
  else page, err = client:handling_units(q) end
  return page, C.error_table(err)
end

-- each unit goes to on_unit(i, unit) as it comes (the process keeps
-- none); returns the number of units, the error that ended the walk or the
-- first page's error
local function walk(kind, q, max_items, on_unit)
  if ngx_http then
    local r = ngx_call({ op = "walk", kind = kind, q = q, max_items = max_items })
    for i, hu in ipairs(r.items) do on_unit(i, hu) end
    return #r.items, r.err, r.first_err
  end
  local page, err
  if kind == "search" then page, err = client:handling_units_search(q)
  else page, err = client:handling_units(q) end
  if not page then return 0, nil, C.error_table(err) end
  local n = 0
  local ok, e = pcall(function()
    for hu in page:iter({ max_items = max_items }) do n = n + 1; on_unit(n, hu) end
  end)
  if not ok then
    if type(e) ~= "table" or not e.kind then error(e, 0) end
    return n, C.error_table(e)
  end
  return n
end

local function bulk(list, concurrency)
  if ngx_http then
    return ngx_call({ op = "bulk", list = list }).results
  end
  local queries = {}
  for i, x in ipairs(list) do
    queries[i] = x.kind == "search" and { search = x.q } or x.q
  end
  local results = client:handling_units_many(queries, { concurrency = concurrency })
  local out = {}
  for i, r in ipairs(results) do
    if r.kind then out[i] = { err = C.error_table(r) } else out[i] = { page = r } end
  end
  return out
end

---------------------------------------------------------------------------
-- the figures
local T = {
  name = NAME, mode = MODE, ua = UA, exact = EXACT,
  calls = 0, ops = {}, results_checked = 0, units_checked = 0, pages_walked = 0,
  wrong = 0, unexplained = 0, problems = {}, errors = {}, late_logs = 0, samples = {},
}
local function problem(kind, msg)
  T[kind] = T[kind] + 1
  if #T.problems < 40 then T.problems[#T.problems + 1] = kind .. ": " .. msg end
  log("%s: %s", kind, msg)
end

-- the sandbox's log since the last call, this client's requests only
local since = ctl.get("/_control/log?n=0").seq
local function poll()
  local r = ctl.get("/_control/log?since=" .. since .. "&agent=" .. C.urlencode(UA))
  if r.lost then error("the sandbox's request log dropped requests of " .. UA ..
    " (raise SOGET_SANDBOX_LOG_KEEP)") end
  since = r.seq
  return r.entries
end

local function key(kind, q) return C.query_key(kind, q) end

-- checks one call: `needs` lists {kind, q} whose requests must be in the
-- log (read again, a few times, while one is missing); then the call's
-- requests are counted and check(groups, order) reports what is wrong or
-- unexplained through problem()
local function settle(needs, check)
  local entries = poll()
  local groups, order = X.group(entries)
  for _ = 1, 5 do
    local missing = false
    for _, n in ipairs(needs) do
      if not groups[key(n[1], n[2])] then missing = true end
    end
    if not missing then break end
    T.late_logs = T.late_logs + 1
    C.sleep(0.1)
    for _, e in ipairs(poll()) do entries[#entries + 1] = e end
    groups, order = X.group(entries)
  end
  for _, p in ipairs(X.account(entries)) do problem("unexplained", p) end
  check(groups, order)
end

local function count_error(err)
  local k = err.kind .. (err.status and (" %d"):format(err.status) or "")
  T.errors[k] = (T.errors[k] or 0) + 1
end

-- one page (or error) for one query
local function check_one(kind, q, page, err, g, expect_code)
  local why = X.explain(g, err, expect_code)
  if why then problem("unexplained", key(kind, q) .. ": " .. why); return end
  if err then count_error(err); return end
  local want = C.expected_page(EX:list(kind, q), q)
  local diff = C.check_page(page, want, ngx_http and 1e-12 or nil)
  T.results_checked = T.results_checked + 1
  T.units_checked = T.units_checked + #want.items
  if diff then problem("wrong", key(kind, q) .. ": " .. diff) end
end

local OPS = {}

function OPS.lookup()
  local q = paged("lookup", LOOKUPS[rnd(#LOOKUPS)])
  local page, err = one("lookup", q)
  settle({ { "lookup", q } }, function(groups)
    check_one("lookup", q, page, err, groups[key("lookup", q)])
  end)
end

function OPS.search()
  local q = paged("search", SEARCHES[rnd(#SEARCHES)])
  local page, err = one("search", q)
  settle({ { "search", q } }, function(groups)
    check_one("search", q, page, err, groups[key("search", q)])
  end)
end

function OPS.refused()
  local q = copy(REFUSED[rnd(#REFUSED)])
  local page, err = one("lookup", q)
  settle({ { "lookup", q } }, function(groups)
    check_one("lookup", q, page, err, groups[key("lookup", q)], "R003")
  end)
end

-- a walk over a whole listing: every unit once, in order; a failed page
-- ends it (the units before it a prefix of the listing) and is explained
-- (big: the longest listing, whole, as the warm-up's first call)
function OPS.walk(big)
  local w = WALKS[rnd(#WALKS)]
  if big then
    for _, x in ipairs(WALKS) do
      if #EX:list(x[1], x[2]) > #EX:list(w[1], w[2]) then w = x end
    end
  end
  local kind, q = w[1], copy(w[2])
  q.limit = (big or rnd() < 0.7) and 10 or rnd(3, 9)
  if not big and rnd() < 0.3 then q.desc = true end
  local list = EX:list(kind, q)
  local max_items = not big and rnd() < 0.2 and rnd(1, #list) or nil
  local n = max_items and math.min(max_items, #list) or #list
  local mismatch
  local yielded, err, first_err = walk(kind, q, max_items, function(i, hu)
    if mismatch or i > n then return end
    local m = C.same(q.desc and list[#list - i + 1] or list[i], hu, "unit " .. i,
      ngx_http and 1e-12 or nil)
    if m then mismatch = m end
  end)
  local offsets = {}
  for off = 0, n - 1, q.limit do
    local pq = copy(q)
    pq.offset = off
    offsets[#offsets + 1] = pq
  end
  local needed = {}
  local failed_at = err and math.floor(yielded / q.limit) + 1 or (first_err and 1) or #offsets
  for i = 1, math.min(failed_at, #offsets) do needed[i] = { kind, offsets[i] } end
  settle(needed, function(groups, order)
    local fail = err or first_err
    for i, pq in ipairs(offsets) do
      local g = groups[key(kind, pq)]
      if i < failed_at then
        local why = X.explain(g, nil)
        if why then problem("unexplained", key(kind, pq) .. ": " .. why) end
      elseif i == failed_at and fail then
        local why = X.explain(g, fail)
        if why then problem("unexplained", key(kind, pq) .. ": " .. why) end
      elseif i == failed_at then
        local why = X.explain(g, nil)
        if why then problem("unexplained", key(kind, pq) .. ": " .. why) end
      elseif g then
        problem("unexplained", key(kind, pq) .. ": a page asked for after the walk ended")
      end
    end
    if #order > #offsets then
      problem("unexplained", ("%d listings asked for by a walk of %d pages"):format(#order, #offsets))
    end
    if fail then count_error(fail) end
    T.pages_walked = T.pages_walked + math.min(failed_at, #offsets)
    -- every unit once, in the listing's order
    if yielded > n or (not fail and yielded ~= n) then
      problem("wrong", ("%s: walk yielded %d units, expected %d"):format(key(kind, q), yielded, n))
      return
    end
    if mismatch then problem("wrong", key(kind, q) .. ": walk: " .. mismatch); return end
    T.results_checked = T.results_checked + 1
    T.units_checked = T.units_checked + yielded
  end)
end

-- a batch of distinct queries (lookups and searches); big: the largest
-- batch, of full pages, as the warm-up's second call
function OPS.bulk(big)
  local list, seen = {}, {}
  local most = ngx_http and 10 or 24
  local n = big and most or rnd(ngx_http and 2 or 4, most)
  for _ = 1, n * 3 do
    if #list >= n then break end
    local kind = rnd() < 0.7 and "lookup" or "search"
    local q = paged(kind, kind == "lookup" and LOOKUPS[rnd(#LOOKUPS)] or SEARCHES[rnd(#SEARCHES)])
    if big then q.limit, q.offset = 10, nil end
    local k = key(kind, q)
    if not seen[k] then seen[k] = true; list[#list + 1] = { kind = kind, q = q } end
  end
  local results = bulk(list, big and 8 or rnd(1, 8))   -- the pool grows to its largest
  local needs = {}
  for i, x in ipairs(list) do needs[i] = { x.kind, x.q } end
  settle(needs, function(groups, order)
    for i, x in ipairs(list) do
      local r = results[i] or {}
      check_one(x.kind, x.q, r.page, r.err, groups[key(x.kind, x.q)])
    end
    if #order ~= #list then
      problem("unexplained", ("%d queries asked for by a batch of %d"):format(#order, #list))
    end
  end)
end

-- an exact lookup: only the units whose reference is the one given, as one
-- complete page (soget pages the listing itself); big: over the longest
-- listing, as a warm-up call
function OPS.exact(big)
  local base = LOOKUPS[rnd(#LOOKUPS)]
  if big then
    for _, q in ipairs(LOOKUPS) do
      if q.reference and not q.spi and #EX:list("lookup", q) > #EX:list("lookup", base) then
        base = q
      end
    end
  end
  if not base.reference or base.spi then base = { reference = info.example } end
  local q = { reference = base.reference, exact = true }
  local page, err
  if ngx_http then
    local r = ngx_call({ op = "one", kind = "lookup", q = q })
    page, err = r.page, r.err
  else
    local e
    page, e = client:handling_units(q)
    err = C.error_table(e)
  end
  local list = EX:list("lookup", { reference = q.reference })
  local want = {}
  for _, u in ipairs(list) do
    if u.reference:upper() == q.reference:upper() then want[#want + 1] = u end
  end
  settle({}, function(groups, order)
    for i, k in ipairs(order) do
      local why = X.explain(groups[k], (i == #order) and err or nil)
      if why then problem("unexplained", "exact " .. q.reference .. ": " .. k .. ": " .. why) end
    end
    if #order == 0 then problem("unexplained", "exact " .. q.reference .. ": no request") end
    if err then count_error(err); return end
    if page.total ~= #want or page.returned ~= #want or #page.items ~= #want then
      problem("wrong", ("exact %s: %s units, expected %d"):format(q.reference, tostring(page.total), #want))
      return
    end
    local by = {}
    for _, u in ipairs(page.items) do by[u.pswId] = u end
    for _, u in ipairs(want) do
      local m = C.same(u, by[u.pswId], "exact " .. q.reference, ngx_http and 1e-12 or nil)
      if m then problem("wrong", m); return end
    end
    T.results_checked = T.results_checked + 1
    T.units_checked = T.units_checked + #want
  end)
end

local MIX = { { "lookup", 35 }, { "search", 25 }, { "walk", 12 }, { "bulk", 15 }, { "refused", 3 } }
if EXACT then MIX[#MIX + 1] = { "exact", 10 } end
local WEIGHT = 0
for _, m in ipairs(MIX) do WEIGHT = WEIGHT + m[2] end
local function pick()
  local r = rnd() * WEIGHT
  for _, m in ipairs(MIX) do
    r = r - m[2]
    if r < 0 then return m[1] end
  end
  return MIX[1][1]
end

---------------------------------------------------------------------------
-- memory and descriptors: this process's, or the nginx worker's
local function sample(t)
  local s
  if ngx_http then
    s = ngx_call({ op = "sample" })
  else
    -- twice: what a finalizer kept alive one cycle goes in the second
    collectgarbage("collect")
    collectgarbage("collect")
    s = { rss_kb = C.rss_kb(), lua_kb = collectgarbage("count"), fds = C.fds(PID),
      pid = PID }
  end
  s.t = t
  T.samples[#T.samples + 1] = s
  return s
end

local start = C.now()
local deadline = start + SECONDS
sample(0)
local next_sample, warm_taken = SAMPLE, false
log("pid %d, %s, seed %d, %d lookups, %d searches, %d walks%s", PID, MODE, SEED,
  #LOOKUPS, #SEARCHES, #WALKS, EXACT and ", exact lookups" or "")
-- the largest calls first, so that the memory they take is in the
-- warm-up sample, not counted as growth
local WARMUP = { "walk", "bulk", EXACT and "exact" or nil }
while T.calls < CALLS and C.now() < deadline do
  local op = WARMUP[T.calls + 1] or pick()
  OPS[op](WARMUP[T.calls + 1] ~= nil)
  T.calls = T.calls + 1
  T.ops[op] = (T.ops[op] or 0) + 1
  local t = C.now() - start
  if not warm_taken and t >= WARM then
    T.warm = sample(t)
    warm_taken = true
  elseif t >= next_sample then
    sample(t)
    next_sample = next_sample + SAMPLE
  end
end
T.seconds = C.now() - start
T.warm = T.warm or T.samples[1]
T["end"] = sample(T.seconds)
if client then
  T.client_stats = client:stats()
  client:close()
end
T.log = X.stats
T.log.connections = nil
T.revoked_seen = #X.revoked_order
local f = assert(io.open(OUT, "w"))
f:write(cjson.encode(T))
f:close()
log("%d calls in %.0f s: %d results checked, %d wrong, %d unexplained", T.calls, T.seconds,
  T.results_checked, T.wrong, T.unexplained)
