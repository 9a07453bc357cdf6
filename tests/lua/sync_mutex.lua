-- options: --workers 2
-- sync.Mutex and sync.RLock (SPEC 6, 12): lock/unlock/trylock/locked, the
-- to-be-closed value lock() returns, with() releasing on error, re-locking
-- and foreign unlocks raising at once, a timeout returning false; then
-- mutual exclusion across 6 actors in the parallel phase on 2 workers: the
-- read-then-write of a SharedTable value loses nothing under the lock.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local m = sync.Mutex()
assert(tostring(m):match("^Mutex#%d+$"))
assert(m:locked() == false)
do
    local guard <close> = m:lock()
    assert(guard == m and m:locked())
    U.raises_with("is already held by this thread", m.lock, m)
    assert(m:trylock() == false)
end
assert(m:locked() == false, "<close> unlocks")
assert(m:trylock() == true and m:locked())
m:unlock()
U.raises_with("cannot be unlocked by this thread: it is not locked", m.unlock, m)

-- with: results pass through, the lock is released on error too
local a, b = m:with(function(x, y) return x + y, m:locked() end, 2, 3)
assert(a == 5 and b == true and not m:locked())
local ok, err = pcall(m.with, m, function() error("boom") end)
assert(not ok and tostring(err):find("boom") and not m:locked())

-- a lock held by another thread: trylock fails, a timed lock gives up
m:lock()
local t0 = time()
local results = {}
task.spawn(function()
    results.try = m:trylock()
    results.timed = m:lock(0.05)
    results.waited = time() - t0
    results.foreign = select(2, pcall(m.unlock, m))
end)
task.wait(0.2)
assert(results.try == false and results.timed == false, "a held lock was taken")
assert(results.waited >= 0.04, "the timed lock did not wait: " .. results.waited)
assert(tostring(results.foreign):find("another thread holds it"))
-- a waiter blocked without a timeout gets the lock when it is released
local order = {}
task.spawn(function() m:lock(); order[#order + 1] = "waiter"; m:unlock() end)
order[#order + 1] = "holder"
m:unlock()
task.wait()
assert(order[1] == "holder" and order[2] == "waiter", table.concat(order, ","))

-- RLock: the same thread may lock again; it is free after as many unlocks
local r = sync.RLock()
r:lock(); r:lock(); assert(r:trylock() == true)
r:unlock(); r:unlock(); assert(r:locked())
r:unlock(); assert(not r:locked())

-- mutual exclusion across actors running in parallel
local ACTORS, N = 6, 3000
local st = SharedTable.new({ value = 0 })
local done = sync.Queue()
for i = 1, ACTORS do
    U.actor("Locker" .. i, [[
        script:GetActor():BindToMessageParallel("go", function(m, st, n, done)
            for _ = 1, n do
                local _ <close> = m:lock()
                st.value = st.value + 1 -- read then write: safe only under the lock
            end
            done:put(true)
        end)
    ]])
end
local shared = sync.Mutex()
for i = 1, ACTORS do workspace["Locker" .. i]:SendMessage("go", shared, st, N, done) end
for _ = 1, ACTORS do done:get() end
assert(st.value == ACTORS * N, "lost updates under the lock: " .. st.value)
assert(not shared:locked())

-- shared by reference everywhere: in a SharedTable, and as an upvalue of a
-- function sent to an actor (which locks it there)
st.lock = shared
assert(st.lock == shared)
U.actor("Upvalue", [[
    script:GetActor():BindToMessageParallel("run", function(fn, reply) reply:put(fn()) end)
]])
local reply = sync.Queue()
workspace.Upvalue:SendMessage("run", function()
    shared:lock()
    return shared:locked()
end, reply)
assert(reply:get() == true and shared:locked(), "the actor locked another Mutex")
U.raises_with("another thread holds it", shared.unlock, shared)
print("OK")
