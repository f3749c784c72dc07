-- Reads bench/results/results.txt (RESULT lines) and prints every figure
-- with its baseline and target; writes the same as a Markdown table.
--   lua bench/report.lua RESULTS_FILE MARKDOWN_FILE
local R, wrk = {}, {}
for line in io.lines(arg[1]) do
  local k, v = line:match("^RESULT (%S+) (.*)$")
  if k == "wrk.round" then
    -- round, wrk, soget, libcurl loop (requests/s; 0: not measured)
    local _, w, s, c = v:match("^(%S+) (%S+) (%S+) ?(%S*)$")
    w, s, c = tonumber(w), tonumber(s), tonumber(c)
    if s and s > 0 then
      wrk[#wrk + 1] = { w = w and w > 0 and w or nil, s = s, c = c and c > 0 and c or nil }
    end
  elseif k then
    R[k] = tonumber(v) or v
  end
end

local function median(t)
  table.sort(t)
  local n = #t
  if n == 0 then return nil end
  return n % 2 == 1 and t[(n + 1) / 2] or (t[n / 2] + t[n / 2 + 1]) / 2
end

local rows = {}
local function row(what, soget, baseline, figure, target, met)
  local verdict = (figure == nil or met == nil) and "n/a" or (met and "met" or "NOT met")
  rows[#rows + 1] = { what, soget or "n/a", baseline or "n/a", figure or "n/a", target, verdict }
end
local function f(x, fmt) return x and string.format(fmt, x) or nil end
local function int(x) return x and string.format("%d", x) or nil end
local function num(k) return type(R[k]) == "number" and R[k] or nil end

-- Decode.
for _, rt in ipairs { { "d54", "Lua 5.4" }, { "djit", "LuaJIT" } } do
  for _, body in ipairs { { "p10", "10-unit page" }, { "p500", "10 units x 500 events" } } do
    local p = rt[1] .. ".decode." .. body[1] .. "."
    local rc, rk, ry = num(p .. "ratio_cjson"), num(p .. "ratio_contract"), num(p .. "ratio_yajl_cjson")
    row(("decode, %s, %s: vs cjson.decode"):format(body[2], rt[2]),
      f(num(p .. "soget_us"), "%.0f us"), f(num(p .. "cjson_us"), "%.0f us"),
      f(rc, "%.2f"), "<= 0.50", rc and rc <= 0.5)
    row(("decode, %s, %s: vs cjson.decode + Lua contract pass"):format(body[2], rt[2]),
      f(num(p .. "soget_us"), "%.0f us"), f(num(p .. "contract_us"), "%.0f us"),
      f(rk, "%.2f"), "<= 0.50", rk and rk <= 0.5)
    row(("decode, %s, %s: soget with libyajl alone (parser = \"yajl\") vs cjson.decode"):format(body[2], rt[2]),
      f(num(p .. "yajl_us"), "%.0f us"), f(num(p .. "cjson_us"), "%.0f us"),
      f(ry, "%.2f"), "(information)", nil)
  end
end
for _, body in ipairs { { "p10", "10-unit page" }, { "p500", "10 units x 500 events" } } do
  local s, c, k = num("cg." .. body[1] .. ".soget"), num("cg." .. body[1] .. ".cjson"),
    num("cg." .. body[1] .. ".contract")
  local y = num("cg." .. body[1] .. ".soget-yajl")
  row(("instructions per decode, %s (callgrind, 5.4): vs cjson.decode"):format(body[2]),
    s and string.format("%.2fM", s / 1e6), c and string.format("%.2fM", c / 1e6),
    s and c and string.format("%.2f", s / c), "<= 0.45", s and c and s / c <= 0.45)
  row(("instructions per decode, %s (callgrind, 5.4): vs cjson + Lua pass"):format(body[2]),
    s and string.format("%.2fM", s / 1e6), k and string.format("%.2fM", k / 1e6),
    s and k and string.format("%.2f", s / k), "<= 0.50", s and k and s / k <= 0.5)
  row(("instructions per decode, %s (callgrind, 5.4): libyajl alone vs cjson.decode"):format(body[2]),
    y and string.format("%.2fM", y / 1e6), c and string.format("%.2fM", c / 1e6),
    y and c and string.format("%.2f", y / c), "(information)", nil)
end

-- Keep-alive.
local ka = {
  { "ka54", "Lua 5.4, LuaSocket loop", true },
  { "ka51", "Lua 5.1, lua-curl loop", true },
  { "kajit", "LuaJIT, lua-curl loop", true },
  { "kajitgz", "LuaJIT, lua-curl loop asking for gzip like soget", false },
}
for _, k in ipairs(ka) do
  local r = num(k[1] .. ".ratio")
  local met
  if k[3] and r then met = r <= 1.0 end
  row(("sequential lookups, 10-unit page, %s + cjson.decode"):format(k[2]),
    f(num(k[1] .. ".soget_ms"), "%.3f ms"), f(num(k[1] .. ".baseline_ms"), "%.3f ms"),
    f(r, "%.2f"), k[3] and "<= 1.00" or "(information)", met)
end
do
  local r = num("kadelay.ratio")
  local extra = num("kadelay.soget_token_requests") == 1 and num("kadelay.soget_connections") == 1
  row("sequential lookups with 20 ms latency (delay:ms=20), 1-unit page, LuaSocket loop",
    f(num("kadelay.soget_ms"), "%.2f ms"), f(num("kadelay.baseline_ms"), "%.2f ms"),
    f(r, "%.2f"), "1.00 (+-0.02)", r and math.abs(r - 1) <= 0.02 and extra)
end
do
  -- Rounds: soget and the bare libcurl loop (bench/curl_loop.c), the same
  -- request; wrk beside them (the old baseline), for information.
  local ss, cs, sc, ws, sw, cw = {}, {}, {}, {}, {}, {}
  for _, x in ipairs(wrk) do
    if x.c then
      ss[#ss + 1] = x.s; cs[#cs + 1] = x.c; sc[#sc + 1] = x.s / x.c
    end
    if x.w then
      ws[#ws + 1] = x.w; sw[#sw + 1] = x.s / x.w
      if x.c then cw[#cw + 1] = x.c / x.w end
    end
  end
  local r = median(sc)
  row(("requests/s, 1-unit page, one connection: soget vs a bare libcurl C loop, same request (%d rounds)"):format(#sc),
    f(median(ss), "%.0f/s"), f(median(cs), "%.0f/s"), f(r, "%.2f"), ">= 0.80", r and r >= 0.80)
  if #ws > 0 then
    row("same rounds: soget vs wrk -t1 -c1 (the former baseline)",
      f(median(ss), "%.0f/s"), f(median(ws), "%.0f/s"), f(median(sw), "%.2f"), "(information)", nil)
    row("same rounds: the bare libcurl loop vs wrk: libcurl's own ceiling",
      f(median(cs), "%.0f/s"), f(median(ws), "%.0f/s"), f(median(cw), "%.2f"), "(information)", nil)
  end
end
do
  local s, c, d = num("cg.lookup.soget"), num("cg.lookup.curl"), num("cg.lookup.decode")
  row("instructions per 1-unit lookup (callgrind, 5.4, plain HTTP): soget vs the bare libcurl loop",
    s and string.format("%.0fk", s / 1e3), c and string.format("%.0fk", c / 1e3),
    s and c and string.format("%.2f", s / c), "<= 1.60", s and c and s / c <= 1.6)
  if s and d then
    row("the same lookup without soget.decode of its body (the call path) vs the loop",
      string.format("%.0fk", (s - d) / 1e3), c and string.format("%.0fk", c / 1e3),
      c and string.format("%.2f", (s - d) / c), "(information)", nil)
  end
end

-- The sandbox must never be what a benchmark measures.
do
  local r = num("sandbox.rps")
  row("sandbox: 10-unit page, one keep-alive connection (best of 3 wrk runs)",
    "-", "-", f(r, "%.0f req/s"), ">= 5000 req/s", r and r >= 5000)
end

-- Bulk lookups: concurrent against sequential, with injected latency.
do
  local seq, conc = num("bulk.bulk.sequential_s"), num("bulk.bulk.concurrent_s")
  local speed = num("bulk.bulk.speedup")
  row(("bulk: %s lookups, %s ms latency, concurrency %s (handling_units_many) vs the same sequentially"):format(
      R["bulk.bulk.lookups"] or "?", R["bulk.bulk.delay_ms"] or "?", R["bulk.bulk.concurrency"] or "?"),
    f(conc, "%.2f s"), f(seq, "%.2f s"), f(speed, "%.1fx faster"), ">= 10x", speed and speed >= 10)
end

-- OpenResty: the worker is never blocked, and the cosocket path is not slower.
do
  local nb, b = num("or.openresty.nonblocking_s"), num("or.openresty.blocking_s")
  local n, ok = num("or.openresty.requests"), num("or.openresty.nonblocking_ok")
  row(("OpenResty: %s concurrent lookups, 200 ms latency, one worker: soget.ngx vs blocking libcurl"):format(n or "?"),
    f(nb, "%.2f s"), f(b, "%.2f s"), f(b and nb and b / nb, "%.1fx"), "all ok, far below n x 200 ms",
    nb and ok == n and nb < (n or 0) * 0.2 / 5)
  local c, s2, p = num("or.openresty.rps_cosocket"), num("or.openresty.rps_subrequest"),
    num("or.openresty.rps_plain")
  local conc = R["or.openresty.rps_concurrency"] or "?"
  local qs, qp = num("or.openresty.rps_ratio_subrequest"), num("or.openresty.rps_ratio_plain")
  row(("OpenResty: lookups/s on one worker over keep-alive (wrk -c%s): cosockets vs the subrequest driver (median of the rounds' ratios)"):format(conc),
    f(c, "%.0f/s"), f(s2, "%.0f/s"), f(qs, "%.2f"), ">= 1.0", qs and qs >= 1.0)
  row("the same: cosockets vs ngx.location.capture + proxy_pass + cjson.decode by hand",
    f(c, "%.0f/s"), f(p, "%.0f/s"), f(qp, "%.2f"), ">= 1.0", qp and qp >= 1.0)
  local cc, cs, cp = num("or.openresty.cpu_us_cosocket"), num("or.openresty.cpu_us_subrequest"),
    num("or.openresty.cpu_us_plain")
  row("the same: worker CPU per lookup (cosockets; subrequests, by hand)", f(cc, "%.0f us"),
    (cs and cp) and ("%.0f / %.0f us"):format(cs, cp) or "-", f(cc and cs and cc / cs, "%.2f"),
    "(information)", nil)
  local ic, is, ip = num("or.openresty.cg_cosocket"), num("or.openresty.cg_subrequest"),
    num("or.openresty.cg_plain")
  row("OpenResty: instructions per lookup in the worker (callgrind): cosockets vs the subrequest driver",
    f(ic and ic / 1000, "%.0f k"), f(is and is / 1000, "%.0f k"), f(ic and is and ic / is, "%.2f"),
    "<= 1.0", ic and is and ic <= is)
  row("the same: cosockets vs ngx.location.capture + proxy_pass + cjson.decode by hand",
    f(ic and ic / 1000, "%.0f k"), f(ip and ip / 1000, "%.0f k"), f(ic and ip and ic / ip, "%.2f"),
    "<= 1.0", ic and ip and ic <= ip)
end

-- Spend.
do
  local t, c, a = num("spend.token_requests"), num("spend.connections"), num("spend.api_requests")
  row(("spend, %s calls on one client (HTTPS): token requests"):format(R["spend.calls"] or "?"),
    int(t), "-", int(t), "1", t == 1)
  row("spend, same run: connections / API requests",
    c and (int(c) .. " / " .. int(a)), "-", int(c), "1 connection, 1 request per call",
    c == 1 and a == num("spend.calls"))
  local tt, life = num("spend.ttl_token_requests"), num("spend.ttl_lifetimes")
  local ttl = num("spend.ttl")
  -- Renewal comes a tenth of the lifetime early: one request per 0.9 lifetime.
  local allowed = life and math.ceil(life / 0.9) + 1
  row(("spend, %s s tokens for %s s (%s calls): token requests"):format(ttl or "?",
      R["spend.ttl_seconds"] or "?", R["spend.ttl_calls"] or "?"),
    int(tt), life and string.format("%.1f lifetimes", life), int(tt),
    allowed and ("<= " .. allowed .. " (one per lifetime)") or "one per lifetime",
    tt and allowed and tt <= allowed and tt >= math.floor(life))
end

-- Paging.
do
  local peak, page = num("paging.peak_over_base_kb"), num("paging.page_kb")
  local pages = num("paging.peak_pages")
  local retained = num("paging.retained_pages")
  row(("paging memory, %s units walked (%s, %s pages): Lua memory soget keeps (largest live figure after a full collection)"):format(
      R["paging.units"] or "?", R["paging.query"] or "?", R["paging.pages"] or "?"),
    num("paging.retained_kb") and string.format("%.0f KB", num("paging.retained_kb")),
    page and string.format("1 page = %.0f KB", page),
    retained and string.format("%.1f pages", retained), "about 2 pages", retained and retained <= 2.5)
  row("same walk: peak Lua memory over the start (the collector's default pause, 200 %)",
    peak and string.format("%.0f KB", peak), page and string.format("1 page = %.0f KB", page),
    pages and string.format("%.1f pages", pages), "(information)", nil)
  local early, base = num("paging.peak_first_1000_kb"), num("paging.base_kb") or 0
  row("same walk: peak over the first 1,000 units",
    early and string.format("%.0f KB", early - base), "-",
    early and page and string.format("%.1f pages", (early - base) / page), "(information)", nil)
  local p100 = num("paging.peak_pause100_pages")
  row("a tenth of the walk with the collector's pause at 100 (default 200): peak over the start",
    "-", "-", p100 and string.format("%.1f pages", p100), "(information)", nil)
  if R["paging.live_kb_by_units"] then
    row("paging memory, live KB after a full collection, by units walked",
      tostring(R["paging.live_kb_by_units"]), "-", "-", "(information)", nil)
  end
end

-- Print.
local head = { "measure", "soget", "baseline", "figure", "target", "" }
local widths = {}
for i = 1, #head do widths[i] = #head[i] end
for _, r in ipairs(rows) do
  for i = 1, #r do widths[i] = math.max(widths[i], #tostring(r[i])) end
end
local function line(r)
  local out = {}
  for i = 1, #r do out[i] = tostring(r[i]) .. string.rep(" ", widths[i] - #tostring(r[i])) end
  return table.concat(out, "  ")
end
-- The machine the figures were taken on (bench/run's "machine" step).
local machine = {}
for _, k in ipairs { "cpu", "cpus", "simd", "simdjson", "libcurl", "lua", "load" } do
  local v = R["machine." .. k]
  if v then machine[#machine + 1] = ("%s: %s"):format(k, tostring(v)) end
end
for _, m in ipairs(machine) do print("machine, " .. m) end
print(line(head))
for _, r in ipairs(rows) do print(line(r)) end
local missed = 0
for _, r in ipairs(rows) do if r[6] == "NOT met" then missed = missed + 1 end end
print(("%d figures, %d targets not met"):format(#rows, missed))

local md = io.open(arg[2], "w")
if #machine > 0 then md:write("Machine: ", table.concat(machine, "; "), ".\n\n") end
md:write("| measure | soget | baseline | figure | target | |\n|---|---|---|---|---|---|\n")
for _, r in ipairs(rows) do
  md:write("| ", table.concat(r, " | "), " |\n")
end
md:close()
