-- Several callbacks bound to one topic each receive every message, in order
-- (SPEC 3): three serial callbacks and two parallel ones on topic "t".
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local N = 500

U.actor("Multi", string.format("local N = %d", N) .. [[
    local me = script:GetActor()
    local got = { 0, 0, 0, 0, 0 }
    local done = 0
    local function make(i, phase)
        return function(seq, text)
            assert(parlua.phase() == phase)
            assert(seq == got[i] + 1, "callback " .. i .. " got #" .. seq .. " after #" .. got[i])
            assert(text == "m" .. seq)
            got[i] = seq
            if seq == N then
                done = done + 1
                if done == #got then print("OK") end
            end
        end
    end
    for i = 1, 3 do me:BindToMessage("t", make(i, "serial")) end
    for i = 4, 5 do me:BindToMessageParallel("t", make(i, "parallel")) end
    U.signal("bound")
]])

U.wait_signal("bound")
for i = 1, N do workspace.Multi:SendMessage("t", i, "m" .. i) end
