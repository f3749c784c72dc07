-- Walking the units of a search across its pages (find, track --prefix,
-- search, bulk --documents).
local output = require "soget.cli.output"
local exit = require "soget.cli.exit"
local sys = require "soget.cli.sys"
local view = require "soget.cli.view"
local soget = require "soget"

local M = {}

-- The most memory (bytes, as Lua counts it) a document's units may take
-- while bulk --documents holds them to its last page.
M.HELD_MAX = 256 * 1048576

-- How a walk remembers a unit it listed: its S)ONE id (13 characters in
-- the API) as it is, a server's longer one by its digest, so that what a
-- walk keeps per unit stays small whatever the server sends.
local ID_KEPT = 64
function M.id_key(id)
  id = tostring(id)
  if #id <= ID_KEPT then return "s" .. id end
  return "d" .. soget._privfile.digest(id)
end

-- The pager's why at the total or an empty page of a listing whose numbers
-- changed or contradict each other: units may have moved past the walk.
local EMPTY_BELOW = "an empty page below the total announced"
local DOUBT = {
  [EMPTY_BELOW] = true,
  ["the listing's total changed while it was read"] = true,
  ["a page holds more units than its total"] = true,
}

local function plural(n, word)
  return n .. " " .. word .. (n == 1 and "" or "s")
end

-- Walks the units of a search from its first page, calling each(hu) for
-- each unit not listed before, at most max of them (nil: no limit).
-- The module's pager decides the offsets (never past the smallest total
-- seen, stopping when first or returned do not add up); it is driven by
-- hand so that the walk also stops at a page that holds fewer units than
-- asked for before its total (a server that would otherwise be followed
-- one request per unit), or that brings no unit not already listed (pages
-- that come round again). q is the query that brought page (its limit is
-- the page size asked for); the client's method of that name (default
-- "handling_units"; "handling_units_search" for a search) fetches the
-- others. A walk read to the end that listed fewer different units than
-- the total stopped early too (units were sent again in place of others).
-- Returns the number of units, why the walk stopped early (nil when it did
-- not), and the error of a failed fetch.
function M.walk(client, page, q, max, each, method)
  method = method or "handling_units"
  local n, listed, stopped = 0, {}, nil
  local it = page:iter { manual = true }
  local current, fresh = page, 0
  while not (max and n >= max) do
    local hu, what, offset = it:next()
    if hu then
      -- Only a S)ONE id names a unit: a container's passages share its
      -- reference, and a unit without an id (null or empty, which the
      -- document allows) is listed as often as the pages hold it, as the
      -- module's pager yields it.
      local key = hu.pswId and hu.pswId ~= "" and M.id_key(hu.pswId) or nil
      if not key or not listed[key] then
        if key then listed[key] = true end
        fresh, n = fresh + 1, n + 1
        -- false: nothing more wanted (the output failed)
        if each(hu) == false then break end
      end
    elseif what == "fetch" then
      local got, first, total = #(current.items or {}), current.first or 0, current.total or 0
      if fresh == 0 then
        stopped = string.format("the server's page at offset %d brings no unit not already listed",
          first)
      elseif got < q.limit and first + got < total then
        stopped = string.format("the server's page at offset %d holds %s of the %d asked "
          .. "for, before the total of %d it announces", first, plural(got, "unit"),
          q.limit, total)
      end
      if stopped then break end
      local nq = {}
      for k, v in pairs(q) do nq[k] = v end
      nq.offset = offset
      local p, err = client[method](client, nq)
      if not p then
        it:close()
        return n, nil, err
      end
      it:feed(p, offset)
      current, fresh = p, 0
    else
      local why = it:stats().why
      local first, total = current.first or 0, current.total or 0
      if why == "no new units" then   -- the pager's own rule, the same as above
        stopped = string.format("the server's page at offset %d brings no unit not already listed",
          first)
      elseif (why == "empty page" or why == EMPTY_BELOW) and first < total then
        -- the rule above, for no unit at all
        stopped = string.format("the server's page at offset %d holds no unit of the %d asked "
          .. "for, before the total of %d it announces", first, q.limit, total)
      elseif why and (why:find("^inconsistent") or why == "no progress") then
        stopped = "the server's pages are inconsistent (" .. why:gsub("^inconsistent page: ", "") .. ")"
      elseif n < total and not (max and n >= max) then
        -- read to the end, yet fewer different units than the total: the
        -- pages sent some units again in place of others (a listing that
        -- shifted, a server repeating a unit), which were never listed
        stopped = string.format("the server's pages hold %s where the total they announce "
          .. "is %d (units sent again in place of others)", plural(n, "different unit"), total)
      elseif DOUBT[why] then
        stopped = "the server's listing does not add up (" .. why .. "): units may have been missed"
      end
      break
    end
  end
  it:close()
  return n, stopped
end

-- Says why a walk stopped early; the exit code of an incomplete answer.
function M.report_stop(n, why)
  output.say("stopped after " .. plural(n, "unit") .. ": ", why)
  return exit.API
end

-- Lists the units of the walk that starts at page as `find` shows them:
-- one line each (a header above them on a terminal), or one JSON object a
-- line with --json; `each(hu)`, when given, sees every unit too. Returns
-- the number of units, or nil and the exit code of a failed or stopped
-- walk (its reason said).
function M.list(args, client, page, q, method, each)
  local out = output.out
  if sys.isatty(1) and not args.json and (page.total or 0) > 0 then
    out:write(view.find_header(), "\n")
  end
  local n, stopped, werr = M.walk(client, page, q, args.limit, function(hu)
    if each then each(hu) end
    if args.json then out:write(output.json(hu, "unit"), "\n")
    else out:write(view.find_line(output.printable_tree(hu)), "\n") end
    out:flush()
    -- the results cannot be written (a full disk, a closed pipe): fetching
    -- more pages is of no use; the caller reports it (exit 74)
    if out.failed then return false end
  end, method)
  if werr then
    output.say(exit.message(werr))
    return nil, exit.code_for(werr)
  end
  if stopped then return nil, M.report_stop(n, stopped) end
  -- (no summary of units not written: the caller's exit reports it)
  if out.failed then return nil, exit.OUTPUT end
  return n
end

return M
