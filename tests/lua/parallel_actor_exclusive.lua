-- options: --workers 4
-- The work of one actor runs sequentially, never on two workers at once
-- (SPEC 1.2, 1.3): six sender actors flood one target from their parallel
-- phase while the target handles the messages in parallel callbacks. The
-- target keeps a non-atomic counter (read, compute, write back) and a busy
-- flag in its own globals: both stay exact.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local SENDERS, N = 6, 2000

U.actor("Target", string.format("local TOTAL = %d", SENDERS * N) .. [[
    counter, busy = 0, false
    local last = {}
    script:GetActor():BindToMessageParallel("hit", function(sender, seq)
        assert(not busy, "two callbacks of one actor ran at the same time")
        busy = true
        local c = counter
        local x = 0
        for k = 1, 200 do x = x + k % 7 end -- widen the window between read and write
        counter = c + 1 + (x - x)
        assert(seq == (last[sender] or 0) + 1)
        last[sender] = seq
        busy = false
        if counter == TOTAL then
            task.synchronize()
            assert(counter == TOTAL)
            print("OK")
        end
    end)
    U.signal("target_bound")
]])

for s = 1, SENDERS do
    U.actor("Sender" .. s, string.format("local N, ME = %d, %d", N, s) .. [[
        U.wait_signal("target_bound")
        local target = workspace.Target
        task.desynchronize()
        for i = 1, N do target:SendMessage("hit", ME, i) end
    ]])
end
