local soget = require "soget"

describe("soget.check_container_number", function()
  local good = {"CSQU3054383", "MSKU9070323", "TGHU1234567", "MAEU1234567"}
  for _, s in ipairs(good) do
    it("accepts " .. s, function()
      local ok, why = soget.check_container_number(s)
      assert.is_true(ok, why)
      assert.is_nil(why)
    end)
  end

  -- value, part of the reason
  local bad = {
    {"CGMU2436601", "check digit is 1, expected 8"},  -- the spec's own example
    {"CSQU3054384", "check digit is 4, expected 3"},
    {"CSQU305438", "11 characters"},
    {"CSQU30543833", "11 characters"},
    {"csqu3054383", "capital letters"},
    {"C1QU3054383", "capital letters"},
    {"CSQX3054383", "category identifier"},
    {"CSQU30A4383", "digits"},
    {"", "11 characters"},
    -- 11 characters, not 11 bytes: the reason of the position, ASCII only
    {"\195\132BCU1234567", "owner code (characters 1-3) must be capital letters"},
    {"\239\188\163SQU3054383", "owner code (characters 1-3) must be capital letters"},
    {"CSQU\239\188\1473054383", "11 characters"},   -- twelve, one fullwidth
  }
  for _, case in ipairs(bad) do
    it("refuses '" .. case[1] .. "' with a reason", function()
      local ok, why = soget.check_container_number(case[1])
      assert.is_false(ok)
      assert.truthy(why:find(case[2], 1, true), why)
    end)
  end

  it("raises on a non-string", function()
    assert.has_error(function() soget.check_container_number(nil) end)
  end)
end)
