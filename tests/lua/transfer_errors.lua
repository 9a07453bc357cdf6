-- Values that cannot cross VMs (SPEC 5): SendMessage with a coroutine
-- raises an error with the text "cannot transfer a value of type 'thread' (argument 2 to
-- SendMessage)" (argument numbers count from the first message argument
-- after the topic), other userdata (a file handle) likewise; a failed
-- transfer sends nothing, so the receiver gets only the good messages.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local recv = U.actor("Recv", [[
    local got = {}
    script:GetActor():BindToMessage("t", function(tag, ...)
        got[#got + 1] = tag
        if tag == "last" then
            assert(table.concat(got, ",") == "first,last", "received: " .. table.concat(got, ","))
            print("OK")
        end
    end)
]])

local co = coroutine.create(function() end)
recv:SendMessage("t", "first")
U.raises_with("cannot transfer a value of type 'thread' (argument 2 to SendMessage)",
    function() recv:SendMessage("t", co) end)
U.raises_with("cannot transfer a value of type 'thread' (argument 4 to SendMessage)",
    function() recv:SendMessage("t", "bad", 1, co, 2) end)
U.raises_with("cannot transfer a value of type 'userdata' (argument 3 to SendMessage)",
    function() recv:SendMessage("t", "bad", io.stdout) end)
U.raises_with("cannot transfer a value of type 'thread'",
    function() recv:SendMessage("t", "bad", coroutine.running()) end)
recv:SendMessage("t", "last")
