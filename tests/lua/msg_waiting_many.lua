-- Messages waiting for a binding are bounded by memory, not by a small count
-- (issue 8 #12): two producers sending 100,000 small messages each before
-- the consumer binds all get through, in order per producer.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local N = 100000

local consumer = U.actor("Consumer", string.format("local N = %d", N) .. [[
    U.wait_signal("produced_a")
    U.wait_signal("produced_b")
    local last = { a = 0, b = 0 }
    local total = 0
    script:GetActor():BindToMessage("item", function(who, i)
        assert(i == last[who] + 1, who .. ": " .. i .. " after " .. last[who])
        last[who] = i
        total = total + 1
        if total == 2 * N then print("OK") end
    end)
]])
for _, who in ipairs({ "a", "b" }) do
    U.actor("Producer_" .. who, string.format("local N, WHO = %d, %q", N, who) .. [[
        local c = workspace.Consumer
        local ok, err = pcall(function()
            for i = 1, N do c:SendMessage("item", WHO, i) end
        end)
        U.signal("produced_" .. WHO) -- even after an error: no hang
        assert(ok, err)
    ]])
end
