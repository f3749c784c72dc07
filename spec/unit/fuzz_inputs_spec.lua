-- Every fuzz target's committed inputs, replayed on the runtime under test
-- through the target's own driver (spec/fuzz/<target>.lua), whose
-- assertions are the oracle: the minimised corpus (spec/fuzz/corpus/) and
-- every past finding (spec/fuzz/regressions/). The fuzzer runs Lua 5.4;
-- the module's drivers are written for every runtime, where the module's
-- Lua side differs (integers, the compatibility layer), so make test
-- replays them on each, the CSV reader's too (the command runs on every
-- runtime). And the diff target's bodies are what it says they are:
-- schema-valid, checked by the sandbox's OpenAPI validator.
local S = require "support"
local cjson = require "cjson"

local TARGETS = { "decode", "call", "url", "http", "diff", "csv" }

local function inputs(dir)
  local names = {}
  local p = io.popen("ls " .. S.shell_quote(dir) .. " 2>/dev/null")
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  return names
end

describe("the fuzz targets' committed inputs", function()
  for _, t in ipairs(TARGETS) do
    for _, kind in ipairs { "corpus", "regressions" } do
      local dir = "spec/fuzz/" .. kind .. "/" .. t
      local names = inputs(dir)
      if #names > 0 then
        it(("replay %s (%d input%s) through spec/fuzz/%s.lua"):format(dir, #names,
            #names == 1 and "" or "s", t), function()
          local drive = dofile("spec/fuzz/" .. t .. ".lua")
          for _, name in ipairs(names) do
            local ok, err = pcall(drive, S.read_file(dir .. "/" .. name))
            if not ok then error(dir .. "/" .. name .. ": " .. tostring(err), 0) end
          end
          collectgarbage()
        end)
      end
    end
  end

  it("include a finding or a seed for every target", function()
    for _, t in ipairs(TARGETS) do
      assert(#inputs("spec/fuzz/corpus/" .. t) > 0, "no corpus for " .. t)
    end
    for _, t in ipairs { "decode", "call", "url", "http", "diff" } do
      assert(#inputs("spec/fuzz/regressions/" .. t) > 0, "no regression input for " .. t)
    end
  end)
end)

describe("the diff target's generator (spec/fuzz/pagegen.lua)", function()
  local pagegen = dofile("spec/fuzz/pagegen.lua")

  -- The committed diff inputs, and as many again from a fixed linear
  -- congruential generator (the same bytes on every runtime).
  local function bodies()
    local list = {}
    for _, kind in ipairs { "corpus", "regressions" } do
      local dir = "spec/fuzz/" .. kind .. "/diff"
      for _, name in ipairs(inputs(dir)) do list[#list + 1] = S.read_file(dir .. "/" .. name) end
    end
    local x = 20261203
    for i = 1, #list + 64 do
      local t = {}
      for j = 1, 64 + i * 16 % 3000 do
        x = (x * 1103515245 + 12345) % 2147483648
        t[j] = string.char(math.floor(x / 65536) % 256)
      end
      list[#list + 1] = table.concat(t)
    end
    local cases, extended = {}, {}
    for i, input in ipairs(list) do
      local body, ext = pagegen.body(input)
      cases[i] = { name = tostring(i), status = 200, body = body }
      extended[tostring(i)] = ext
    end
    return cases, extended
  end

  it("writes bodies the OpenAPI document's validator takes, but for the fields it adds on purpose",
    function()
      local cases, extended = bodies()
      local vdir = "sandbox/validator"
      assert(io.open(vdir .. "/node_modules/ajv/package.json"),
        "the response validator is not installed: run make sandbox-deps")
      local tmp = os.tmpname()
      local f = assert(io.open(tmp, "wb"))
      f:write(cjson.encode(cases))
      f:close()
      local out = S.popen_read("node " .. vdir .. "/validate.js " .. S.shell_quote(tmp))
      os.remove(tmp)
      local strict, loose = 0, 0
      for _, r in ipairs(assert(cjson.decode(out))) do
        assert.are.equal("HandlingUnitItemsResponseModel", r.schema)
        if extended[r.name] then
          loose = loose + 1
          for _, e in ipairs(r.errors) do
            assert(e:find("must NOT have additional properties", 1, true),
              "body " .. r.name .. ": " .. e)
          end
        else
          strict = strict + 1
          assert(r.valid, "body " .. r.name .. ": " .. table.concat(r.errors, "; "))
        end
      end
      assert.are.equal(#cases, strict + loose)
      assert(strict > #cases / 2 and loose > 8, strict .. " strict, " .. loose .. " with added fields")
    end)
end)
