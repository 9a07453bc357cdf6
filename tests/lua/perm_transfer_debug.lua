-- expect-status: 1
-- expect-stderr: ^parlua: message delivery failed in actor Workspace\.Box: cannot deliver message "go": cannot decode transferred values: function 'debug\.getinfo' is not available in the receiving VM
-- A closure whose upvalue is a debug function, sent from a VM with every
-- permission to an actor without `debug`, does not arrive: the codec names
-- C functions and the receiver has no debug library (docs/permissions.md).
-- The handler never runs (it would print "ESCAPED").
local a = Instance.new("Actor", workspace, { allow = {} })
a.Name = "Box"
local s = Instance.new("Script")
s.Source = [[
script:GetActor():BindToMessage("go", function(f) print("ESCAPED", f()) end)
]]
s.Parent = a
local getinfo = debug.getinfo
a:SendMessage("go", function() return getinfo(1) end)
print("sent")
