-- Signals across VMs (SPEC 2.1, 1.3): a handler runs in the VM of the
-- script that connected it, in its phase (Connect: serial, ConnectParallel:
-- parallel), with the values transferred; a signal fired in parallel runs
-- serial handlers in the next serial phase; attribute signals of an
-- instance the actor owns, changed in parallel, reach the main VM.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local ev = Instance.new("BindableEvent")
ev.Name = "Ev"
ev.Parent = workspace
local results = SharedTableRegistry:GetSharedTable("results")

U.actor("Listener", [[
  local results = SharedTableRegistry:GetSharedTable("results")
  local ev = workspace.Ev
  ev.Event:Connect(function(t)
    results.serial = parlua.phase() .. ":" .. tostring(script:GetActor() ~= nil) .. ":" .. t.x
  end)
  ev.Event:ConnectParallel(function(t)
    results.parallel = parlua.phase() .. ":" .. t.x
  end)
  -- fire from parallel code: the main VM's serial handler waits for serial
  local mine = Instance.new("Folder")
  mine.Name = "Mine"
  mine.Parent = script:GetActor()
  workspace.Ev.Event:Once(function()
    task.desynchronize()
    mine:SetAttribute("hp", 10) -- LocalSafe: its creator may write in parallel
    ev:Fire({x = "from-parallel"})
    results.fired_in = parlua.phase()
  end)
  U.signal("Bound")
]])
U.wait_signal("Bound")
local mine = workspace.Listener.Mine
local main_log = {}
ev.Event:Connect(function(t) main_log[#main_log + 1] = parlua.phase() .. ":" .. t.x end)
mine:GetAttributeChangedSignal("hp"):Connect(function()
  main_log[#main_log + 1] = "hp=" .. mine:GetAttribute("hp") .. ":" .. parlua.phase()
end)
ev:Fire({x = "main"})
local deadline = time() + 10
while not (results.serial and results.parallel and results.fired_in and #main_log >= 3) do
  assert(time() < deadline, "signals did not arrive")
  task.wait()
end
assert(results.serial == "serial:true:main", results.serial)
assert(results.parallel:match("^parallel:"), results.parallel)
assert(results.fired_in == "parallel")
table.sort(main_log)
assert(table.concat(main_log, " ") == "hp=10:serial serial:from-parallel serial:main", table.concat(main_log, " "))
-- a value that cannot cross raises in the firing code, and nothing is sent
U.raises_with("cannot transfer a value of type 'thread'", function() ev:Fire(coroutine.create(print)) end)
print("OK")
