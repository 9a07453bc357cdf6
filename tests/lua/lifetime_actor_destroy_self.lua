-- options: --workers 2
-- An actor destroyed from its own code stops once that code yields: the
-- handler that destroys it finishes, the rest of its batch of messages is
-- dropped, its parked threads never resume. An actor queued for the
-- parallel phase when destroyed runs nothing there. A folder's Destroy
-- stops the actors nested in it.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local st = SharedTable.new({ handled = 0, after = 0, woke = 0, par = 0, nested = 0 })

local a = U.actor("Self", [[
    local actor = script:GetActor()
    task.delay(0, function() task.wait(0.05) end) -- a parked timer thread
    actor:BindToMessage("m", function(st, last)
        SharedTable.increment(st, "handled", 1)
        if last then
            actor:Destroy()
            SharedTable.increment(st, "after", 1) -- still runs: no yield yet
            task.wait()
            SharedTable.increment(st, "woke", 1) -- never: the actor is gone
        end
    end)
]])
task.wait()
for i = 1, 5 do a:SendMessage("m", st, i == 3) end
task.wait()
task.wait()
assert(st.handled == 3, "handled " .. st.handled .. " messages, expected 3")
assert(st.after == 1 and st.woke == 0, "after " .. st.after .. " woke " .. st.woke)

-- destroyed while queued for the parallel phase
local p = U.actor("Par", [[
    script:GetActor():BindToMessageParallel("go", function(st)
        SharedTable.increment(st, "par", 1)
    end)
]])
task.wait()
p:SendMessage("go", st)
p:Destroy()
task.wait()
task.wait()
assert(st.par == 0, "a destroyed actor ran in parallel")

-- nested actors under a Folder
local folder = Instance.new("Folder")
local outer = U.actor("Outer", [[
    script:GetActor():BindToMessage("st", function(st)
        game:GetService("RunService").Heartbeat:ConnectParallel(function()
            SharedTable.increment(st, "nested", 1)
        end)
    end)
]], folder)
local inner = U.actor("Inner", [[
    game:GetService("RunService").Heartbeat:Connect(function() end)
    script:GetActor():BindToMessage("st", function(st)
        game:GetService("RunService").Heartbeat:Connect(function()
            SharedTable.increment(st, "nested", 1)
        end)
    end)
]], outer)
folder.Parent = workspace
task.wait()
inner:SendMessage("st", st)
outer:SendMessage("st", st)
task.wait()
task.wait()
assert(st.nested > 0, "the nested actor never ran")
folder:Destroy()
local n = st.nested
for _ = 1, 4 do task.wait() end
assert(st.nested == n, "a nested actor ran after its Folder was destroyed")
assert(inner.Parent == nil and outer.Parent == nil)
print("OK")
