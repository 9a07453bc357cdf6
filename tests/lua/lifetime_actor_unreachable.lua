-- An Actor that left the tree and that nothing else refers to, with
-- nothing left to run, has its VM freed without Destroy (SPEC 2.1): a churn
-- of detached actors does not pile up VMs. Anything that can still reach
-- or wake it keeps it: a reference from another VM (to it or to one of its
-- Scripts), a timer, a Heartbeat connection, a message waiting for a bound
-- topic.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local function live()
    local names = {}
    for _, a in ipairs(parlua.actors()) do names[a.name] = true end
    return names
end
local function count()
    local n = 0
    for _ in pairs(live()) do n = n + 1 end
    return n
end
local function settle()
    collectgarbage()
    collectgarbage()
    for _ = 1, 60 do task.wait() end -- the sweep looks at a few VMs a frame
end

-- churn: 5 rounds of 200 actors that bind a topic, run, then are dropped
for round = 1, 5 do
    for i = 1, 200 do
        local a = U.actor("Churn" .. i, [[
            script.Parent:BindToMessage("ping", function() end)
            task.wait()
        ]])
        a:SendMessage("ping")
    end
    task.wait(0.02)
    for _, a in ipairs(workspace:GetChildren()) do a.Parent = nil end
    settle()
    assert(count() == 0, "round " .. round .. ": " .. count() .. " unreachable actors kept their VM")
end

-- what keeps a detached actor alive
local kept = U.actor("KeptByReference", "task.wait()")
local _, script = U.actor("KeptByItsScript", "task.wait()")
U.actor("KeptByTimer", "task.wait(5)")
U.actor("KeptByHeartbeat", [[
    local c = game:GetService('RunService').Heartbeat:Connect(function() end)
    script.Parent:BindToMessage("stop", function() c:Disconnect() end)
]])
U.actor("KeptByWaitingMessage", [[
    script.Parent:BindToMessage("late", function() end)
    task.wait()
]])
local gone = U.actor("Gone", "task.wait()")
task.wait(0.05)
local waiting = workspace.KeptByWaitingMessage
local heartbeat, timed = workspace.KeptByHeartbeat, workspace.KeptByTimer
for _, a in ipairs(workspace:GetChildren()) do a.Parent = nil end
gone = nil
settle()
local names = live()
assert(names.KeptByReference and names.KeptByItsScript, "a reference keeps it")
assert(names.KeptByTimer, "a pending timer keeps it")
assert(names.KeptByHeartbeat, "a Heartbeat connection keeps it")
assert(names.KeptByWaitingMessage, "a reference keeps it")
heartbeat:SendMessage("stop") -- or the runtime would run forever
timed:Destroy()
assert(not names.Gone, "the dropped actor's VM was freed")
-- a referenced one still works: it gets a message and runs the handler
waiting:SendMessage("late")
kept.Parent = workspace
assert(kept.Parent == workspace and script.Parent.Name == "KeptByItsScript")
print("OK")
