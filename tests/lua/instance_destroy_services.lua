-- game, Workspace and RunService cannot be destroyed (SPEC 2.1): Destroy
-- raises a clear error and leaves them in place. game:Destroy() used to
-- loop forever (its services refused to leave it) and workspace:Destroy()
-- "succeeded", leaving a destroyed Workspace in game. Any other instance,
-- even one destroyed already, can still be destroyed.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local f = Instance.new("Folder", workspace)
U.raises_with("Cannot destroy game: it is a service", function() game:Destroy() end)
U.raises_with("Cannot destroy Workspace: it is a service", function() workspace:Destroy() end)
local rs = game:GetService("RunService")
U.raises_with("Cannot destroy RunService: it is a service", function() rs:Destroy() end)
assert(workspace.Parent == game and rs.Parent == game, "a service left game")
assert(f.Parent == workspace, "a refused Destroy still destroyed descendants")
-- still usable: parenting into Workspace works
local g = Instance.new("Folder")
g.Parent = workspace
assert(g.Parent == workspace)
g:Destroy()
g:Destroy() -- twice is fine, as in Roblox
assert(g.Parent == nil)
U.raises_with("locked", function() g.Parent = workspace end)
f:Destroy()
assert(#workspace:GetChildren() == 0)
print("OK")
