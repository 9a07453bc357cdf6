-- Moving a topic from BindToMessage to BindToMessageParallel keeps the
-- order of one sender's messages (issue 8 #10; SPEC 3): a message queued
-- for the serial binding moves to the parallel one ahead of newer messages
-- (1 2, not 2 1), and each message arrives once. Both directions.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("ToParallel", [[
    local me = script:GetActor()
    local c = me:BindToMessage("t", function(i) error("serial handler got " .. i) end)
    task.desynchronize()
    me:SendMessage("t", 1)
    c:Disconnect()
    local got = {}
    me:BindToMessageParallel("t", function(i)
        got[#got + 1] = i
        if #got == 3 then
            local s = table.concat(got, ",")
            task.synchronize()
            U.signal("to_parallel") -- first: a failure must not hang the test
            assert(s == "1,2,3", "to parallel: got " .. s)
        end
    end)
    me:SendMessage("t", 2)
    me:SendMessage("t", 3)
]])

U.actor("ToSerial", [[
    local me = script:GetActor()
    local c = me:BindToMessageParallel("t", function(i) error("parallel handler got " .. i) end)
    me:SendMessage("t", 1)
    c:Disconnect()
    local got = {}
    me:BindToMessage("t", function(i)
        got[#got + 1] = i
        if #got == 3 then
            local s = table.concat(got, ",")
            U.signal("to_serial")
            assert(s == "1,2,3", "to serial: got " .. s)
        end
    end)
    me:SendMessage("t", 2)
    me:SendMessage("t", 3)
]])

U.wait_signal("to_parallel")
U.wait_signal("to_serial")
task.wait()
print("OK")
