-- A coroutine parked in task.wait, resumed early by the user and then
-- yielding to the user, stays the user's: the runtime's timer does not
-- resume it later (which used to steal that yield and lose its value).
-- Checked for a user coroutine and for a runtime thread (issue 8 item 19).
local got = {}

local co = coroutine.create(function()
    got.wait = task.wait(0.05)          -- parks; the resume below ends it early
    got.yield = coroutine.yield("mine") -- the user's own yield
    return "done"
end)
assert(coroutine.resume(co))            -- task.wait yields to us
local ok, v = coroutine.resume(co, "early")
assert(ok and v == "mine", tostring(v))
assert(got.wait == "early")

local rt
task.spawn(function()
    rt = coroutine.running()
    got.rt_wait = task.wait(0.05)
    got.rt_yield = coroutine.yield("rt mine")
end)
ok, v = coroutine.resume(rt, "rt early")
assert(ok and v == "rt mine", tostring(v))
assert(got.rt_wait == "rt early")

task.wait(0.15) -- both timers are long due
assert(coroutine.status(co) == "suspended", "the timer resumed the user's coroutine")
assert(got.yield == nil, "the user's yield got " .. tostring(got.yield))
ok, v = coroutine.resume(co, "user value")
assert(ok and v == "done" and got.yield == "user value")
assert(coroutine.status(rt) == "suspended" and got.rt_yield == nil)
assert(coroutine.resume(rt, "rt user value"))
assert(got.rt_yield == "rt user value")
print("OK")
