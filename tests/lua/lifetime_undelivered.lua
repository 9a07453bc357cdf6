-- expect-stderr: 5 messages.*never delivered.*(nobody_binds|dropped)
-- Messages still waiting for a callback when nothing else can happen are
-- not waited for forever (SPEC 1.5): the program ends, and one line on
-- stderr reports how many were never delivered, naming a topic. Here 3
-- messages to a topic nobody binds and 2 sent after the only binding of a
-- topic was disconnected. Undelivered messages are not an error: status 0.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local a = U.actor("Unbound", [[
    script:GetActor():BindToMessage("other_topic", function() end)
]])
for i = 1, 3 do a:SendMessage("nobody_binds", i) end

local b = U.actor("Dropper", [[
    local conn
    conn = script:GetActor():BindToMessage("dropped", function(i)
        assert(i == 1)
        conn:Disconnect()
        U.signal("dropped_once")
    end)
]])
b:SendMessage("dropped", 1)
U.wait_signal("dropped_once")
b:SendMessage("dropped", 2)
b:SendMessage("dropped", 3)
task.wait(0.05)
print("OK")
