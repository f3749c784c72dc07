-- A short soak (20 s of calls under the fault mix, the bounds checked
-- from 10 s on; about 30 s in all):
-- make soak's whole machinery (its own sandbox with random faults, nginx
-- with soget.ngx, client processes on Lua 5.4 and LuaJIT, the checks and
-- the bounds) on every make test. It runs its own fixed set of runtimes,
-- so it runs once, in the plain Lua 5.4 run (not on the other runtimes,
-- nor under ASan or valgrind, where its memory bounds mean nothing).
local S = require "support"

local lua = os.getenv("SOGET_LUA") or "lua5.4"
local run_it = lua == "lua5.4" and (os.getenv("LUA_VERSION") or "5.4") == "5.4"

describe("make soak, briefly", function()
  (run_it and it or pending)("runs 20 s of calls under faults with no wrong or unexplained result", function()
    local out = os.tmpname()
    local cmd = ("env SOAK_SECONDS=20 SOAK_WARM=10 SOAK_OUT=build/soak-smoke spec/soak/run >%s 2>&1")
      :format(S.shell_quote(out))
    local r = os.execute(cmd)
    local text = S.read_file(out)
    os.remove(out)
    assert((r == true or r == 0), text)
    assert.truthy(text:find("soak: passed", 1, true), text)
    -- every kind of fault was drawn and met by a checked call
    for _, kind in ipairs({ "500", "503", "429", "reset", "truncate", "delay", "revoke-token" }) do
      assert.truthy(text:find("[ ,:]" .. kind:gsub("%-", "%%-") .. " %d+"), kind .. " missing:\n" .. text)
    end
    assert.truthy(text:find("| ngx |", 1, true), text)
    assert.truthy(text:find("| luajit |", 1, true), text)
  end)
end)
