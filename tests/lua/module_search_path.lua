-- Every VM starts with the main VM's package.path and package.cpath as they
-- are when the VM is created (its first script starts), so require finds
-- the same modules everywhere; an actor's own changes stay its own.
local lib = (arg[0]:match("^(.*)/") or ".") .. "/lib"
package.path = lib .. "/?.lua;" .. package.path
package.cpath = "/nonexistent/parlua/?.so;" .. package.cpath

local function actor(name, source)
    local a = Instance.new("Actor")
    a.Name = name
    local s = Instance.new("Script")
    s.Source = source
    s.Parent = a
    a.Parent = workspace
    return a
end

-- no prelude: the actor's script relies on the inherited path alone
local check = string.format([[
    assert(package.path == %q, "package.path: " .. package.path)
    assert(package.cpath == %q, "package.cpath: " .. package.cpath)
    local U = require("util")
    package.path = "changed in the actor"
    U.signal("required")
]], package.path, package.cpath)
actor("First", check)
local deadline = time() + 30
while not workspace:FindFirstChild("required") do
    assert(time() < deadline, "the actor could not require util")
    task.wait()
end
assert(package.path:sub(1, #lib) == lib, "the actor's change leaked into the main VM")

-- a later change in the main VM reaches VMs created after it
package.path = lib .. "/?.lua;./?.lua"
actor("Second", string.format([[
    assert(package.path == %q, "package.path: " .. package.path)
    require("util").signal("second")
]], package.path))
while not workspace:FindFirstChild("second") do
    assert(time() < deadline, "the second actor did not see the new path")
    task.wait()
end
print("OK")
