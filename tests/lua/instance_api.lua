-- Instance API basics (SPEC 2.1, 12): Name defaults to the class name,
-- ClassName, Parent, Instance.new(class, parent), GetChildren,
-- GetDescendants, FindFirstChild (direct and recursive), child access by
-- name, IsA, GetActor, GetFullName, Destroy; a cycle, an unknown class and
-- an unknown member raise.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

-- the tree's roots
assert(game.ClassName == "DataModel" and game:IsA("DataModel") and game.Parent == nil)
assert(workspace.ClassName == "Workspace" and workspace.Parent == game)
assert(game:GetService("Workspace") == workspace)
assert(game:GetService("RunService").ClassName == "RunService")
assert(game:GetFullName() == "game", game:GetFullName())

-- Name defaults to the class name
for _, cls in ipairs({ "Folder", "Actor", "Script" }) do
    local i = Instance.new(cls)
    assert(i.Name == cls, cls .. " named " .. i.Name)
    assert(i.ClassName == cls and i:IsA(cls) and i:IsA("Instance"))
    assert(i.Parent == nil)
    assert(tostring(i) == cls)
end

-- Parent, GetChildren, GetDescendants
local a = Instance.new("Folder")
a.Name = "A"
local b = Instance.new("Folder", a)
b.Name = "B"
local c = Instance.new("Folder", b)
c.Name = "C"
local b2 = Instance.new("Folder")
b2.Name = "B2"
b2.Parent = a
assert(b.Parent == a and c.Parent == b and b2.Parent == a)
local kids = a:GetChildren()
assert(#kids == 2 and kids[1] == b and kids[2] == b2, "GetChildren order/contents")
local desc = a:GetDescendants()
assert(#desc == 3, "GetDescendants: " .. #desc)
local set = {}
for _, d in ipairs(desc) do set[d] = true end
assert(set[b] and set[b2] and set[c])
assert(#c:GetChildren() == 0)

-- FindFirstChild: direct only unless recursive
assert(a:FindFirstChild("B") == b)
assert(a:FindFirstChild("C") == nil, "FindFirstChild found a grandchild without recursive")
assert(a:FindFirstChild("C", true) == c)
assert(a:FindFirstChild("nope", true) == nil)
assert(a.B == b and a.B.C == c, "child access by name")

-- IsA along the class chain
local actor = Instance.new("Actor")
assert(actor:IsA("Actor") and actor:IsA("Instance") and not actor:IsA("Folder"))
assert(not a:IsA("Actor") and not a:IsA("NoSuchClass"))

-- GetFullName: up to (not including) game
a.Parent = workspace
assert(c:GetFullName() == "Workspace.A.B.C", c:GetFullName())
assert(workspace:GetFullName() == "Workspace", workspace:GetFullName())

-- GetActor: the closest Actor ancestor, the actor itself, or nil
assert(c:GetActor() == nil)
local inner = Instance.new("Folder", actor)
local deeper = Instance.new("Folder", inner)
assert(deeper:GetActor() == actor and inner:GetActor() == actor and actor:GetActor() == actor)
local actor2 = Instance.new("Actor", deeper)
local leaf = Instance.new("Folder", actor2)
assert(leaf:GetActor() == actor2, "GetActor must be the closest actor")

-- renaming is visible through the tree
b.Name = "Bee"
assert(a:FindFirstChild("Bee") == b and a:FindFirstChild("B") == nil)
assert(c:GetFullName() == "Workspace.A.Bee.C")

-- cycles raise and change nothing
U.raises_with("circular reference", function() a.Parent = c end)
U.raises_with("circular reference", function() a.Parent = a end)
assert(a.Parent == workspace and c.Parent == b)

-- unknown class, uncreatable class
U.raises_with("NoSuchClass", Instance.new, "NoSuchClass")
U.raises_with("DataModel", Instance.new, "DataModel")

-- unknown member: read, write and method call
U.raises('Frobnicate is not a valid member of Folder "A"', function() return a.Frobnicate end)
U.raises('Frobnicate is not a valid member of Folder "A"', function() a.Frobnicate = 1 end)
U.raises('Frobnicate is not a valid member of Folder "A"', function() a:Frobnicate() end)
-- Source is a member of Script only
U.raises('Source is not a valid member of Folder "A"', function() return a.Source end)
-- read-only property
U.raises_with("read only", function() a.ClassName = "Actor" end)

-- moving and removing
b.Parent = nil
assert(b.Parent == nil and #a:GetChildren() == 1 and c.Parent == b)
b.Parent = workspace
assert(c:GetFullName() == "Workspace.Bee.C")

-- Destroy: out of the tree, with its descendants, Parent locked
b:Destroy()
assert(b.Parent == nil and #b:GetChildren() == 0 and c.Parent == nil)
assert(workspace:FindFirstChild("Bee") == nil)
U.raises_with("locked", function() b.Parent = workspace end)
print("OK")
