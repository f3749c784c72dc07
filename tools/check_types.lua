-- Checks soget's lua-language-server annotations without the server itself
-- (Debian 12 does not package it): each file must load as Lua and run, its
-- module table must hold exactly the functions annotated, and every
-- annotation must read under tools/luacats.lua's grammar, naming only types
-- that are built in or declared by the files read together.
--
--   lua5.4 tools/check_types.lua FILE...
local ROOT = (arg[0]:match("^(.*)/tools/[^/]*$") or ".")
package.path = ROOT .. "/tools/?.lua;" .. package.path
local luacats = require "luacats"

if #arg == 0 then
  io.stderr:write("usage: lua5.4 tools/check_types.lua FILE...\n")
  os.exit(2)
end

local files, errors = {}, {}
for _, path in ipairs(arg) do
  local f, err = io.open(path, "rb")
  if not f then
    errors[#errors + 1] = err
  else
    local text = f:read("a")
    f:close()
    files[#files + 1] = { name = path, text = text }
    -- Loads as Lua, and runs: a meta file is code too (empty functions).
    local chunk, lerr = load(text, "@" .. path, "t", {})
    if not chunk then
      errors[#errors + 1] = lerr
    else
      local ok, mod = pcall(chunk)
      if not ok then
        errors[#errors + 1] = path .. ": running it failed: " .. tostring(mod)
      else
        files[#files].returned = mod
      end
    end
  end
end

local model, perrors = luacats.read(files)
for _, e in ipairs(perrors) do errors[#errors + 1] = e end

-- What a file returns is what it annotates.
for _, f in ipairs(files) do
  local meta = f.text:match("^%-%-%-@meta ([^\n]*)")
  local module = meta and model.modules[meta]
  if module and type(f.returned) == "table" then
    for name, v in pairs(f.returned) do
      if type(v) == "function" and not module.functions[name] then
        errors[#errors + 1] = string.format("%s: %s.%s is defined but not annotated", f.name, meta, name)
      end
    end
    for name in pairs(module.functions) do
      if type(f.returned[name]) ~= "function" then
        errors[#errors + 1] = string.format("%s: %s.%s is annotated but not defined", f.name, meta, name)
      end
    end
  elseif module then
    errors[#errors + 1] = string.format("%s: returns no table", f.name)
  end
end

if #errors > 0 then
  for _, e in ipairs(errors) do io.stderr:write("check-types: ", e, "\n") end
  io.stderr:write(string.format("check-types: %d problem(s)\n", #errors))
  os.exit(1)
end

local classes, fields, aliases, functions = 0, 0, 0, 0
for _, c in pairs(model.classes) do
  classes = classes + 1
  fields = fields + #c.fields.list
  for _ in pairs(c.methods) do functions = functions + 1 end
end
for _ in pairs(model.aliases) do aliases = aliases + 1 end
for _, m in pairs(model.modules) do
  for _ in pairs(m.functions) do functions = functions + 1 end
end
print(string.format("check-types: %d files, %d classes, %d fields, %d aliases, %d functions and methods: ok",
  #files, classes, fields, aliases, functions))
