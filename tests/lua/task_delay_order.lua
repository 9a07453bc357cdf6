-- task.delay (SPEC 1.4): threads run in deadline order whatever the order
-- they were scheduled in (0.05 scheduled first still runs after 0.02), equal
-- delays run first-in first-out, arguments are passed, and each runs no
-- earlier than its delay. Also in an actor's parallel phase.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local CHECKS = [[
    return function(where, done)
        local log, start = {}, time()
        local function rec(name, d, extra)
            assert(extra == "arg-" .. name, where .. ": arguments not passed to " .. name)
            assert(time() - start >= d * (1 - 1e-9), where .. ": " .. name .. " ran early")
            log[#log + 1] = name
            if #log == 6 then
                assert(table.concat(log, " ") == "d0 d20a d20b d20c d35 d50",
                    where .. ": order " .. table.concat(log, " "))
                done()
            end
        end
        task.delay(0.05, rec, "d50", 0.05, "arg-d50")
        task.delay(0.02, rec, "d20a", 0.02, "arg-d20a")
        task.delay(0.035, rec, "d35", 0.035, "arg-d35")
        task.delay(0.02, rec, "d20b", 0.02, "arg-d20b")
        task.delay(0, rec, "d0", 0, "arg-d0")
        task.delay(0.02, rec, "d20c", 0.02, "arg-d20c")
    end
]]

local finished = 0
local function done()
    finished = finished + 1
end
load(CHECKS)()("main", done)

U.actor("Delayer", string.format("local CHECKS = %q", CHECKS) .. [[
    task.desynchronize()
    load(CHECKS)()("actor, parallel", function()
        assert(parlua.phase() == "parallel")
        task.synchronize()
        U.signal("actor_done")
    end)
]])
U.wait_signal("actor_done")
task.wait(0.06)
assert(finished == 1, "main's delayed threads did not all run")
print("OK")
