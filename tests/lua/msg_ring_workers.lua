-- options: --workers 4
-- Workers park and are woken only when no other worker spins
-- (src/core/pool.c): a lost wake-up would leave a message in a queue with
-- every worker asleep, and the frame would never end. Several tokens go
-- round a ring of actors, each hop a message sent in the parallel phase
-- (so the next actor is queued on a worker while the others spin or park),
-- with more workers than this machine may have cores; then bursts from the
-- main script to every actor at once. Every hop and message must arrive,
-- once, in order per sender.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local RING, TOKENS, HOPS, BURST = 6, 3, 600, 500

U.actor("Collector", string.format("local RING, TOKENS, HOPS, BURST = %d, %d, %d, %d",
    RING, TOKENS, HOPS, BURST) .. [[
    local tokens, bursts = 0, 0
    local me = script:GetActor()
    me:BindToMessage("token", function(t, hops)
        assert(hops == HOPS, "token " .. t .. " made " .. hops .. " hops")
        tokens = tokens + 1
    end)
    me:BindToMessage("burst", function(id, n)
        assert(n == BURST, "actor " .. id .. " got " .. n .. " of " .. BURST)
        bursts = bursts + 1
        if bursts == RING then
            assert(tokens == TOKENS, tokens .. " tokens came back")
            print("OK")
        end
    end)
]])
for i = 1, RING do
    U.actor("R" .. i, string.format("local ID, RING, HOPS, BURST = %d, %d, %d, %d",
        i, RING, HOPS, BURST) .. [[
        local me = script:GetActor()
        local next_actor = workspace:FindFirstChild("R" .. (ID % RING + 1))
        me:BindToMessageParallel("token", function(t, hops)
            if hops == HOPS then
                workspace.Collector:SendMessage("token", t, hops)
            else
                next_actor:SendMessage("token", t, hops + 1)
            end
        end)
        local got = 0
        me:BindToMessageParallel("burst", function(k)
            got = got + 1
            assert(k == got, "actor " .. ID .. ": message " .. k .. " arrived as number " .. got)
            if got == BURST then workspace.Collector:SendMessage("burst", ID, got) end
        end)
    ]])
end
task.wait()
for t = 1, TOKENS do workspace["R" .. t]:SendMessage("token", t, 0) end
task.wait()
for k = 1, BURST do
    for i = 1, RING do workspace["R" .. i]:SendMessage("burst", k) end
end
