-- WaitForChild(name [, timeout]) (SPEC 2.1): returns a child that is there
-- at once; else parks the thread (other code runs) until a child of that
-- name is added or renamed, from any VM; with a timeout returns nil after
-- it; an infinite wait warns once after 5 s, as Roblox does.
-- expect-stderr: ^parlua: warning: infinite yield possible on 'Workspace:WaitForChild\("Late"\)' at .*instance_wait_for_child.lua:[0-9]+$
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local f = Instance.new("Folder")
f.Name = "Box"
f.Parent = workspace
local here = Instance.new("Folder", f)
here.Name = "Here"
assert(f:WaitForChild("Here") == here)

local order = {}
task.spawn(function()
  local c = f:WaitForChild("Soon")
  order[#order + 1] = "got " .. c.Name
end)
order[#order + 1] = "waiting"
local soon = Instance.new("Folder")
soon.Name = "Soon"
soon.Parent = f
task.wait(); task.wait()
assert(table.concat(order, ",") == "waiting,got Soon", table.concat(order, ","))

-- renamed into place
local renamed
task.spawn(function() renamed = f:WaitForChild("Renamed") end)
local r = Instance.new("Folder", f)
task.wait()
assert(renamed == nil)
r.Name = "Renamed"
task.wait(); task.wait()
assert(renamed == r)

-- timeout
local t0 = time()
assert(f:WaitForChild("Never", 0.05) == nil)
assert(time() - t0 >= 0.05)

-- added by an actor
U.actor("Adder", [[
  task.wait(0.05)
  local c = Instance.new("Folder")
  c.Name = "FromActor"
  c.Parent = workspace.Box
]])
assert(f:WaitForChild("FromActor", 10).Name == "FromActor")

-- the 5 s warning (one line on stderr), then it still returns the child
task.delay(5.3, function() local l = Instance.new("Folder"); l.Name = "Late"; l.Parent = workspace end)
assert(workspace:WaitForChild("Late").Name == "Late")
U.raises_with("bad argument #1 to 'WaitForChild'", function() f:WaitForChild() end)
print("OK")
