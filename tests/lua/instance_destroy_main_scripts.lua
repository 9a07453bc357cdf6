-- Destroy of an instance stops the Scripts in its subtree in the main VM too
-- (SPEC 2.1, issue 8 item 16): their loops, spawned threads, timers, parked
-- waits, Heartbeat connections, signal connections and message bindings all
-- stop, so the runtime exits. Before the fix the script printed forever.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local folder = Instance.new("Folder")
folder.Name = "Holder"
folder.Parent = workspace
local ev = Instance.new("BindableEvent")
ev.Name = "Ev"
ev.Parent = workspace
local mutex = sync.Mutex()
mutex:lock() -- held by the main script: the destroyed script parks on it

local s = Instance.new("Script")
s.Source = U.prelude() .. [[
  local ticks = SharedTableRegistry:GetSharedTable("ticks")
  task.spawn(function() while true do task.wait(0.005); ticks.spawned = (ticks.spawned or 0) + 1 end end)
  task.delay(0.5, function() ticks.delayed = true end)
  game:GetService("RunService").Heartbeat:Connect(function() ticks.hb = (ticks.hb or 0) + 1 end)
  workspace.Ev.Event:Connect(function() ticks.event = true end)
  task.spawn(function() _G.mutex:lock(); ticks.locked = true end)
  task.spawn(function() workspace:WaitForChild("Never"); ticks.found = true end)
  while true do ticks.loop = (ticks.loop or 0) + 1; print("tick"); task.wait(0.005) end
]]
_G.mutex = mutex
s.Parent = folder
local ticks = SharedTableRegistry:GetSharedTable("ticks")
local deadline = time() + 30 -- frame by frame: a loaded machine is slow
while not ((ticks.loop or 0) > 0 and (ticks.spawned or 0) > 0 and (ticks.hb or 0) > 0) do
  assert(time() < deadline, "the script did not run")
  task.wait()
end
folder:Destroy()
local loop, spawned, hb = ticks.loop, ticks.spawned, ticks.hb
ev:Fire()
mutex:unlock() -- a parked waiter of the destroyed script would take it
local n = Instance.new("Folder")
n.Name = "Never"
n.Parent = workspace
task.wait(0.6)
assert(ticks.loop == loop, "the destroyed script's loop went on")
assert(ticks.spawned == spawned, "a thread it spawned went on")
assert(ticks.hb == hb, "its Heartbeat connection still ran")
assert(ticks.delayed == nil and ticks.event == nil and ticks.locked == nil and ticks.found == nil,
  "a delayed thread, a signal handler or a parked thread of it ran")
assert(mutex:trylock(), "a destroyed script's parked thread took the mutex")
assert(s.Parent == nil)
print("OK") -- and the runtime must exit: nothing of the script keeps it alive
