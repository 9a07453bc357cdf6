-- An idle runtime waiting for a timer sleeps, it does not spin (SPEC 1.5):
-- with 20 idle actors around and the main thread in task.wait(0.3), the
-- process uses far less CPU time (os.clock) than the wall time that passes.
-- Then nothing is pending and the program ends by itself.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

for i = 1, 20 do
    U.actor("Idle" .. i, [[
        script:GetActor():BindToMessageParallel("never", function() end)
    ]])
end
task.wait() -- let them start

local cpu0, wall0 = os.clock(), time()
local waited = task.wait(0.3)
local cpu, wall = os.clock() - cpu0, time() - wall0
print(string.format("waited %.3f s wall, %.4f s CPU", wall, cpu))
assert(waited >= 0.3 * (1 - 1e-9))
assert(cpu < 0.25 * wall, string.format("the idle runtime used %.3f s CPU in %.3f s", cpu, wall))

-- also while a long delay is pending in an actor's parallel phase
U.actor("Sleeper", [[
    task.desynchronize()
    local cpu0, wall0 = os.clock(), time()
    task.wait(0.3)
    local cpu, wall = os.clock() - cpu0, time() - wall0
    assert(cpu < 0.25 * wall, string.format("idle in parallel: %.3f s CPU in %.3f s", cpu, wall))
    print("OK")
]])
