-- task.wait(t) (SPEC 1.4, 1.8) returns the seconds actually waited, which
-- are at least t (up to float rounding) and agree with time(); task.wait()
-- and task.wait(0) return a small non-negative number; the same in an
-- actor's parallel phase. No absolute upper bound (noisy machine): only
-- that the measured wait is not absurdly long compared with t.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local CHECKS = [[
    return function(where)
        for _, t in ipairs({ 0.01, 0.05, 0.1 }) do
            local before = time()
            local elapsed = task.wait(t)
            local after = time()
            assert(type(elapsed) == "number", where .. ": task.wait returned " .. type(elapsed))
            assert(elapsed >= t * (1 - 1e-9), where .. string.format(": waited %.6f < %.3f", elapsed, t))
            assert(after - before >= elapsed * (1 - 1e-9), where .. ": longer than time() says")
            assert(elapsed < t + 5, where .. ": waited " .. elapsed .. " s for " .. t)
        end
        for _, arg in ipairs({ 0, false }) do
            local e
            if arg then e = task.wait(arg) else e = task.wait() end
            assert(type(e) == "number" and e >= 0, where .. ": task.wait(" .. tostring(arg) .. ") -> " .. tostring(e))
        end
        -- a negative or NaN time waits as task.wait(0)
        assert(task.wait(-1) >= 0)
    end
]]
load(CHECKS)()("main")

U.actor("Waiter", string.format("local CHECKS = %q", CHECKS) .. [[
    task.desynchronize()
    load(CHECKS)()("actor, parallel")
    assert(parlua.phase() == "parallel")
    print("OK")
]])
