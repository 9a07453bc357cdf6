-- expect-stdout: ^handled 1 2 3$
-- expect-stdout: ^main still runs$
-- expect-no-stderr
-- A handler that destroys its own Actor in the middle of a batch run for
-- it (message 3 of 6, serial and parallel bindings): nothing more runs in
-- that VM, messages 4 to 6 are dropped, and the runtime goes on.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local a = U.actor("Doomed", [[
    local me = script:GetActor()
    local log = {}
    me:BindToMessage("m", function(i)
        log[#log + 1] = tostring(i)
        assert(i <= 3, "handled " .. i .. " after Destroy")
        if i == 3 then
            print("handled " .. table.concat(log, " "))
            me:Destroy()
        end
    end)
]])
task.wait()
for i = 1, 6 do a:SendMessage("m", i) end
task.wait()
task.wait()
print("main still runs")
