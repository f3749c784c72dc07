---@meta soget
-- soget for lua-language-server: the module's functions and facts, the
-- client and its options, pages and pagers, errors, the Call object and the
-- HTTP/1.1 parser of drivers written in Lua. The models (HandlingUnit and
-- everything under it, the page's fields, the queries) are in
-- soget/models.lua, generated from the OpenAPI documents. To use them, add
-- this directory to the server's `workspace.library` (README, "Editors").
-- spec/types_spec.lua holds these names against the built module.

---One of the failures soget reports (README, "Errors").
---@alias soget.ErrorKind "network"|"timeout"|"tls"|"auth"|"http"|"api"|"decode"|"interrupted"

---What any query entry point takes: a lookup (or a reference string), or a search written `{ search = query }`.
---@alias soget.AnyQuery soget.Query|soget.Search|string

---A search beside lookups (client:handling_units_many, client:begin, soget.check_query): the search's query under its one key.
---@class (exact) soget.Search
---@field search soget.SearchQuery|string The in-mass search's query, or a document reference.

---The options of soget.client. Every option is checked at once; one left out falls back to its environment variable (see soget.options), then to its default.
---@class (exact) soget.ClientOptions
---@field client_id? string OAuth2 client id (SOGET_CLIENT_ID): a token is fetched on first need, cached and renewed.
---@field client_secret? string OAuth2 client secret (SOGET_CLIENT_SECRET). Never shown in an error or tostring.
---@field access_token? string A bearer token used as it is (SOGET_ACCESS_TOKEN), static unless client credentials are given too.
---@field api_key? string The subscription key, sent as Ocp-Apim-Subscription-Key (SOGET_API_KEY). Required, unless search_api_key is given (then lookups raise).
---@field base_url? string The API (SOGET_BASE_URL): an absolute http(s) URL with a host.
---@field token_url? string The token endpoint (SOGET_TOKEN_URL; default: beside base_url).
---@field search_base_url? string Base URL of handling_units_search (SOGET_SEARCH_BASE_URL). Left out: the in-mass API beside a base_url ending in /api-tracing-code/v1 (the integration platform's when base_url is left out too); for another base_url none, and a search raises.
---@field search_api_key? string Ocp-Apim-Subscription-Key of searches (SOGET_SEARCH_API_KEY); default: api_key.
---@field ca_file? string CA bundle (PEM) to verify the server with (SOGET_CA_FILE); default: the system's store.
---@field verify_tls? boolean Verify the server's certificate and host name (default true).
---@field timeout? number Seconds for a whole call: token, request, retries and their waits (default 10).
---@field connect_timeout? number Seconds to establish a connection (default 5).
---@field retries? integer Retries of a GET on 408, 429, 502, 503, 504 and connection failures, 0 to 10 (default 2).
---@field user_agent? string The User-Agent header (default soget/X.Y.Z libcurl/X.Y.Z).
---@field max_response_size? integer Largest response body accepted, in bytes, 1024 to 1073741824 (default 8388608).
---@field gzip? boolean Ask for compressed responses (default true).
---@field proxy? string The proxy of every request: an http:// URL (https URLs go through it with CONNECT), or "" for none; in place of the proxy environment variables. Never shown: it may hold a password.
---@field no_proxy? string Hosts that go direct, as no_proxy lists them ("" for none); in place of no_proxy and NO_PROXY.

---soget.limits: the module's limits, for programs built on it.
---@class soget.Limits
---@field reference integer Longest `reference` of a lookup, in characters (17).
---@field spi integer Longest `spi` of a lookup, in characters (13).
---@field search_value integer Longest value of a search's text parameter, in bytes (512).
---@field limit integer Largest page size (10).
---@field offset integer Largest offset (2147483647).
---@field concurrency integer Most lookups handling_units_many runs at once (64).
---@field header_value integer Longest token or API key, in bytes (65536).
---@field token_margin integer Most seconds before its expiry a token is renewed (30).
---@field url integer Longest base_url, search_base_url, token_url or proxy, in bytes (2048).

---One entry of soget.options: an option of soget.client.
---@class soget.OptionInfo
---@field name string The option's name.
---@field type "string"|"number"|"boolean" Its Lua type.
---@field env? string The environment variable it falls back to.
---@field secret boolean True for the credentials.
---@field min? number Numbers: the smallest value accepted.
---@field max? number Numbers: the largest value accepted.
---@field whole? boolean Numbers: whole numbers only.

---What client:stats() counts.
---@class soget.ClientStats
---@field api_requests integer Requests sent to the API.
---@field token_requests integer Requests sent to the token endpoint.
---@field retries integer Retries made.
---@field connections integer Connections opened.

---Options of page:iter.
---@class (exact) soget.IterOptions
---@field max_items? integer Stop after this many units (at least 1).
---@field max_pages? integer Stop after this many pages (at least 1).
---@field manual? boolean Never fetch: it:next() answers nil, "fetch", offset, query when it needs a page, and the driver hands it over with it:feed(page, offset).

---Options of client:handling_units_many.
---@class (exact) soget.ManyOptions
---@field concurrency? integer Lookups in flight at once, 1 to 64 (default 8).
---@field exact? boolean Every lookup that does not say is exact (see soget.Query's exact).
---@field on_result? fun(i: integer, result: soget.Page|soget.Error) Called with each answer as it comes (in the order answers come); results then stays empty. An error it raises ends the batch and is raised; the client cannot be used from it.

---What client:handling_units_many counts.
---@class soget.ManyCounts
---@field ok integer Entries that are pages.
---@field failed integer Entries that are soget.Error.

---Options of soget.decode (another key raises).
---@class (exact) soget.DecodeOptions
---@field parser? "auto"|"yajl"|"simdjson" The parser (default "auto": simdjson, and libyajl for what simdjson refuses).

---A runtime failure, returned as `nil, err` (raised by iterators). `tostring(err)` reads `soget: kind: message (HTTP status, code)` and never holds a secret; two errors are equal when kind, status and code are.
---@class soget.Error
---@field kind soget.ErrorKind What failed.
---@field status? integer The HTTP status, when there was a response.
---@field code? string The API's business code (R002, R003), when it gave one.
---@field message string What happened, never containing a secret; a server's text in it is made printable.
---@field retryable boolean True when the same call may succeed later.
---@field retry_after? integer The server's Retry-After (seconds, a day at most) on the retryable status that ended the call.

---A page: `{ total, returned, first, items }`, a plain table whose metatable adds page:iter(). A search that matched nothing is an empty page.
---@class soget.Page: soget.HandlingUnitItemsResponseModel
local Page = {}

---Yields the page's units, then fetches the next pages only when needed, with the same filters and page size; never yields a unit (same pswId) met on the current or the previous page again (one sent again further on is). Raises the soget.Error of a failed fetch. Returned as `pager, nil, nil, pager`, so a `break` in a Lua 5.4 `for` closes it.
---@param opts? soget.IterOptions
---@return soget.Pager pager
---@return nil
---@return nil
---@return soget.Pager closing
function Page:iter(opts) end

---What pager:stats() tells.
---@class soget.PagerStats
---@field pages integer Pages taken.
---@field yielded integer Units yielded.
---@field done boolean The walk is over.
---@field why? string What ended it: "total reached", "empty page", "no new units", "max_pages reached", "no progress", "inconsistent page: ..." or "no client" (a page from soget.decode, short of its total); at the total or an empty page of a listing whose numbers changed or contradicted each other, "the listing's total changed while it was read", "a page holds more units than its total" or "an empty page below the total announced" (nil while it goes on, or when max_items or close() ended it).

---A lazy iterator over a page and the pages after it (page:iter()). Calling it is it:next().
---@class soget.Pager
---@overload fun(): soget.HandlingUnit?
local Pager = {}

---The next unit, or nil at the end; raises the soget.Error of a failed page fetch. A manual pager that needs a page answers `nil, "fetch", offset, query` instead.
---@return soget.HandlingUnit? unit
---@return "fetch"? what
---@return integer? offset
---@return table? query
function Pager:next() end

---A manual pager's next page, fetched by the driver for the offset next() asked for.
---@param page soget.Page
---@param offset integer
function Pager:feed(page, offset) end

---Ends the walk and lets go of the client and pages (also __gc and __close).
function Pager:close() end

---@return soget.PagerStats
function Pager:stats() end

---A client: one libcurl connection, reused, and its token. `tostring(client)` is "soget.Client (0x...)" or "soget.Client (closed)", never a secret.
---@class soget.Client
local Client = {}

---GET /handling-units. A string is a reference. Bad input raises before any request; nothing found is an empty page.
---@param query soget.Query|string
---@return soget.Page? page
---@return soget.Error? err
function Client:handling_units(query) end

---GET /handling-units/search of the in-mass API. A string is a document reference.
---@param query soget.SearchQuery|string
---@return soget.Page? page
---@return soget.Error? err
function Client:handling_units_search(query) end

---Many lookups (and searches, as `{ search = query }`) at once over libcurl's multi interface. results[i] answers queries[i]: a page, or a soget.Error (tell them apart with `r.kind`); with options.on_result, each answer goes to it instead and results is empty. A bad query raises, naming its index.
---@param queries soget.AnyQuery[]
---@param options? soget.ManyOptions
---@return (soget.Page|soget.Error)[] results
---@return soget.ManyCounts counts
function Client:handling_units_many(queries, options) end

---@return soget.ClientStats
function Client:stats() end

---The current bearer token, its seconds left before renewal and before expiry (-1 and -1 for a static token), fetched first when needed; or nil and the soget.Error.
---With `{fetch = false}`, never any I/O: the token the client holds and its seconds left before renewal (0: due; -1 for a static token) and before expiry, or nil when it holds none.
---@param opts? {fetch: boolean?}
---@return string? token
---@return number|soget.Error|nil seconds_left
---@return number? expires_in
function Client:token(opts) end

---Use a token obtained elsewhere (renewed as usual when it expires or is refused, given credentials); seconds_left up to 1e9 (0 or less: due now); expires_in (from seconds_left up): when it expires, which calls go on to when a renewal fails.
---@param token string
---@param seconds_left number
---@param expires_in? number
function Client:set_token(token, seconds_left, expires_in) end

---The steps of one call, with no I/O: for drivers written in Lua (README, "Drivers and the Call object").
---@param query soget.AnyQuery
---@param offset? integer Replaces the query's own offset.
---@return soget.Call
function Client:begin(query, offset) end

---Frees the connection and wipes the secrets (also __gc and __close); idempotent.
function Client:close() end

---A request of a call (call:request()).
---@class soget.Request
---@field kind "token"|"api" The token request, or the API's.
---@field method "GET"|"POST"
---@field url string
---@field headers table<string, string> Header names to values, credentials included: wipe them after sending.
---@field body? string The token request's body.
---@field timeout number Seconds left of the call's timeout.
---@field connect_timeout number Seconds to establish a connection.
---@field max_response_size integer The client's largest response body.
---@field verify_tls boolean The client's verify_tls: verify the server's certificate and host name.
---@field ca_file? string The client's ca_file, when it has one: the CAs to trust.

---A request of a call as HTTP/1.1 bytes (call:request_bytes()), for drivers that move the bytes themselves.
---@class soget.RequestBytes
---@field kind "token"|"api"
---@field method "GET"|"POST"
---@field url string
---@field timeout number Seconds left of the call's timeout.
---@field connect_timeout number
---@field bytes string The whole request: request line, Host, headers (credentials included), body.
---@field scheme string "http" or "https".
---@field host string Where to connect.
---@field port integer
---@field tls boolean Whether to make a TLS handshake.
---@field server_name string The name for SNI and the certificate check.
---@field max_response_size integer The client's largest response body.
---@field verify_tls boolean The client's verify_tls.
---@field ca_file? string The client's ca_file, when it has one.

---The steps of one call (client:begin()): request() or request_bytes(), then one response() or failed(), until a page or an error. A step out of turn raises.
---@class soget.Call
local Call = {}

---The next request, or nil and the soget.Error (the call's timeout passed), or nil, nil and the seconds to wait (another call of the client is fetching the token).
---@return soget.Request? req
---@return soget.Error? err
---@return number? wait
function Call:request() end

---request(), answered as the bytes the core wrote and where they go.
---@param user_agent? string The User-Agent when the client has none.
---@return soget.RequestBytes? req
---@return soget.Error? err
---@return number? wait
function Call:request_bytes(user_agent) end

---The answer to the request out: the page, or the soget.Error, or nil, nil and the seconds to wait before request() (0: at once).
---@param status integer The HTTP status (a whole number from 100 to 999).
---@param body? string
---@param retry_after? string The Retry-After header.
---@param location? string The Location header.
---@param www_authenticate? string The WWW-Authenticate header (several joined with ", "): tells a 401 the token causes.
---@return soget.Page? page
---@return soget.Error? err
---@return number? wait
function Call:response(status, body, retry_after, location, www_authenticate) end

---The request out got no answer: nil and the soget.Error, or nil, nil and the seconds to wait before request().
---@param message string
---@param kind? "network"|"timeout"|"tls"|"http" Default "network".
---@param retryable? boolean Default true.
---@param status? integer The status of an answer a size limit stopped (100 to 999), for the error's status.
---@return nil
---@return soget.Error? err
---@return number? wait
function Call:failed(message, kind, retryable, status) end

---Ends the call early and wipes its credentials (also __gc and __close).
function Call:close() end

---Seconds before the call's deadline (its client's timeout, counted from begin); 0 once it passed or the call is over. For a driver's own waits.
---@return number
function Call:time_left() end

---The state of a soget.HttpParser.
---@alias soget.HttpState "more"|"done"|"bad"

---The core's HTTP/1.1 response parser (soget.http_parser()), fed the bytes as they arrive.
---@class soget.HttpParser
local HttpParser = {}

---@param bytes string
---@return soget.HttpState
function HttpParser:feed(bytes) end

---The connection closed.
---@return soget.HttpState
function HttpParser:eof() end

---@return soget.HttpState
function HttpParser:state() end

---After "done": what call:response() takes, and whether the connection may be kept.
---@return integer status
---@return string body
---@return string? retry_after
---@return string? location
---@return boolean keep_alive
---@return string? www_authenticate Every WWW-Authenticate, joined with ", " (nil when absent or over 8 KB).
function HttpParser:response() end

---After "bad": what call:failed() takes.
---@return string message
---@return string kind
---@return boolean retryable
---@return integer? status Of an answer a size limit stopped (kind "http").
function HttpParser:error() end

---@return number bytes Bytes fed so far.
function HttpParser:received() end

---@return number bytes The body's bytes so far, once undone (a compressed body grows as it is fed).
function HttpParser:decoded() end

---Frees the parser (also __gc and __close).
function HttpParser:close() end

local soget = {}

---The module's name, "soget".
---@type string
soget._NAME = nil

---"soget X.Y.Z".
---@type string
soget._VERSION = nil

---The module's limits.
---@type soget.Limits
soget.limits = nil

---soget.client's options in the order of the README's table.
---@type soget.OptionInfo[]
soget.options = nil

---The schema's array fields (events, items, meansId...) as a set: a decoded page always holds them as tables.
---@type table<string, true>
soget.array_fields = nil

---The version of the libcurl the module runs with ("7.88.1").
---@type string
soget.libcurl_version = nil

---The metatable decoded arrays carry when lua-cjson's array_mt is not there: {__jsontype = "array"}, which dkjson honours.
---@type table
soget.array_mt = nil

---Makes a client. Every option is checked at once (an unknown key, a wrong type, a value that cannot be sent raises); options left out fall back to environment variables.
---@param options? soget.ClientOptions
---@return soget.Client
function soget.client(options) end

---client:handling_units on a default client made on first use from the environment.
---@param query soget.Query|string
---@return soget.Page? page
---@return soget.Error? err
function soget.handling_units(query) end

---client:handling_units_search on the default client.
---@param query soget.SearchQuery|string
---@return soget.Page? page
---@return soget.Error? err
function soget.handling_units_search(query) end

---One response body to a page, with no I/O: the decoding handling_units does.
---@param body string
---@param opts? soget.DecodeOptions
---@return soget.Page? page
---@return soget.Error? err
function soget.decode(body, opts) end

---`s` with everything that could act on a terminal made visible (control characters, bidi controls, zero-width and other invisible characters, invalid UTF-8); LF and tab kept with keep_lines (CR still escaped).
---@param s string
---@param keep_lines? boolean
---@return string
function soget.printable(s, keep_lines) end

---ISO 6346 check of a container number: true, or false and the reason.
---@param s string
---@return boolean ok
---@return string? reason
function soget.check_container_number(s) end

---The check client:handling_units makes before sending anything, answering instead of raising.
---@param query soget.AnyQuery
---@return true? ok
---@return string? message
function soget.check_query(query) end

---JSON text, the same bytes on every run: a page's or a unit's fields in the document's order (others sorted), the schema's array fields always [], text escaped so that it cannot act on a terminal.
---@param value any A page, a unit, an event, or any value JSON holds.
---@param schema? "page"|"unit"|"event"|"value" Default: a page when value.items is a table, else a unit.
---@return string
function soget.encode(value, schema) end

---A new list of unit.events in time order, oldest first (dates compared as instants, their offsets applied); unreadable dates last, ties as the API gave them.
---@param unit soget.HandlingUnit
---@return soget.EventInformation[]
function soget.events_in_order(unit) end

---The instant a date stands for, as events_in_order reads it: seconds since 1970 (UTC) and nanoseconds (a leap second's from 1000000000); nil for anything that is not such a date.
---@param date any
---@return integer? seconds
---@return integer? nanoseconds
function soget.instant(date) end

---Whether the page's total is the server's (false: the server sent none, and total is the guess first + returned).
---@param page soget.Page
---@return boolean
function soget.total_given(page) end

---A response parser for drivers that move the bytes themselves.
---@param max_response_size? number Largest body, in bytes (default 8388608).
---@return soget.HttpParser
function soget.http_parser(max_response_size) end

return soget
