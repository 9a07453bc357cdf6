-- A handler that disconnects while messages of its topic remain in the same
-- batch (issue 8 #10): those messages wait, in order, and a message sent
-- after the disconnect cannot overtake them (SPEC 3: 1 2 3, not 1 3 2).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Mover", [[
    local me = script:GetActor()
    local got = {}
    local c
    c = me:BindToMessage("t", function(i)
        got[#got + 1] = i
        if i == 1 then
            c:Disconnect()
            me:SendMessage("t", 3)
            task.defer(function()
                me:BindToMessage("t", function(j)
                    got[#got + 1] = j
                    if j == 3 then
                        local s = table.concat(got, ",")
                        assert(s == "1,2,3", "got " .. s)
                        print("OK")
                    end
                end)
            end)
        end
    end)
    me:SendMessage("t", 1)
    me:SendMessage("t", 2)
]])
