-- task.spawn, task.defer, task.delay, task.wait(t) and task.wait() keep the
-- caller's phase (SPEC 1.4): called in parallel, the thread resumes in a
-- parallel phase; called in serial, in a serial phase. Also a Script in the
-- main VM (serial only).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Keeper", [[
    local expected, seen = 0, {}
    local function check(what, want)
        local got = parlua.phase()
        assert(got == want, what .. ": resumed in " .. got .. ", expected " .. want)
        seen[#seen + 1] = what
        if #seen == expected then
            task.synchronize() -- in serial: returns at once; in parallel: switches
            assert(#seen == 12, "checks: " .. #seen)
            print("OK")
        end
    end

    local function schedule_all(phase)
        expected = expected + 6
        task.spawn(check, "spawn in " .. phase, phase)
        task.defer(check, "defer in " .. phase, phase)
        task.delay(0.01, check, "delay in " .. phase, phase)
        task.spawn(function() task.wait(0.01); check("wait(t) in " .. phase, phase) end)
        task.spawn(function() task.wait(); check("wait() in " .. phase, phase) end)
        task.spawn(function() task.wait(0); check("wait(0) in " .. phase, phase) end)
    end

    schedule_all("serial")
    task.desynchronize()
    schedule_all("parallel")
]])
