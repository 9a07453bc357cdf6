-- Script.Enabled (SPEC 2.1): a disabled script does not start when it
-- joins the game; Enabled = false stops a running one (its threads and
-- connections, in the main VM and in an actor); true starts it again from
-- the top. A message sent after its binding stopped waits, as after a
-- Disconnect, and is reported at exit.
-- expect-stderr: never delivered.*topic "ping"
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local st = SharedTableRegistry:GetSharedTable("enabled")
local function until_(cond, what) -- waits frame by frame (a loaded machine is slow)
  local deadline = time() + 30
  while not cond() do
    assert(time() < deadline, "timed out: " .. what)
    task.wait()
  end
end

local s = Instance.new("Script")
s.Source = [[
  local st = SharedTableRegistry:GetSharedTable("enabled")
  st.starts = (st.starts or 0) + 1
  game:GetService("RunService").Heartbeat:Connect(function() st.hb = (st.hb or 0) + 1 end)
  while true do st.ticks = (st.ticks or 0) + 1; task.wait(0.005) end
]]
assert(s.Enabled == true)
s.Enabled = false
s.Parent = workspace
task.wait(0.03)
assert(st.starts == nil, "a disabled script started")
s.Enabled = true
until_(function() return st.starts == 1 and (st.ticks or 0) > 1 and (st.hb or 0) > 0 end, "start")
s.Enabled = false
local ticks, hb = st.ticks, st.hb
task.wait(0.03)
assert(st.ticks == ticks and st.hb == hb, "Enabled = false did not stop it")
s.Enabled = true
until_(function() return st.starts == 2 and st.ticks > ticks end, "Enabled = true did not restart it")
s.Enabled = false
U.raises("Property Script.Enabled must be a boolean, got number", function() s.Enabled = 1 end)

-- in an actor, stopped from the main VM
local a, as = U.actor("Worker", [[
  local st = SharedTableRegistry:GetSharedTable("enabled")
  script:GetActor():BindToMessage("ping", function() st.pings = (st.pings or 0) + 1 end)
  while true do st.actor = (st.actor or 0) + 1; task.wait(0.005) end
]])
until_(function() return (st.actor or 0) > 0 end, "the actor's script")
as.Enabled = false
local n = st.actor
a:SendMessage("ping")
task.wait(0.03)
assert(st.actor == n and st.pings == nil, "the actor's script went on")
print("OK")
