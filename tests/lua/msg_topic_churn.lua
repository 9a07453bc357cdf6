-- A mailbox forgets a topic with no binding and nothing waiting, and finds
-- topics in constant time (issue 8 #11): after 20,000 per-request topics
-- were bound and disconnected, sending to a bound topic is about as fast as
-- before (a ratio, not an absolute time; before the fix it was ~20x slower),
-- and the VM's handler lists forget the names as well.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Churn", [[
    local me = script:GetActor()
    local N, SENDS = 20000, 20000
    local count = 0
    local function rate(topic)
        local t0 = os.clock()
        for i = 1, SENDS do me:SendMessage(topic, i) end
        return os.clock() - t0
    end
    -- a topic bound before the churn and one bound after it (the newest)
    me:BindToMessage("hot1", function() count = count + 1 end)
    rate("hot1") -- warm up
    local before = math.min(rate("hot1"), rate("hot1"))
    collectgarbage()
    local kb = collectgarbage("count")
    for i = 1, N do
        local c = me:BindToMessage("req" .. i, function() end)
        c:Disconnect()
    end
    collectgarbage()
    collectgarbage()
    -- the VM forgets the names too (each left ~100 bytes before)
    local grown = collectgarbage("count") - kb
    assert(grown < 400, string.format("%.0f KB kept after topic churn", grown))
    me:BindToMessage("hot2", function() count = count + 1 end)
    local after = math.min(rate("hot2"), rate("hot2"))
    local ratio = after / math.max(before, 1e-6)
    assert(ratio < 5, string.format("sends %.1fx slower after topic churn (%.3f s vs %.3f s)",
        ratio, after, before))
    while count < 5 * SENDS do task.wait() end
    print("OK")
]])
