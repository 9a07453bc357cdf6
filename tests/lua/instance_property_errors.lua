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

-- The tree's depth is limited (its walks recurse in C): a path from a root
-- to a leaf holds at most 1000 instances, whichever end the move adds to.
local function chain(n) -- n folders, each the parent of the next
  local top = Instance.new("Folder")
  local bottom = top
  for _ = 2, n do
    local f = Instance.new("Folder")
    f.Parent = bottom
    bottom = f
  end
  return top, bottom
end
local top, bottom = chain(1000)
fails("Cannot set the parent of Folder: a path in the instance tree would hold more than 1000 instances",
  function() Instance.new("Folder").Parent = bottom end)
fails("more than 1000 instances", function() top.Parent = workspace end) -- game, Workspace, +1000
local top2, bottom2 = chain(998)
top2.Parent = workspace -- game, Workspace and 998: exactly 1000
assert(#top2:GetDescendants() == 997 and top2.Parent == workspace)
fails("more than 1000 instances", function() Instance.new("Folder").Parent = bottom2 end)
local _, bottom3 = chain(999)
local leaf = Instance.new("Folder")
Instance.new("Folder").Parent = leaf
fails("more than 1000 instances", function() leaf.Parent = bottom3 end) -- 999 + 2
assert(leaf.Parent == nil)
print("OK")
