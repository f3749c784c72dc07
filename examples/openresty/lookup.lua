-- The handler of examples/openresty/nginx.conf: lookups that never block
-- the nginx worker. Copy it next to your nginx.conf (on lua_package_path).
--
--   GET /units/{reference}  -> the units of that reference exactly (an exact
--                              lookup: every page, in one call), as
--                              {"total":…, "items":[…]} (404 when there is none)
--   GET /prefix/{prefix}    -> every unit whose reference starts with it,
--                              fetched page by page:
--                              {"total":…, "items":[…], "count":…}
--
-- JSON is written by soget.encode: empty arrays stay [] (lua-cjson writes
-- an empty table as {} where it has no array marker, as Debian's 2.1.0).
-- The path's reference comes as nginx decoded it, once (ngx.var[1] of the
-- regex location): decoding it again would read %2541 as A, and + as a
-- space.
local soget = require "soget"
local sng = require "soget.ngx"

local M = {}

local client   -- one per worker, made on first use

-- Runs in every worker: the driver's settings. The token is shared by the
-- workers through the lua_shared_dict of nginx.conf.
function M.init_worker()
  sng.configure{ token_cache = sng.token_cache("soget_tokens") }
end

local function get_client()
  if not client then
    -- Credentials and URLs from the environment (the env lines of nginx.conf).
    -- The client's libcurl transport stays unused: soget.ngx does the I/O,
    -- and its timeout bounds each whole call (token, retries and waits).
    client = soget.client{ timeout = 15 }
  end
  return client
end

-- schema: soget.encode's, "page" for pages ("value" for other objects,
-- whose keys are then sorted)
local function reply(status, value, schema)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(soget.encode(value, schema or "value"))
  return ngx.exit(ngx.HTTP_OK)
end

local function failure(err)
  -- err.message never holds a secret; 502 for the upstream's failures
  local status = err.kind == "api" and 400 or 502
  return reply(status, { error = err.kind, message = err.message, code = err.code })
end

-- A query from the request's path, checked as the module checks it (its
-- length, control characters, UTF-8): a bad one is the caller's 400, not
-- an error raised in the handler (a 500).
local function refused(query)
  local ok, why = soget.check_query(query)
  if not ok then return reply(400, { error = "bad query", message = why }) end
end

function M.unit(reference)
  local query = { reference = reference, exact = true }
  if refused(query) then return end
  local page, err = sng.handling_units(get_client(), query)
  if not page then return failure(err) end
  if page.total == 0 then return reply(404, { error = "not found", reference = query.reference }) end
  return reply(200, { total = page.total, items = page.items }, "page")
end

function M.prefix(prefix)
  local query = { reference = prefix, limit = 10 }
  if refused(query) then return end
  local c = get_client()
  local page, err = sng.handling_units(c, query)
  if not page then return failure(err) end
  local items = {}
  -- Further pages are fetched as the loop needs them; a failed page raises.
  local ok, e = pcall(function()
    for hu in sng.iter(c, page, { max_items = 5000 }) do items[#items + 1] = hu end
  end)
  if not ok then
    if type(e) == "table" and e.kind then return failure(e) end
    error(e, 0)
  end
  return reply(200, { total = page.total, count = #items, items = items }, "page")
end

return M
