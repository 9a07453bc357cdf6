-- Assigning a property a value of the wrong type, or moving a service or a
-- destroyed instance, raises an error naming the property and the rule,
-- and changes nothing.
local function fails(pattern, fn)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  assert(tostring(err):find(pattern, 1, true), "got: " .. tostring(err))
end

local f = Instance.new("Folder")
fails("Property Folder.Parent must be an Instance or nil, got string", function() f.Parent = "x" end)
fails("Property Folder.Name must be a string, got table", function() f.Name = {} end)
assert(f.Name == "Folder" and f.Parent == nil)
f.Name = 42 -- numbers convert, as Lua strings do
assert(f.Name == "42")

local s = Instance.new("Script")
fails("Property Script.Source must be a string, got nil", function() s.Source = nil end)
fails("Property Script.Path must be a string, got boolean", function() s.Path = true end)
assert(s.Source == "" and s.Path == nil)

fails("The Parent property of Workspace is locked: it is a service", function() workspace.Parent = nil end)
fails("The Parent property of game is locked: it is a service", function() game.Parent = workspace end)
fails("The Parent property of RunService is locked: it is a service",
  function() game:GetService("RunService").Parent = workspace end)
assert(workspace.Parent == game)

f.Parent = workspace
f:Destroy()
assert(f.Parent == nil)
fails("The Parent property of 42 is locked: it was destroyed", function() f.Parent = workspace end)
assert(#workspace:GetChildren() == 0)

fails("bad argument #1 to 'spawn' (function or thread expected, got number)", function() task.spawn(5) end)
print("OK")
