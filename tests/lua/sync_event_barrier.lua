-- options: --workers 2
-- Blocking parks the runtime thread, never a worker (SPEC 6): 100 actors
-- wait on one Event in the parallel phase with 2 workers, and the actor
-- that sets it still runs. Then a Barrier of 5 actors gives each a distinct
-- index 0..4, a timed-out Barrier wait breaks it for every waiter, and
-- reset() repairs it.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local WAITERS = 100

local go, arrived, woken = sync.Event(), sync.Atomic(0), sync.Atomic(0)
assert(go:is_set() == false and go:wait(0) == false)
local src = [[
    script:GetActor():BindToMessageParallel("wait", function(go, arrived, woken)
        arrived:add(1)
        assert(go:wait() == true)
        assert(task ~= nil and parlua.phase() == "parallel", "resumed in another phase")
        woken:add(1)
    end)
    script:GetActor():BindToMessageParallel("set", function(go, arrived, n)
        while arrived:get() < n do task.wait() end -- every waiter is parked now
        go:set()
    end)
]]
for i = 1, WAITERS + 1 do U.actor("A" .. i, src) end
for i = 1, WAITERS do workspace["A" .. i]:SendMessage("wait", go, arrived, woken) end
workspace["A" .. (WAITERS + 1)]:SendMessage("set", go, arrived, WAITERS)
local deadline = time() + 60
while woken:get() < WAITERS do
    assert(time() < deadline, "waiters still parked: " .. woken:get())
    task.wait()
end
assert(go:is_set() and go:wait() == true)
go:clear()
assert(go:is_set() == false)

-- Barrier: indexes 0..n-1, each once
local B = 5
local barrier, indexes = sync.Barrier(B), sync.Queue()
assert(barrier:parties() == B and barrier:broken() == false)
for i = 1, B do
    U.actor("B" .. i, [[
        script:GetActor():BindToMessageParallel("go", function(b, out)
            out:put(b:wait())
        end)
    ]])
end
for i = 1, B do workspace["B" .. i]:SendMessage("go", barrier, indexes) end
local seen = {}
for _ = 1, B do
    local index = indexes:get()
    assert(index >= 0 and index < B and not seen[index], "index " .. index)
    seen[index] = true
end

-- a wait that times out breaks the barrier, for the other waiter too
local b2 = sync.Barrier(3)
local other
task.spawn(function() other = select(2, pcall(b2.wait, b2)) end)
local ok, err = pcall(b2.wait, b2, 0.05)
assert(not ok and err.name == "BrokenBarrierError", tostring(err))
task.wait()
assert(other and other.name == sync.BrokenBarrierError, tostring(other))
assert(b2:broken())
U.raises_with("is broken", b2.wait, b2)
b2:reset()
assert(not b2:broken() and b2:n_waiting() == 0)
b2:abort()
assert(b2:broken())
print("OK")
