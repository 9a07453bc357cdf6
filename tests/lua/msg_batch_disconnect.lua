-- A handler that disconnects in the middle of a batch run for it (message
-- 3 of 6): messages 4 to 6 are not handled by it; they wait and go, in
-- order, to the next binding. A once-style handler that disconnects
-- itself on its first message likewise sees only that one.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local a = U.actor("Disc", [[
    local me = script:GetActor()
    local first, later = {}, {}
    local c
    c = me:BindToMessage("m", function(i)
        first[#first + 1] = i
        if i == 3 then
            c:Disconnect()
            task.defer(function()
                me:BindToMessage("m", function(j)
                    later[#later + 1] = j
                    if j == 6 then
                        assert(table.concat(first, ",") == "1,2,3", table.concat(first, ","))
                        assert(table.concat(later, ",") == "4,5,6", table.concat(later, ","))
                        print("OK")
                    end
                end)
            end)
        end
    end)
]])
task.wait()
for i = 1, 6 do a:SendMessage("m", i) end
