-- The query a command sends, from its arguments, checked by the module's
-- own rule before anything is sent: soget.check_query for a lookup; for a
-- search, client:handling_units_search itself, which raises on a query it
-- does not take before it sends anything.
local soget = require "soget"
local exit = require "soget.cli.exit"
local sys = require "soget.cli.sys"

local M = {}

-- q when the module takes it, else nil and why (its message without the
-- "handling_units: " it starts with).
function M.check(q)
  local ok, why = soget.check_query(q)
  if ok then return q end
  return nil, (why:gsub("^handling_units: ", ""))
end

-- The query for a reference (or --spi ID) argument: what names the
-- argument in messages ("a reference", "a prefix"); the fields of extra
-- (limit, desc) are added. A usage error when it is missing, given twice,
-- empty, or refused by the module.
function M.from_args(args, what, extra)
  local ref, spi = args.reference, args.spi
  if ref and spi then exit.fail(exit.USAGE, "give " .. what .. " or --spi, not both") end
  if not ref and not spi then
    -- (--spi's argument as --help names it: a prefix for find)
    exit.fail(exit.USAGE, "give " .. what .. " or --spi " .. (what == "a prefix" and "PREFIX" or "ID"))
  end
  local q = {}
  if spi then q.spi = sys.trim(spi) else q.reference = sys.trim(ref) end
  if (q.spi or q.reference) == "" then
    exit.fail(exit.USAGE, "empty " .. (spi and "S)ONE id" or (what:gsub("^an? ", ""))))
  end
  for k, v in pairs(extra or {}) do q[k] = v end
  local ok, why = M.check(q)
  if not ok then exit.fail(exit.USAGE, why) end
  return q
end

-- The query as words: the reference, or "S)ONE id ...".
function M.text(q)
  if q.spi then return "S)ONE id " .. q.spi end
  return q.reference
end

---------------------------------------------------------------------------
-- Searches (soget search, bulk --documents): the API's own parameter names

-- option (args field, as argparse names it) -> query key, in the order
-- they are told; the first three identify what is searched.
M.SEARCH_OPTIONS = {
  { "document", "documentReference", "--document", "document" },
  { "voyage_ref", "voyageAgentReference", "--voyage-ref", "voyage agent reference" },
  { "voyage_id", "voyageAgentId", "--voyage-id", "voyage agent id" },
  { "customs", "customsFlag", "--customs", "customs" },
  { "agent", "freightAgent", "--agent", "freight agent" },
}

-- Whether e, raised by the module, is its refusal of the arguments (a
-- message), rather than Ctrl-C or an error to pass on.
local function refusal(e)
  return type(e) == "string" and not exit.is_interrupt(e)
end

-- The module's refusal as a message: without the position and the
-- function name it may start with.
function M.refusal_message(e)
  return (tostring(e):gsub("^[^\n:]*:%d+: ", ""):gsub("^soget: ", "")
    :gsub("^handling_units_search: ", ""):gsub("^handling_units_many: ", "")
    :gsub("^begin: ", ""))
end

-- The search query of the options of `soget search` (trimmed; a customs
-- flag written in any case, "import", becomes the API's "Import"); the
-- fields of extra (limit, desc) are added. A usage error when none of
-- --document, --voyage-ref and --voyage-id is given, one is empty, or the
-- module refuses the query (soget.check_query: before the client is made,
-- so that a bad argument is a usage error with no credentials set too).
-- What check_query cannot tell (the client's search URL) is the module's
-- to refuse when the query is sent (M.search).
function M.search_from_args(args, extra)
  local q, identified = {}, false
  for i, o in ipairs(M.SEARCH_OPTIONS) do
    local v = args[o[1]]
    if v ~= nil then
      v = sys.trim(v)
      if v == "" then exit.fail(exit.USAGE, "empty " .. o[3]) end
      if o[2] == "customsFlag" and not v:find("[%c\128-\255]") then
        v = v:sub(1, 1):upper() .. v:sub(2):lower()
      end
      q[o[2]] = v
      if i <= 3 then identified = true end
    end
  end
  if not identified then
    exit.fail(exit.USAGE, "give --document, --voyage-ref or --voyage-id")
  end
  for k, v in pairs(extra or {}) do q[k] = v end
  local ok, why = soget.check_query({ search = q })
  if not ok then exit.fail(exit.USAGE, M.option_message(M.refusal_message(why))) end
  return q
end

-- The module's refusal of a search, in the command's words: the API's
-- parameter it names ('documentReference', customsFlag) as the option it
-- came from (--document, --customs).
function M.option_message(why)
  for _, o in ipairs(M.SEARCH_OPTIONS) do
    local a, b = why:find("'" .. o[2] .. "'", 1, true)
    if not a and why:sub(1, #o[2]) == o[2] then a, b = 1, #o[2] end
    if a then return why:sub(1, a - 1) .. o[3] .. why:sub(b + 1) end
  end
  return why
end

-- Sends the first search of q: the page, or nil and the error, as
-- client:handling_units_search returns them; a usage error when the
-- module refuses q (then nothing was sent).
-- A refusal of the module's raised as the command's exit: a configuration
-- error when the client has no search URL (the base URL or the settings
-- are to blame, not the arguments), a usage error otherwise.
local function refused(e)
  local why = M.refusal_message(e)
  local config = why:find("^no search_base_url")
    or why:find("^SOGET_SEARCH_BASE_URL %(from the environment%) is not on base_url's host")
  exit.fail(config and exit.CONFIG or exit.USAGE, why)
end

-- Raises the command's configuration error when the client cannot search
-- (no search URL), sending nothing: for commands that would write output
-- before their first search (bulk --documents).
function M.check_search(client)
  local ok, call = pcall(client.begin, client, { search = { documentReference = "X" } })
  if ok then call:close() return end
  if refusal(call) then refused(call) end
  error(call, 0)
end

function M.search(client, q)
  local ok, page, err = pcall(client.handling_units_search, client, q)
  if ok then return page, err end
  if refusal(page) then refused(page) end
  error(page, 0)
end

-- client:handling_units_many over searches ({ search = q } entries), some
-- of which the module may refuse: soget.check_query (the module's own
-- check, answering instead of raising) sorts them first, so the batch gets
-- only those it takes and a refused one is never sent. Returns the results
-- (a page or an error per entry, in order) and, at the index of each
-- refused entry, why.
function M.many(client, entries, opts)
  local good, at, bad, out = {}, {}, {}, {}
  for i, e in ipairs(entries) do
    local ok, why = soget.check_query(e)
    if ok then
      good[#good + 1], at[#good + 1] = e, i
    else
      bad[i] = M.refusal_message(why)
    end
  end
  if #good > 0 then
    -- (what check_query cannot tell: the client's search URL)
    local ok, results = pcall(client.handling_units_many, client, good, opts)
    if not ok then
      if refusal(results) then refused((tostring(results):gsub("query %d+: ", "", 1))) end
      error(results, 0)
    end
    for j, r in ipairs(results) do out[at[j]] = r end
  end
  return out, bad
end

-- A search query as words: "document X, customs Import".
function M.search_text(q)
  local parts = {}
  for _, o in ipairs(M.SEARCH_OPTIONS) do
    if q[o[2]] ~= nil then parts[#parts + 1] = o[4] .. " " .. tostring(q[o[2]]) end
  end
  return table.concat(parts, ", ")
end

return M
