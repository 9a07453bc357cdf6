-- A topic bound in both phases whose parallel handler disconnects the
-- serial binding (issue 8 #9): each message reaches the parallel handler
-- exactly once, and a message already delivered is never handed to a later
-- binding nor reported as undelivered at exit.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Both", [[
    local me = script:GetActor()
    local sc = me:BindToMessage("t", function(i) end)
    local got = {}
    local pc
    pc = me:BindToMessageParallel("t", function(i)
        got[#got + 1] = i
        if i == 1 then sc:Disconnect() end
        if i == 3 then
            task.synchronize()
            pc:Disconnect()
            -- a later binding must not get the delivered messages again
            me:BindToMessage("t", function(j) got[#got + 1] = "late" .. j end)
            task.wait()
            task.wait()
            local s = table.concat(got, ",")
            assert(s == "1,2,3", "parallel handler got " .. s)
            print("OK")
        end
    end)
    task.desynchronize()
    for i = 1, 3 do me:SendMessage("t", i) end
]])
