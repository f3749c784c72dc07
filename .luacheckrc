-- luacheck's settings for every Lua file of the tree (make check-lua, run by
-- make test). Lines may be long: the README's tables and messages are.
std = "max"
max_line_length = false
exclude_files = { "build/**", "sandbox/validator/node_modules/**", "spec/fuzz/corpus/**" }

-- OpenResty code: the driver, the sandbox, and what runs inside nginx
local openresty = { globals = { "ngx" } }
files["lua/soget/ngx.lua"] = openresty
files["sandbox/lua"] = openresty
files["examples/openresty"] = openresty
files["bench/ngx_handlers.lua"] = openresty
files["bench/ngx_subrequest.lua"] = openresty
files["spec/openresty"] = openresty
files["spec/soak/ngx_soak.lua"] = openresty

files["spec"] = { std = "+busted" }
files["spec/openresty"] = { std = "+busted", globals = { "ngx" } }

-- lua-language-server's definition files: functions with no bodies, classes
-- only declared
files["lua/soget/types"] = { unused_args = false, unused = false }
