-- cancel() (SPEC 7): stops a busy loop that never yields, even one that
-- retries under pcall; stops a thread parked on a primitive; runs the
-- body's pending __close (a lock held with <close> is released); a finished
-- lthread's cancel returns false.
local started = sync.Event()
local busy = go(function()
    started:set()
    local x = 0
    while true do x = x + 1 end
end)
started:wait()
assert(busy:cancel() == true)
local r, err = busy:wait_result()
assert(r == nil and err.name == "Cancelled", tostring(err))
assert(busy:done())
assert(busy:cancel() == false)

local stubborn = go(function()
    while true do
        pcall(function() while true do end end)
    end
end)
task.wait(0.02)
stubborn:cancel()
r, err = stubborn:wait_result()
assert(err and err.name == "Cancelled", tostring(err))

-- where the hook cannot yield (table.sort's comparator) and a pcall in a
-- loop catches what it raises instead, it still stops
local sorting = go(function()
    local t = {}
    for i = 1, 200 do t[i] = (i * 7919) % 200 end
    while true do
        pcall(table.sort, t, function(a, b)
            for _ = 1, 500 do end
            return a < b
        end)
    end
end)
task.wait(0.02)
sorting:cancel()
r, err = sorting:wait_result()
assert(err and err.name == "Cancelled", tostring(err))

-- parked on an Event nobody sets; its <close> releases the mutex it holds
local m = sync.Mutex()
local never = sync.Event()
local holding = sync.Event()
local parked = go(function()
    local _ <close> = m:lock()
    holding:set()
    never:wait()
    return "not reached"
end)
holding:wait()
assert(m:locked())
parked:cancel()
r, err = parked:wait_result()
assert(err.name == "Cancelled")
assert(m:trylock() == true, "the cancelled lthread's <close> unlocked the mutex")
m:unlock()

-- result() raises the Cancelled error
local c = go(function() while true do end end)
c:cancel()
local ok, e = pcall(c.result, c)
assert(not ok and e.name == "Cancelled")
print("OK")
