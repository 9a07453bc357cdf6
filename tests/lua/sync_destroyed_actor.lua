-- An actor destroyed while its threads wait on sync objects: their waits
-- end with the actor (nothing is handed to a freed thread, no crash), a
-- lock handed to one of them passes on, and nothing is reported as a
-- deadlock, since nothing waits any more. Checked under ASan by make asan.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local m, q, parked = sync.Mutex(), sync.Queue(), sync.Atomic(0)
local victim = U.actor("Victim", [[
    script:GetActor():BindToMessage("wait", function(m, q, parked)
        task.spawn(function() parked:add(1); q:get(5) end)   -- parked with a timeout
        task.spawn(function() parked:add(1); m:lock() end)   -- parked on a held mutex
    end)
]])
m:lock()
victim:SendMessage("wait", m, q, parked)
while parked:get() < 2 do task.wait() end
task.wait()
victim:Destroy()
task.wait() -- the VM goes between frames
m:unlock() -- nobody waits on it any more
assert(not m:locked(), "the lock went to a thread of a destroyed actor")
q:put("x")
assert(q:get_nowait() == "x", "the item went to a thread of a destroyed actor")
-- a second actor that is handed a lock it never sees: it passes on
local second = U.actor("Second", [[
    script:GetActor():BindToMessage("wait", function(m, parked)
        task.spawn(function() parked:add(1); m:lock() end)
    end)
]])
m:lock()
second:SendMessage("wait", m, parked)
while parked:get() < 3 do task.wait() end
m:unlock()          -- handed to Second's thread, which has not resumed yet
second:Destroy()    -- so it passes on: to nobody, the mutex is free
task.wait()
assert(m:trylock(), "a lock handed to a destroyed actor's thread stayed held")
m:unlock()
print("OK")
