-- options: --workers 2
-- sync.Semaphore, sync.BoundedSemaphore and sync.Atomic (SPEC 6, 12): a
-- semaphore of 3 never lets more than 3 of 12 actors in at once (checked
-- with an Atomic high-water mark) and all of them get through; acquire with
-- a timeout gives up with false; a BoundedSemaphore refuses to be released
-- past its start; Atomic's add/cas/exchange keep integers and floats apart
-- as Lua does, and 8 actors adding concurrently lose nothing.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.raises_with("the initial value must be >= 0", sync.Semaphore, -1)
local s = sync.Semaphore(2)
assert(s:acquire() == s and s:acquire(0.01) == true)
assert(s:acquire(0) == false)
local t0 = time()
assert(s:acquire(0.05) == false and time() - t0 >= 0.04)
s:release(2)
assert(s:acquire(0) == true and s:acquire(0) == true and s:acquire(0) == false)
s:release(); s:release()
assert(s:with(function(x) return x * 2 end, 21) == 42)
do local _ <close> = s:acquire() end

local bs = sync.BoundedSemaphore(1)
bs:acquire(); bs:release()
U.raises_with("released too many times", bs.release, bs)

-- at most 3 inside at once, across actors in parallel
local LIMIT, ACTORS = 3, 12
local gate, inside, high, done = sync.Semaphore(LIMIT), sync.Atomic(0), sync.Atomic(0), sync.Queue()
for i = 1, ACTORS do
    U.actor("S" .. i, [[
        script:GetActor():BindToMessageParallel("go", function(gate, inside, high, done)
            for _ = 1, 20 do
                gate:with(function()
                    local now = inside:add(1)
                    local seen = high:get()
                    while now > seen and not high:cas(seen, now) do seen = high:get() end
                    task.wait() -- hold it across a frame: others must queue
                    inside:add(-1)
                end)
            end
            done:put(true)
        end)
    ]])
end
for i = 1, ACTORS do workspace["S" .. i]:SendMessage("go", gate, inside, high, done) end
for _ = 1, ACTORS do done:get() end
assert(high:get() <= LIMIT and high:get() >= 1, "high-water mark " .. high:get())
assert(inside:get() == 0)

-- Atomic
local a = sync.Atomic(10)
assert(a:get() == 10 and math.type(a:get()) == "integer")
assert(a:add(5) == 15 and a:add(-20) == -5)
assert(a:cas(-5, 1) == true and a:cas(-5, 2) == false and a:get() == 1)
assert(a:cas(1.0, 7) == true, "cas compares as == does: 1 == 1.0")
assert(a:exchange(2.5) == 7 and math.type(a:get()) == "float")
assert(a:add(0.5) == 3.0)
a:set(math.maxinteger)
assert(a:add(1) == math.mininteger, "integer add wraps as Lua's + does")
U.raises_with("a number expected, got string", a.set, a, "x")
assert(sync.Atomic():get() == 0)
local total, finished = sync.Atomic(0), sync.Queue()
for i = 1, 8 do
    U.actor("Adder" .. i, [[
        script:GetActor():BindToMessageParallel("go", function(total, finished)
            for _ = 1, 5000 do total:add(1) end
            finished:put(true)
        end)
    ]])
end
for i = 1, 8 do workspace["Adder" .. i]:SendMessage("go", total, finished) end
for _ = 1, 8 do finished:get() end
assert(total:get() == 40000, "lost adds: " .. total:get())
print("OK")
