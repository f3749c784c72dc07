-- Handlers of bench/openresty.lua's nginx: the same lookup three ways, on
-- one worker, each answering the unit's S)ONE id.
--   /b/cosocket     soget.ngx (cosockets, the core's HTTP/1.1 layer)
--   /b/subrequest   the subrequest driver soget.ngx had before (bench/ngx_subrequest.lua)
--   /b/plain        ngx.location.capture + proxy_pass to a keep-alive
--                   upstream, cjson.decode: what one writes by hand
local soget = require "soget"
local sng = require "soget.ngx"
local old = require "ngx_subrequest"
local cjson = require "cjson"

local M = {}
local client, old_client, token
-- soget.ngx's User-Agent: the three paths send the sandbox the same
-- headers (it does more work for a longer request), as the bench's loops do
local UA = (soget._VERSION or "soget"):gsub(" ", "/") .. " (ngx_lua)"

local function origin(url)
  return url:match("^(https?://[^/]+)")
end

local function configure_old()
  local base = os.getenv("SOGET_BASE_URL")
  old.configure{
    location = "/_soget",
    upstreams = { [origin(base)] = "soget_api", [origin(os.getenv("SOGET_TOKEN_URL"))] = "soget_api" },
  }
end

local function answer(pswid)
  ngx.say(pswid or "none")
end

function M.cosocket()
  client = client or soget.client{ gzip = false }
  local page, err = sng.handling_units(client, "CGMU2436601")
  if not page then ngx.status = 502; return ngx.say(tostring(err)) end
  answer(page.items[1] and page.items[1].pswId)
end

function M.subrequest()
  if not old_client then
    configure_old()
    old_client = soget.client{ gzip = false }
  end
  local page, err = old.handling_units(old_client, "CGMU2436601")
  if not page then ngx.status = 502; return ngx.say(tostring(err)) end
  answer(page.items[1] and page.items[1].pswId)
end

function M.plain()
  if not token then
    -- once per worker, for the warm-up request: the token, fetched by soget
    local c = soget.client{}
    token = assert(c:token())
    c:close()
  end
  local res = ngx.location.capture("/_plain", { args = "reference=CGMU2436601",
    ctx = { auth = "Bearer " .. token, key = os.getenv("SOGET_API_KEY"), ua = UA } })
  if res.status ~= 200 then ngx.status = 502; return ngx.say("HTTP ", res.status) end
  local page = cjson.decode(res.body)
  answer(page.items[1] and page.items[1].pswId)
end

return M
