-- The LocalSafe level (SPEC 2.3): SetAttribute in parallel works on an
-- instance the calling actor created, and raises on one created by another
-- actor or the main VM (naming the owner rule); reading attributes of any
-- instance (Safe) works in parallel; in serial everything works. Also the
-- other new members' levels: WaitForChild is Unsafe, signals may be
-- connected (Safe) and BindableEvent:Fire (Safe) in parallel.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local shared = Instance.new("Folder")
shared.Name = "MainOwned"
shared:SetAttribute("v", 1)
shared.Parent = workspace

U.actor("Owner", [[
  local own = Instance.new("Folder")
  own.Name = "Own"
  own.Parent = script:GetActor()
  U.signal("OwnerReady")
  U.wait_signal("CheckerDone")
  task.desynchronize()
  own:SetAttribute("hp", 5)                  -- its own instance: fine in parallel
  assert(own:GetAttribute("hp") == 5)
  U.raises("Function Instance.SetAttribute is not safe to call in parallel on an instance another actor created (call task.synchronize() first)",
    function() workspace.MainOwned:SetAttribute("v", 2) end)
  assert(workspace.MainOwned:GetAttribute("v") == 1)
  task.synchronize()
  U.signal("OwnerDone")
]])
U.wait_signal("OwnerReady")
U.actor("Checker", [[
  local own = workspace.Owner.Own
  task.desynchronize()
  assert(own:GetAttribute("hp") == nil and workspace.MainOwned:GetAttribute("v") == 1) -- Safe reads
  assert(next(workspace.MainOwned:GetAttributes()) == "v")
  U.raises_with("Function Instance.SetAttribute is not safe to call in parallel on an instance another actor created",
    function() own:SetAttribute("hp", 1) end)
  U.raises("Function Instance.WaitForChild is not safe to call in parallel (call task.synchronize() first)",
    function() workspace:WaitForChild("Owner") end)
  local c = own.AttributeChanged:Connect(function() end) -- Safe
  c:Disconnect()
  local ev = Instance.new("BindableEvent")
  ev:Fire(1) -- Safe
  task.synchronize()
  own:SetAttribute("hp", 1) -- serial: anything goes
  assert(own:GetAttribute("hp") == 1)
  own:SetAttribute("hp", nil)
  U.signal("CheckerDone")
]])
U.wait_signal("OwnerDone")
assert(workspace.Owner.Own:GetAttribute("hp") == 5)
shared:SetAttribute("v", 3) -- serial, main VM: fine
print("OK")
