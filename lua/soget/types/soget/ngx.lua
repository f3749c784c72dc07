---@meta soget.ngx
-- soget.ngx for lua-language-server: the OpenResty driver (README,
-- "OpenResty"). Its calls take a soget.Client and answer as the client's
-- own methods do, without blocking the nginx worker.

---Options of soget.ngx.configure and of each call; false puts a key back to its built-in default.
---@class (exact) soget.ngx.Options
---@field token_cache? soget.ngx.TokenCache|false The token shared by every worker (from soget.ngx.token_cache()); false: none.
---@field max_response_size? integer|false Largest response body, in bytes, 1024 to 1073741824 as the client's (default: the client's).
---@field keepalive_timeout? number|false Seconds a connection idles in its pool (default 60).
---@field pool_size? integer|false Idle connections kept per pool (default 32).

---Options of soget.ngx.iter.
---@class (exact) soget.ngx.IterOptions: soget.ngx.Options
---@field max_items? integer|false Stop after this many units.
---@field max_pages? integer|false Stop after this many pages.

---Options of soget.ngx.token_cache.
---@class (exact) soget.ngx.TokenCacheOptions
---@field key? string One per set of credentials (default "soget").
---@field lock_wait? number Seconds a call waits for another one's renewal before one of the waiting calls renews too (default 5); the others wait on, until their call's timeout.
---@field lock_ttl? number Seconds a renewal may hold the lock (default 15).

---A token shared by the workers through a lua_shared_dict.
---@class soget.ngx.TokenCache
local TokenCache = {}

---Forgets the shared token: the next call fetches one.
function TokenCache:flush() end

---This worker's figures (soget.ngx.stats()).
---@class soget.ngx.Stats
---@field connections integer Connections opened.
---@field reused integer Kept-alive connections taken from a pool.
---@field handshakes integer TLS handshakes made.
---@field requests integer Requests sent.
---@field sessions integer TLS sessions kept for resumption (of the last 64 pools).
---@field pools integer Pools it keeps a count of idle connections for.

local sng = {}

---"soget.ngx X.Y.Z".
---@type string
sng._VERSION = nil

---Merges opts into the defaults of every later call in this worker (in init_worker_by_lua): a key left out keeps its value, false puts it back to its built-in default.
---@param opts? soget.ngx.Options
---@return soget.ngx.Options defaults The defaults now in force (a copy).
function sng.configure(opts) end

---A token cache on the lua_shared_dict named dict_name: one token request serves every worker.
---@param dict_name string
---@param opts? soget.ngx.TokenCacheOptions
---@return soget.ngx.TokenCache
function sng.token_cache(dict_name, opts) end

---@return soget.ngx.Stats
function sng.stats() end

---client:handling_units, over nginx's cosockets.
---@param client soget.Client
---@param query soget.Query|string
---@param opts? soget.ngx.Options
---@return soget.Page? page
---@return soget.Error? err
function sng.handling_units(client, query, opts) end

---client:handling_units_search, over nginx's cosockets.
---@param client soget.Client
---@param query soget.SearchQuery|string
---@param opts? soget.ngx.Options
---@return soget.Page? page
---@return soget.Error? err
function sng.handling_units_search(client, query, opts) end

---page:iter(), fetching the next pages over nginx's cosockets; raises the soget.Error of a failed fetch.
---@param client soget.Client
---@param page soget.Page
---@param opts? soget.ngx.IterOptions
---@return fun(): soget.HandlingUnit? iterator
---@return soget.Pager pager
function sng.iter(client, page, opts) end

return sng
