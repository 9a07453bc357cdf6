-- __index keeps the methods it found last by (class, name)
-- (src/lib/instance.c, the method cache). Whatever was looked up before, a
-- name resolves by the instance's own class: a member of another class is
-- not a member here, a child of that name is found, a method called on an
-- instance of the wrong class raises, and many methods looked up in turn
-- (more than the cache holds) each give their own results.
local actor = Instance.new("Actor")
actor.Name = "A"
actor.Parent = workspace
local folder = Instance.new("Folder")
folder.Name = "F"
folder.Parent = workspace

for _ = 1, 3 do assert(type(actor.SendMessage) == "function") end
local send = actor.SendMessage

-- no other class has SendMessage: not a member, whatever is cached (every
-- class, so that some share the Actor's cache slot)
local others = {
    folder, workspace, game, game:GetService("RunService"), Instance.new("Script"),
    Instance.new("ModuleScript"), Instance.new("BindableEvent"),
}
for _, inst in ipairs(others) do
    for _, name in ipairs({ "SendMessage", "BindToMessage", "BindToMessageParallel" }) do
        assert(type(actor[name]) == "function")
        local ok, err = pcall(function() return inst[name] end)
        assert(not ok and err:find(name .. " is not a valid member of " .. inst.ClassName, 1, true),
            err)
    end
end
local ok, err
-- ... but a child of that name is found
local child = Instance.new("Folder")
child.Name = "SendMessage"
child.Parent = folder
for _ = 1, 3 do assert(folder.SendMessage == child) end
assert(actor.SendMessage == send)
-- the cached method checks its instance when called
ok, err = pcall(send, folder, "t")
assert(not ok and err:find("SendMessage is not a valid member of Folder", 1, true), err)

-- many methods and classes in turn
for i = 1, 50 do
    assert(actor:IsA("Actor") and not folder:IsA("Actor"))
    assert(actor:GetFullName() == "Workspace.A" and folder:GetFullName() == "Workspace.F")
    assert(folder:FindFirstChild("SendMessage") == child)
    assert(#folder:GetChildren() == 1 and #actor:GetChildren() == 0)
    assert(workspace:FindFirstChild("A") == actor)
    assert(actor:GetActor() == actor, i)
    local k = i % 3 == 0 and "GetChildren" or "IsA"
    assert(type(folder[k]) == "function")
end
-- a number key is a name too (a child named "1")
local one = Instance.new("Folder")
one.Name = "1"
one.Parent = folder
assert(folder[1] == one and folder["1"] == one)
print("OK")
