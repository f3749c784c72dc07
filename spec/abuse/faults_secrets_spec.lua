-- Secrets across every fault the sandbox can inject: each one applied to
-- the API and to the token endpoint, through handling_units, iteration,
-- client:token() and the Call seam. Every error, tostring and raised
-- message is collected; none may hold the client secret, the API key or
-- any token the sandbox issued. (spec/secrets_spec.lua covers the basic
-- client paths; each abuse spec ends with the same check on its own texts.)
local S = require "support"
local W = require "abuse.watch"

local API_FAULTS = { "500", "502", "503-then-ok:n=1", "504", "408", "429:retry-after=0", "403",
  "delay:ms=50", "trickle:bps=20000", "reset", "truncate", "malformed", "wrong-types", "nulls",
  "inconsistent:mode=total", "inconsistent:mode=first", "inconsistent:mode=returned",
  "expire-token:after=1", "extra-fields", "large:events=50", "huge:bytes=20000", "deep:depth=300",
  "shift:n=2", "repeat-unit:keep=0:total=50", "redirect:to=https%3A%2F%2Flocalhost%2Fx",
  "big-header:bytes=2000000" }
local TOKEN_FAULTS = { "500", "503-then-ok:n=1", "429", "403", "delay:ms=50", "reset", "truncate",
  "malformed", "nulls", "extra-fields", "huge:bytes=20000", "token-ttl:s=2", "bad-token-json",
  "big-header:bytes=2000000", "big-token:bytes=100000" }

describe("secrets under every fault", function()
  before_each(function() S.reset() end)

  it("appear in no error, tostring or message from the API faults", function()
    for _, f in ipairs(API_FAULTS) do
      local c = S.client{ base_url = S.fault_base(f .. ":id=" .. S.uid("sec")), retries = 1,
        timeout = 3, max_response_size = 16384 }
      local page, err = W.see(c:handling_units{ reference = "MSCU", limit = 3 })
      if page then
        W.see(W.pcall(function()
          local it = page:iter{ max_pages = 3 }
          for hu in it do W.see(hu.pswId) end
          return W.see(it), W.see(it:stats())
        end))
      end
      W.see(c:handling_units{ spi = "CNI-00000" })
      W.note_tokens(c)
      W.see(c, c:stats())
      c:close()
      W.see(c, err)
    end
    W.check()
  end)

  it("appear in no error, tostring or message from the token endpoint's faults", function()
    for _, f in ipairs(TOKEN_FAULTS) do
      local c = S.client{ token_url = S.fault_token(f .. ":id=" .. S.uid("sec")), timeout = 3,
        max_response_size = 16384 }
      W.see(c:handling_units("CGMU2436601"))
      local call = c:begin("CGMU2436601")
      -- a request table carries the credentials to send: only its error is a text
      local req, err = call:request()
      assert.truthy(req or err)
      W.see(err)
      W.see(call)
      local tok = c:token()
      if tok then W.note_tokens(c) end
      W.see(c)
      c:close()
    end
    W.check()
  end)
end)
