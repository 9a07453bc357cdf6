-- A wait on a sync object ended in every other way than a grant or its
-- timeout leaves nothing behind (found by review, each crashed or misbehaved
-- before): a parked coroutine closed by user code; one resumed by user
-- code after its grant; a Barrier waiter
-- cancelled (it no longer counts as arrived); a coroutine of an actor that
-- destroyed itself, resumed afterwards; a timed wait granted in the serial
-- phase while its VM runs in parallel (the timer then fired on a queued
-- thread).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

-- closed while parked: the lock goes to nobody, nothing is reported later
local m = sync.Mutex()
m:lock()
local co = coroutine.create(function() m:lock() error("never") end)
coroutine.resume(co)
assert(coroutine.close(co))
co = nil
collectgarbage()
m:unlock()
task.wait(0.02)
assert(not m:locked(), "a closed coroutine took the lock")

-- user code resumes a parked coroutine that was granted and queued: it is
-- the user's again, so its next coroutine.yield stays the user's (the
-- runtime does not resume it a second time)
local mx = sync.Mutex()
mx:lock()
local after
local user = coroutine.create(function()
    local got = mx:lock()
    mx:unlock()
    after = coroutine.yield("to the user")
end)
assert(coroutine.resume(user))
local resumed
task.defer(function() resumed = { coroutine.resume(user) } end)
mx:unlock() -- grants it: woken and queued
task.wait(0.05)
assert(resumed[1] == true and resumed[2] == "to the user", tostring(resumed[2]))
assert(coroutine.status(user) == "suspended" and after == nil, "the runtime resumed a user yield")

-- a cancelled Barrier waiter no longer counts
local b = sync.Barrier(2)
local t = task.spawn(function() b:wait() error("never") end)
assert(b:n_waiting() == 1)
task.cancel(t)
assert(b:n_waiting() == 0, "a cancelled waiter still counts as arrived")
local ok, err = pcall(b.wait, b, 0.05)
assert(not ok and err.name == "BrokenBarrierError", "a lone wait passed a 2-party barrier")

-- an actor destroys itself while a coroutine of it waits, then resumes it:
-- the lock() returns false (the wait was ended), nothing crashes
local shared = SharedTableRegistry:GetSharedTable("sync_wait_ended")
U.actor("SelfDestroy", [[
    local m = sync.Mutex()
    m:lock()
    local co = coroutine.create(function() return m:lock() end)
    coroutine.resume(co)
    script:GetActor():Destroy()
    local ok, got = coroutine.resume(co)
    local st = SharedTableRegistry:GetSharedTable("sync_wait_ended")
    st.resumed, st.got = ok, got
]])
task.wait(0.05)
assert(shared.resumed == true and shared.got == false, tostring(shared.got))

-- granted in the serial phase while the VM runs its parallel part, past the
-- wait's deadline: the timed lock reports true, once
shared.late_calls = 0
U.actor("Late", [[
    local m = sync.Mutex()
    m:lock()
    task.spawn(function()
        local st = SharedTableRegistry:GetSharedTable("sync_wait_ended")
        SharedTable.increment(st, "late_calls", 1)
        st.late = m:lock(0.05)
    end)
    task.desynchronize()
    local t = os.clock() while os.clock() - t < 0.15 do end
    m:unlock()
]])
task.wait(0.5)
assert(shared.late == true and shared.late_calls == 1, tostring(shared.late))
print("OK")
