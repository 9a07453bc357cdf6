-- Messages for one handler run in one coroutine until a handler calls
-- coroutine.running(): that coroutine is then the handler's alone, and it
-- is finished ("dead") when the next message's handler runs, in a batch of
-- 20 where every other handler asks for it.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local a = U.actor("Running", [[
    local kept = {}
    script:GetActor():BindToMessage("m", function(i)
        for _, k in ipairs(kept) do
            assert(coroutine.status(k) == "dead", "a kept coroutine still runs at " .. i)
        end
        if i % 2 == 0 then
            local co, ismain = coroutine.running()
            assert(not ismain)
            for _, k in ipairs(kept) do assert(k ~= co, "shared coroutine at " .. i) end
            kept[#kept + 1] = co
        end
        if i == 20 then
            assert(#kept == 10)
            print("OK")
        end
    end)
]])
task.wait()
for i = 1, 20 do a:SendMessage("m", i) end
