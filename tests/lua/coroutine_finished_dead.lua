-- A coroutine the runtime ran to its end is dead, as in lua5.4 (SPEC 1.2:
-- coroutines behave exactly as in lua5.4), whether its function returned
-- values or not: coroutine.status says "dead" and coroutine.resume fails
-- with "cannot resume dead coroutine". Covers task.spawn, task.defer,
-- task.delay, and a user coroutine resumed by the runtime after task.wait.
local function check_dead(what, co)
    assert(coroutine.status(co) == "dead",
        what .. ": status " .. coroutine.status(co) .. " after its function returned")
    local ok, err = coroutine.resume(co)
    assert(not ok and tostring(err):find("dead coroutine", 1, true),
        what .. ": resuming the finished coroutine gave " .. tostring(ok) .. ", " .. tostring(err))
end

check_dead("task.spawn, no value", task.spawn(function() end))
check_dead("task.spawn, values", task.spawn(function() return 1, 2 end))
local deferred = task.defer(function() return "x" end)
local delayed = task.delay(0, function() return "y" end)
local user = coroutine.create(function()
    task.wait()
    return "z"
end)
assert(coroutine.resume(user))
task.wait(0.05)
check_dead("task.defer, a value", deferred)
check_dead("task.delay, a value", delayed)
check_dead("user coroutine resumed by the runtime, a value", user)
print("OK")
