-- Messages sent before the actor binds the topic wait, and are delivered
-- once a callback is bound, in the order sent (SPEC 3). The actor binds only
-- after several frames; one topic is bound serial, another parallel.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local N = 1000

local late = U.actor("Late", string.format("local N = %d", N) .. [[
    local me = script:GetActor()
    task.wait(0.05)
    for _ = 1, 3 do task.wait() end
    local got_s, got_p = 0, 0
    local function finish()
        if got_s == N and got_p == N then print("OK") end
    end
    me:BindToMessage("early_s", function(i)
        assert(i == got_s + 1, "serial: #" .. i .. " after #" .. got_s)
        got_s = i
        finish()
    end)
    me:BindToMessageParallel("early_p", function(i)
        assert(i == got_p + 1, "parallel: #" .. i .. " after #" .. got_p)
        got_p = i
        finish()
    end)
]])

-- sent at once, long before the actor's script binds
for i = 1, N do
    late:SendMessage("early_s", i)
    late:SendMessage("early_p", i)
end
