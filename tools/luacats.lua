-- A reader of the LuaCATS annotations (lua-language-server's `---@` lines)
-- that soget's meta files use, strict where lua-language-server is lenient:
-- tools/check_types.lua runs it over lua/soget/types/ (make check-types),
-- and spec/unit/types_spec.lua holds what it reads against the built module.
--
-- It knows the tags @meta, @class (and its "(exact)"), @field, @alias,
-- @param, @return, @overload and @type, and this type grammar:
--
--   type    = unit { "|" unit }
--   unit    = primary { "[]" | "?" }
--   primary = name [ "<" type { "," type } ">" ]   -- table<K, V>
--           | "string literal" | integer
--           | "fun" "(" [ param { "," param } ] ")" [ ":" type { "," type } ]
--           | "{" field { "," field } "}" | "(" type ")"
--   param   = ( name [ "?" ] | "..." ) [ ":" type ]
--   field   = ( name | "[" type "]" ) [ "?" ] ":" type
--
-- Anything else is an error with its file and line, as are: a type name
-- that is neither built in nor declared (by any file read together), a
-- class or alias declared twice, a field declared twice in a class, a
-- function without annotations, @param names that are not the function's
-- parameters in order, and an annotation that annotates nothing.
-- Runs on every Lua the suite runs on (5.1 to 5.4, LuaJIT).
local M = {}

M.BUILTIN = {
  ["nil"] = true, any = true, boolean = true, string = true, number = true,
  integer = true, ["function"] = true, table = true, thread = true, userdata = true,
  lightuserdata = true, ["true"] = true, ["false"] = true, unknown = true, self = true,
}

---------------------------------------------------------------------------
-- Types

local function tokenize(s)
  local toks, i, n = {}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = i + 1
    else
      local tok, j
      if s:sub(i, i + 2) == "..." then
        tok, j = "...", i + 3
      elseif s:sub(i, i + 1) == "[]" then
        tok, j = "[]", i + 2
      elseif c:match("[%a_]") then
        local name = s:match("^[%a_][%w_]*[%w_.]*", i)
        -- a name may hold dots (soget.Page), never end with one
        name = name:gsub("%.+$", "")
        tok, j = { name = name }, i + #name
      elseif c:match("%d") or (c == "-" and s:sub(i + 1, i + 1):match("%d")) then
        local num = s:match("^%-?%d+", i)
        tok, j = { int = num }, i + #num
      elseif c == '"' or c == "'" then
        local close = s:find(c, i + 1, true)
        if close then
          tok, j = { str = s:sub(i + 1, close - 1) }, close + 1
        else   -- an apostrophe in a description
          tok, j = { other = c }, i + 1
        end
      elseif c:match("[|?%[%](){}<>,:]") then
        tok, j = c, i + 1
      else
        -- the rest of the line is not a type: the parser decides
        tok, j = { other = c }, i + 1
      end
      toks[#toks + 1] = { tok = tok, at = i, stop = j }
      i = j
    end
  end
  return toks
end

-- A type node: {kind = "name", name, args} | {kind = "literal", value} |
-- {kind = "fun", params, returns} | {kind = "table", fields} |
-- {kind = "union", of} | {kind = "array", of} | {kind = "optional", of}.
local Parser = {}
Parser.__index = Parser

local function new_parser(text)
  local toks, err = tokenize(text)
  if not toks then return nil, err end
  return setmetatable({ toks = toks, pos = 1, text = text }, Parser)
end

function Parser:peek()
  local t = self.toks[self.pos]
  return t and t.tok
end

function Parser:next()
  local t = self.toks[self.pos]
  self.pos = self.pos + 1
  return t and t.tok
end

function Parser:expect(sym)
  local t = self:next()
  if t ~= sym then
    error({ msg = string.format("expected '%s'", sym) }, 0)
  end
end

-- The text after the last token read (a description).
function Parser:rest()
  local t = self.toks[self.pos]
  if not t then return "" end
  return (self.text:sub(t.at):gsub("^%s+", ""):gsub("%s+$", ""))
end

function Parser:name()
  local t = self:peek()
  if type(t) == "table" and t.name then
    self:next()
    return t.name
  end
  return nil
end

function Parser:type()
  local units = { self:unit() }
  while self:peek() == "|" do
    self:next()
    units[#units + 1] = self:unit()
  end
  if #units == 1 then return units[1] end
  return { kind = "union", of = units }
end

function Parser:unit()
  local t = self:primary()
  while true do
    local p = self:peek()
    if p == "[]" then
      self:next()
      t = { kind = "array", of = t }
    elseif p == "?" then
      self:next()
      t = { kind = "optional", of = t }
    else
      return t
    end
  end
end

function Parser:primary()
  local t = self:next()
  if t == "(" then
    local inner = self:type()
    self:expect(")")
    return inner
  end
  if t == "{" then
    local fields = {}
    repeat
      local key
      if self:peek() == "[" then
        self:next()
        key = { type = self:type() }
        self:expect("]")
      else
        key = self:name()
        if not key then error({ msg = "expected a field name" }, 0) end
      end
      local optional = false
      if self:peek() == "?" then
        self:next()
        optional = true
      end
      self:expect(":")
      fields[#fields + 1] = { key = key, optional = optional, type = self:type() }
      local sep = self:next()
      if sep ~= "," and sep ~= "}" then error({ msg = "expected ',' or '}'" }, 0) end
    until sep == "}"
    return { kind = "table", fields = fields }
  end
  if type(t) ~= "table" then
    error({ msg = t and string.format("unexpected '%s'", t) or "a type is missing" }, 0)
  end
  if t.str then return { kind = "literal", value = t.str } end
  if t.int then return { kind = "literal", value = tonumber(t.int) } end
  if not t.name then error({ msg = string.format("unexpected '%s'", t.other) }, 0) end
  if t.name == "fun" and self:peek() == "(" then
    self:next()
    local params = {}
    if self:peek() ~= ")" then
      repeat
        local pname
        if self:peek() == "..." then
          self:next()
          pname = "..."
        else
          pname = self:name()
          if not pname then error({ msg = "expected a parameter name" }, 0) end
        end
        local optional = false
        if self:peek() == "?" then
          self:next()
          optional = true
        end
        local ptype
        if self:peek() == ":" then
          self:next()
          ptype = self:type()
        end
        params[#params + 1] = { name = pname, optional = optional, type = ptype }
        local sep = self:peek()
        if sep == "," then self:next() end
      until sep ~= ","
    end
    self:expect(")")
    local returns = {}
    if self:peek() == ":" then
      self:next()
      returns[1] = self:type()
      while self:peek() == "," do
        self:next()
        returns[#returns + 1] = self:type()
      end
    end
    return { kind = "fun", params = params, returns = returns }
  end
  local node = { kind = "name", name = t.name }
  if self:peek() == "<" then
    self:next()
    node.args = { self:type() }
    while self:peek() == "," do
      self:next()
      node.args[#node.args + 1] = self:type()
    end
    self:expect(">")
  end
  return node
end

-- Parses a type at the start of text: the type node and the text after it,
-- or nil and a message.
function M.parse_type(text)
  local p, err = new_parser(text)
  if not p then return nil, err end
  local ok, t = pcall(p.type, p)
  if not ok then return nil, type(t) == "table" and t.msg or tostring(t) end
  return t, p:rest()
end

-- A type node as text, in one spelling: what the specs compare.
function M.show(t)
  local k = t.kind
  if k == "name" then
    if not t.args then return t.name end
    local args = {}
    for i, a in ipairs(t.args) do args[i] = M.show(a) end
    return t.name .. "<" .. table.concat(args, ", ") .. ">"
  elseif k == "literal" then
    return type(t.value) == "string" and string.format("%q", t.value) or tostring(t.value)
  elseif k == "union" then
    local parts = {}
    for i, u in ipairs(t.of) do parts[i] = M.show(u) end
    return table.concat(parts, "|")
  elseif k == "array" or k == "optional" then
    local inner = M.show(t.of)
    if t.of.kind == "union" or t.of.kind == "fun" then inner = "(" .. inner .. ")" end
    return inner .. (k == "array" and "[]" or "?")
  elseif k == "fun" then
    local ps = {}
    for i, p in ipairs(t.params) do
      ps[i] = p.name .. (p.optional and "?" or "") .. (p.type and ": " .. M.show(p.type) or "")
    end
    local rs = {}
    for i, r in ipairs(t.returns) do rs[i] = M.show(r) end
    return "fun(" .. table.concat(ps, ", ") .. ")" .. (#rs > 0 and ": " .. table.concat(rs, ", ") or "")
  elseif k == "table" then
    local fs = {}
    for i, f in ipairs(t.fields) do
      local key = type(f.key) == "table" and "[" .. M.show(f.key.type) .. "]" or f.key
      fs[i] = key .. (f.optional and "?" or "") .. ": " .. M.show(f.type)
    end
    return "{ " .. table.concat(fs, ", ") .. " }"
  end
  error("unknown type node " .. tostring(k))
end

-- Calls fn(name) for every type name a node uses.
local function each_name(t, fn)
  local k = t.kind
  if k == "name" then
    fn(t.name)
    for _, a in ipairs(t.args or {}) do each_name(a, fn) end
  elseif k == "union" then
    for _, u in ipairs(t.of) do each_name(u, fn) end
  elseif k == "array" or k == "optional" then
    each_name(t.of, fn)
  elseif k == "fun" then
    for _, p in ipairs(t.params) do
      if p.type then each_name(p.type, fn) end
    end
    for _, r in ipairs(t.returns) do each_name(r, fn) end
  elseif k == "table" then
    for _, f in ipairs(t.fields) do
      if type(f.key) == "table" then each_name(f.key.type, fn) end
      each_name(f.type, fn)
    end
  end
end

---------------------------------------------------------------------------
-- Files

local NAME = "[%a_][%w_]*"
local TYPE_NAME = "[%a_][%w_.]*[%w_]"

-- Reads the annotations of several files (as {name = ..., text = ...}) as
-- one library. Returns the model and the list of errors ("file:line: ...").
--   model.classes[name] = {name, exact, parents = {...}, fields = {list, by_name},
--                          methods = {name -> fn}, overloads = {...}, file, line}
--   model.aliases[name] = {name, type, file, line}
--   model.modules[meta name] = {file, functions = {name -> fn}, fields = {name -> type}}
--   fn = {name, params = {names}, doc_params = {{name, optional, type}},
--         returns = {{type, name}}, line}
function M.read(files)
  local model = { classes = {}, aliases = {}, modules = {}, files = {} }
  local errors = {}
  local used = {}   -- {file, line, node}

  local function err(file, line, fmt, ...)
    errors[#errors + 1] = string.format("%s:%d: ", file, line) .. string.format(fmt, ...)
  end

  for _, f in ipairs(files) do
    local file = f.name
    local locals = {}      -- local name -> class name, or true for a plain table
    local module_local     -- the table the file returns
    local module = { file = file, functions = {}, fields = {} }
    local block = nil      -- the annotations waiting for their code line
    local meta = nil

    local function new_block()
      return { tagged = false, params = {}, returns = {}, overloads = {}, text = false }
    end

    local function use(line, node)
      used[#used + 1] = { file = file, line = line, node = node }
    end

    local function parse_typed(line, text, what)
      local t, rest = M.parse_type(text)
      if not t then
        err(file, line, "%s: bad type: %s", what, rest)
        return nil, ""
      end
      use(line, t)
      return t, rest
    end

    local n = 0
    for raw in (f.text .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      local tag, body = raw:match("^%-%-%-@(%a+)%s*(.-)%s*$")
      if tag then
        block = block or new_block()
        block.tagged = true
        if tag == "meta" then
          if n ~= 1 then err(file, n, "@meta must be the first line") end
          meta = body ~= "" and body or "_"
          if not (meta == "_" or meta:match("^" .. TYPE_NAME .. "$") or meta:match("^" .. NAME .. "$")) then
            err(file, n, "@meta: bad name '%s'", body)
          end
          block = nil
        elseif tag == "class" then
          local exact = false
          if body:match("^%(exact%)%s") then
            exact = true
            body = body:gsub("^%(exact%)%s+", "")
          end
          local name, rest = body:match("^(" .. TYPE_NAME .. ")%s*(.-)$")
          if not name then name, rest = body:match("^(" .. NAME .. ")%s*(.-)$") end
          if not name then
            err(file, n, "@class: bad name")
          else
            local parents = {}
            if rest:match("^:") then
              for p in rest:sub(2):gmatch("[^,]+") do
                p = p:match("^%s*(.-)%s*$")
                if not p:match("^" .. TYPE_NAME .. "$") then
                  err(file, n, "@class %s: bad parent '%s'", name, p)
                else
                  parents[#parents + 1] = p
                  use(n, { kind = "name", name = p })
                end
              end
            elseif rest ~= "" then
              err(file, n, "@class %s: unexpected '%s'", name, rest)
            end
            if model.classes[name] or model.aliases[name] then
              err(file, n, "%s is declared twice", name)
            end
            local class = { name = name, exact = exact, parents = parents,
                            fields = { list = {}, by_name = {} },
                            methods = {}, overloads = {}, file = file, line = n,
                            doc = block.text or nil }
            model.classes[name] = class
            block.class = class
          end
        elseif tag == "field" then
          local class = block.class
          if not class then
            err(file, n, "@field outside a class")
          else
            local b = body:gsub("^(private)%s+", ""):gsub("^(protected)%s+", "")
                          :gsub("^(public)%s+", ""):gsub("^(package)%s+", "")
            local name, opt, text = b:match("^(" .. NAME .. ")(%??)%s+(.*)$")
            if not name then
              err(file, n, "@field: expected a name and a type")
            else
              local t, rest = parse_typed(n, text, "@field " .. name)
              if t then
                if class.fields.by_name[name] then
                  err(file, n, "%s.%s is declared twice", class.name, name)
                end
                local field = { name = name, optional = opt == "?", type = t, doc = rest, line = n }
                class.fields.list[#class.fields.list + 1] = field
                class.fields.by_name[name] = field
              end
            end
          end
        elseif tag == "alias" then
          local name, text = body:match("^(" .. TYPE_NAME .. ")%s+(.*)$")
          if not name then
            err(file, n, "@alias: expected a name and a type")
          else
            local t, rest = parse_typed(n, text, "@alias " .. name)
            if t then
              if rest ~= "" then err(file, n, "@alias %s: unexpected '%s'", name, rest) end
              if model.classes[name] or model.aliases[name] then
                err(file, n, "%s is declared twice", name)
              end
              model.aliases[name] = { name = name, type = t, file = file, line = n }
            end
          end
          block = nil
        elseif tag == "param" then
          local name, opt, text = body:match("^(" .. NAME .. ")(%??)%s+(.*)$")
          if not name then name, opt, text = body:match("^(%.%.%.)(%??)%s+(.*)$") end
          if not name then
            err(file, n, "@param: expected a name and a type")
          else
            local t = parse_typed(n, text, "@param " .. name)
            block.params[#block.params + 1] = { name = name, optional = opt == "?", type = t }
          end
        elseif tag == "return" then
          local t, rest = parse_typed(n, body, "@return")
          if t then
            local rname = rest:match("^(" .. NAME .. ")")
            block.returns[#block.returns + 1] = { type = t, name = rname }
          end
        elseif tag == "overload" then
          local t, rest = parse_typed(n, body, "@overload")
          if t then
            if t.kind ~= "fun" then err(file, n, "@overload: expected fun(...)") end
            if rest ~= "" then err(file, n, "@overload: unexpected '%s'", rest) end
            if block.class then
              block.class.overloads[#block.class.overloads + 1] = t
            else
              block.overloads[#block.overloads + 1] = t
            end
          end
        elseif tag == "type" then
          local t, rest = parse_typed(n, body, "@type")
          if t then
            if rest ~= "" then err(file, n, "@type: unexpected '%s'", rest) end
            block.type = t
          end
        else
          err(file, n, "unknown tag @%s", tag)
        end
      elseif raw:match("^%-%-%-") then
        -- a description line
        block = block or new_block()
        if not block.tagged then
          block.text = (block.text and block.text .. "\n" or "") .. raw:sub(4)
        end
      elseif raw:match("^%s*$") or raw:match("^%-%-") then
        -- a blank line or a plain comment ends a class's annotations only
        if block and block.class then block = nil end
        if block and raw:match("^%s*$") and not block.class then
          local dangling = #block.params > 0 or #block.returns > 0 or block.type
                           or #block.overloads > 0
          if dangling then err(file, n, "annotations followed by a blank line") end
          block = nil
        end
      else
        -- a code line
        local lname = raw:match("^local (" .. NAME .. ") = {}$")
        local owner, sep, fname, params = raw:match("^function (" .. NAME .. ")([.:])(" .. NAME .. ")%(([^)]*)%) end$")
        local fowner, field = raw:match("^(" .. NAME .. ")%.(" .. NAME .. ") = nil$")
        local ret = raw:match("^return (" .. NAME .. ")$")
        if lname then
          if block and block.class then
            locals[lname] = block.class.name
          else
            if block then err(file, n, "annotations before a plain table") end
            locals[lname] = true
          end
        elseif owner then
          if locals[owner] == nil then err(file, n, "%s is not a local table of this file", owner) end
          local names = {}
          for p in params:gmatch("[^,%s]+") do names[#names + 1] = p end
          local fn = { name = fname, params = names, doc_params = block and block.params or {},
                       returns = block and block.returns or {}, overloads = block and block.overloads or {},
                       method = sep == ":", line = n, doc = block and block.text or nil }
          if not block then err(file, n, "%s%s%s has no annotations", owner, sep, fname) end
          if block and block.class then err(file, n, "a class's annotations before a function") end
          -- @param names: the function's parameters, in order
          local want = table.concat(names, ", ")
          local got = {}
          for i, p in ipairs(fn.doc_params) do got[i] = p.name end
          if #got > 0 or #names > 0 then
            if table.concat(got, ", ") ~= want then
              err(file, n, "%s%s%s: @param %s, but the parameters are %s", owner, sep, fname,
                  #got > 0 and table.concat(got, ", ") or "(none)", want ~= "" and want or "(none)")
            end
          end
          if locals[owner] == true then
            if sep == ":" then err(file, n, "%s:%s: a module function written as a method", owner, fname) end
            if module.functions[fname] then err(file, n, "%s.%s is defined twice", owner, fname) end
            module.functions[fname] = fn
          elseif type(locals[owner]) == "string" then
            local class = model.classes[locals[owner]]
            if sep ~= ":" then err(file, n, "%s.%s: a method written as a function", owner, fname) end
            if class.methods[fname] or class.fields.by_name[fname] then
              err(file, n, "%s:%s is defined twice", class.name, fname)
            end
            class.methods[fname] = fn
          end
          block = nil
        elseif fowner then
          if locals[fowner] ~= true then err(file, n, "%s is not the module table", fowner) end
          if not (block and block.type) then
            err(file, n, "%s.%s has no @type", fowner, field)
          else
            if module.fields[field] then err(file, n, "%s.%s is defined twice", fowner, field) end
            module.fields[field] = { type = block.type, doc = block.text or nil, line = n }
          end
          block = nil
        elseif ret then
          if locals[ret] ~= true then err(file, n, "returns %s, not the module table", ret) end
          module_local = ret
          if block then err(file, n, "annotations before return") end
        else
          err(file, n, "a line this reader does not know: %s", raw)
        end
      end
    end
    if block and (#block.params > 0 or #block.returns > 0 or block.type) then
      err(file, n, "annotations at the end of the file")
    end
    if not meta then err(file, 1, "no ---@meta line") end
    if meta and meta ~= "_" then
      if not module_local then err(file, n, "@meta %s: the file returns no module table", meta) end
      if model.modules[meta] then err(file, 1, "module %s is described twice", meta) end
      model.modules[meta] = module
    elseif module_local or next(module.functions) then
      err(file, 1, "@meta _ with module functions: name the module")
    end
    model.files[#model.files + 1] = { name = file, meta = meta }
  end

  -- Every type name used is built in or declared.
  for _, u in ipairs(used) do
    each_name(u.node, function(name)
      if not (M.BUILTIN[name] or model.classes[name] or model.aliases[name]) then
        err(u.file, u.line, "unknown type %s", name)
      end
    end)
  end
  table.sort(errors)
  return model, errors
end

-- The fields of a class and of its parents, by name.
function M.all_fields(model, name, into)
  into = into or {}
  local class = model.classes[name]
  if not class then return into end
  for _, p in ipairs(class.parents) do M.all_fields(model, p, into) end
  for _, f in ipairs(class.fields.list) do into[f.name] = f end
  return into
end

return M
