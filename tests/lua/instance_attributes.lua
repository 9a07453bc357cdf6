-- Attributes (SPEC 2.1): nil, booleans, numbers (integer or float kept)
-- and strings; anything else raises and changes nothing; names are checked;
-- GetAttributes; Clone copies them; AttributeChanged fires only on a change.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local f = Instance.new("Folder")
assert(f:GetAttribute("missing") == nil)
f:SetAttribute("b", true)
f:SetAttribute("i", 42)
f:SetAttribute("x", 1.5)
f:SetAttribute("s", "text\0with nul")
f:SetAttribute("Under_score9", false)
assert(f:GetAttribute("b") == true and math.type(f:GetAttribute("i")) == "integer")
assert(f:GetAttribute("x") == 1.5 and f:GetAttribute("s") == "text\0with nul")
assert(f:GetAttribute("Under_score9") == false)

for _, bad in ipairs({ {}, print, coroutine.create(print), f, SharedTable.new() }) do
  U.raises_with("cannot hold a " .. type(bad) .. " value (attributes hold nil, booleans, numbers and strings)",
    function() f:SetAttribute("i", bad) end)
end
assert(f:GetAttribute("i") == 42, "a refused value changed the attribute")
for _, name in ipairs({ "", "has space", "dot.ted", "RBXName", string.rep("a", 101) }) do
  U.raises_with("is not valid: use 1 to 100 letters, digits and underscores", function() f:SetAttribute(name, 1) end)
end
U.raises_with("bad argument", function() f:SetAttribute(nil, 1) end)

local all = f:GetAttributes()
local n = 0
for k, v in pairs(all) do n = n + 1; assert(f:GetAttribute(k) == v) end
assert(n == 5)
f:SetAttribute("b", nil)
assert(f:GetAttribute("b") == nil and f:GetAttributes().b == nil)

local copy = f:Clone()
assert(copy:GetAttribute("s") == "text\0with nul" and copy:GetAttribute("x") == 1.5)
copy:SetAttribute("x", 2)
assert(f:GetAttribute("x") == 1.5, "a clone shares its attributes with the original")

local changes = {}
f.AttributeChanged:Connect(function(name) changes[#changes + 1] = name end)
f:SetAttribute("i", 42)   -- same value: no change
f:SetAttribute("i", 43)
f:SetAttribute("gone", nil) -- was not there: no change
f:SetAttribute("x", nil)
task.wait()
assert(table.concat(changes, ",") == "i,x", table.concat(changes, ","))
print("OK")
