-- task.cancel (SPEC 1.4): cancelling a delayed thread, a deferred thread and
-- a thread parked in task.wait prevents them from running, and leaves the
-- coroutine dead; an uncancelled control thread still runs; task.cancel of
-- the running thread is an error. Checked in the main VM (serial) and in an
-- actor's parallel phase.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

-- the same checks run in both VMs: a chunk returning function(U, where)
local CHECKS = [[
    return function(U, where)
        local ran = {}
        local delayed = task.delay(0.02, function() ran.delayed = true end)
        local deferred = task.defer(function() ran.deferred = true end)
        local waiting = task.spawn(function()
            task.wait(0.02)
            ran.waiting = true
        end)
        task.delay(0.02, function() ran.control = true end)
        task.cancel(delayed)
        task.cancel(deferred)
        task.cancel(waiting)
        for _, th in ipairs({ delayed, deferred, waiting }) do
            assert(coroutine.status(th) == "dead", where .. ": status after cancel: " .. coroutine.status(th))
        end
        U.raises_with("cannot cancel the running thread", task.cancel, coroutine.running())
        task.spawn(function()
            U.raises_with("cannot cancel the running thread", task.cancel, coroutine.running())
            ran.spawned_checked = true
        end)
        assert(ran.spawned_checked)
        task.wait(0.1)
        assert(ran.control, where .. ": the control thread did not run")
        assert(not ran.delayed and not ran.deferred and not ran.waiting,
            where .. ": a cancelled thread ran")
    end
]]

load(CHECKS)()(U, "main")
assert(parlua.phase() == "serial")

U.actor("Canceller", string.format("local CHECKS = %q", CHECKS) .. [[
    task.desynchronize()
    load(CHECKS)()(U, "actor, parallel")
    assert(parlua.phase() == "parallel", "task.wait in parallel came back in " .. parlua.phase())
    task.synchronize()
    print("OK")
]])
