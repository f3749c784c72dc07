-- The blocking path in nginx, for comparison with soget.ngx: the client's
-- own libcurl transport, called straight from a handler. Each call holds
-- the whole worker until its answer arrives.
local soget = require "soget"
local cjson = require "cjson.safe"

local M = {}
local client

function M.unit(reference)
  client = client or soget.client{ timeout = 30 }
  local page, err = client:handling_units{ reference = ngx.unescape_uri(reference) }
  ngx.header["Content-Type"] = "application/json"
  if not page then
    ngx.status = 502
    ngx.say(cjson.encode{ error = err.kind, message = err.message })
    return ngx.exit(ngx.HTTP_OK)
  end
  ngx.say(cjson.encode{ total = page.total, items = page.items })
end

return M
