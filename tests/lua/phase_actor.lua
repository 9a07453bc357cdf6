-- Phase switching inside an actor (SPEC 1.3, 1.4): a script starts in the
-- serial phase; task.synchronize() in serial and task.desynchronize() in
-- parallel return at once (without yielding); task.desynchronize() in serial
-- moves the thread to the parallel phase and task.synchronize() in parallel
-- back to the serial phase; repeated several times.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Phases", [[
    assert(parlua.phase() == "serial", "script start: " .. parlua.phase())

    -- synchronize in serial: no yield (a deferred thread has not run)
    local deferred = false
    task.defer(function() deferred = true end)
    task.synchronize()
    assert(not deferred, "task.synchronize() in serial yielded")
    assert(parlua.phase() == "serial")

    task.desynchronize()
    assert(parlua.phase() == "parallel", "after desynchronize: " .. parlua.phase())

    -- desynchronize in parallel: no yield
    local deferred_p = false
    task.defer(function() deferred_p = true end)
    task.desynchronize()
    assert(not deferred_p, "task.desynchronize() in parallel yielded")
    assert(parlua.phase() == "parallel")

    task.synchronize()
    assert(parlua.phase() == "serial", "after synchronize: " .. parlua.phase())
    assert(deferred_p, "the thread deferred in parallel never ran")

    -- back and forth a few times, each switch really changes the phase
    for i = 1, 5 do
        task.desynchronize()
        assert(parlua.phase() == "parallel", "round " .. i)
        task.synchronize()
        assert(parlua.phase() == "serial", "round " .. i)
    end
    print("OK")
]])
