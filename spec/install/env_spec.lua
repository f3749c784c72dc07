-- eval "$(make env)": the one way the README points Lua (and PATH) at a
-- source tree's build, checked in a real bash from another directory, for
-- the runtime under test; and every shell example of the README that runs
-- an example script or the soget command starts with it.
local sh = require "install.shell"

local root = sh.check("pwd"):gsub("%s+$", "")

describe("eval \"$(make env)\"", function()
  it("prints export lines for this runtime's variables, the build and lua/, and PATH", function()
    local out = sh.check("make --no-print-directory env LUA_VERSION=" .. sh.runtime .. " 2>/dev/null")
    local suffix = (sh.runtime == "jit" or sh.runtime == "5.1") and ""
      or "_" .. sh.runtime:gsub("%.", "_")
    local build = root .. "/build/lua" .. sh.runtime
    assert.are.equal(table.concat({
      'export LUA_PATH' .. suffix .. '="' .. root .. '/lua/?.lua;' .. root .. '/lua/?/init.lua;${LUA_PATH'
        .. suffix .. ':-;}"',
      'export LUA_CPATH' .. suffix .. '="' .. build .. '/?.so;${LUA_CPATH' .. suffix .. ':-;}"',
      'export PATH="' .. build .. '/bin:$PATH"',
    }, "\n") .. "\n", out)
    -- the soget there runs bin/soget on this runtime (bin/soget's own first
    -- line names Lua 5.4)
    -- (the Makefile's LUA: the runtime's interpreter, or the one a make
    -- that runs this spec exported, such as the sanitizers' wrapper)
    local interp = os.getenv("LUA") or (sh.runtime == "jit" and "luajit" or "lua" .. sh.runtime)
    local launcher = assert(io.open(build .. "/bin/soget")):read("*a")
    assert.truthy(launcher:find('\nexec ' .. interp .. ' "' .. root .. '/bin/soget" "$@"\n', 1, true),
      launcher)
  end)

  it("lets the runtime require soget and the command's modules, and runs soget, from another directory", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write("set -e\n",
      "unset LUA_PATH LUA_CPATH LUA_PATH_5_2 LUA_CPATH_5_2 LUA_PATH_5_3 LUA_CPATH_5_3",
      " LUA_PATH_5_4 LUA_CPATH_5_4 SOGET_MODULE_DIR\n",
      "cd ", sh.quote(root), "\n",
      'eval "$(make --no-print-directory env LUA_VERSION=', sh.runtime, ' 2>/dev/null)"\n',
      "cd /\n",
      sh.quote(sh.lua), [[ -e 'local s = require "soget"; require "soget.cli.exit"; io.write(s._VERSION, "\n")']], "\n",
      "command -v soget\n",
      "soget check CSQU3054383\n")
    f:close()
    local code, out = sh.run("bash --norc --noprofile " .. sh.quote(script), 120)
    os.remove(script)
    assert.are.equal(0, code, out)
    local build = root .. "/build/lua" .. sh.runtime
    assert.are.equal(require("soget")._VERSION .. "\n" .. build .. "/bin/soget\n"
      .. "CSQU3054383: valid ISO 6346 container number\n", out)
  end)

  it("is not needed by bin/soget, which finds this runtime's build beside it", function()
    -- build/lua5.x, or build/luajit under LuaJIT (make LUA_VERSION=jit)
    local code, out = sh.run("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_2 -u LUA_CPATH_5_2"
      .. " -u LUA_PATH_5_3 -u LUA_CPATH_5_3 -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u SOGET_MODULE_DIR "
      .. sh.quote(sh.lua) .. " " .. sh.quote(root .. "/bin/soget") .. " check CSQU3054383 2>&1", 60)
    assert.are.equal(0, code, out)
    assert.are.equal("CSQU3054383: valid ISO 6346 container number\n", out)
    -- a tree not built yet: the hint names the folder make puts it in
    local tmp = sh.mktemp()
    sh.check("cp -R " .. sh.quote(root .. "/bin") .. " " .. sh.quote(root .. "/lua") .. " " .. sh.quote(tmp))
    code, out = sh.run("cd / && env -u LUA_CPATH -u LUA_CPATH_5_2 -u LUA_CPATH_5_3 -u LUA_CPATH_5_4"
      .. " -u SOGET_MODULE_DIR " .. sh.quote(sh.lua) .. " " .. sh.quote(tmp .. "/bin/soget")
      .. " check CSQU3054383 2>&1", 60)
    sh.rmtree(tmp)
    assert.are.equal(3, code, out)
    local build = sh.runtime == "jit" and "build/luajit after make LUA_VERSION=jit)"
      or ("build/lua" .. sh.runtime .. " after make)")
    assert.truthy(out:find("(in a source tree:\n    " .. build, 1, true), out)
  end)

  it("makes bin/soget load no Lua file and no module from the folder it is run in", function()
    -- Lua's default paths end in ./?.lua, ./?/init.lua and ./?.so: a
    -- soget.lua left in a shared folder answered require "soget" first
    local tmp = sh.mktemp()
    local trap = 'io.stderr:write("loaded from the current folder\\n") os.exit(99)'
    sh.check("mkdir " .. sh.quote(tmp .. "/soget") .. " && printf '%s\\n' " .. sh.quote(trap)
      .. " | tee " .. sh.quote(tmp .. "/soget.lua") .. " " .. sh.quote(tmp .. "/soget/init.lua")
      .. " > /dev/null && printf 'not a module' > " .. sh.quote(tmp .. "/soget.so"))
    local code, out = sh.run("cd " .. sh.quote(tmp) .. " && env -u LUA_PATH -u LUA_CPATH"
      .. " -u LUA_PATH_5_2 -u LUA_CPATH_5_2 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 -u LUA_PATH_5_4"
      .. " -u LUA_CPATH_5_4 -u SOGET_MODULE_DIR " .. sh.quote(sh.lua) .. " "
      .. sh.quote(root .. "/bin/soget") .. " check CSQU3054383 2>&1", 60)
    sh.rmtree(tmp)
    assert.are.equal(0, code, out)
    assert.are.equal("CSQU3054383: valid ISO 6346 container number\n", out)
  end)

  it("starts every README shell example that runs an example script or the soget command", function()
    local readme = sh.read_all("README.md")
    local checked = 0
    for block in readme:gmatch("\n```sh\n(.-)\n```") do
      local runs = block:find("lua5%.4 examples/") or block:find("\nsoget %a") or block:find("^soget %a")
      if runs then
        checked = checked + 1
        assert.truthy(block:find('eval "$(make env)"', 1, true), "README block without make env:\n" .. block)
      end
    end
    assert.is_true(checked >= 5, "only " .. checked .. " blocks")
  end)
end)
