-- Messages from one sender to one actor arrive in the order sent (SPEC 3),
-- for a serial binding (BindToMessage) and a parallel one
-- (BindToMessageParallel): 10,000 messages per sender and topic, from the
-- main VM (serial) and from another actor (parallel), interleaved.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local N = 10000

U.actor("Receiver", string.format("local N = %d", N) .. [[
    local me = script:GetActor()
    local next_seq = {}   -- [topic .. sender] = next expected sequence number
    local total = 0
    local function handler(topic, want_phase)
        return function(sender, seq)
            assert(parlua.phase() == want_phase, topic .. " handler in " .. parlua.phase())
            local key = topic .. "/" .. sender
            local want = next_seq[key] or 1
            assert(seq == want, string.format("%s: got #%s, expected #%d", key, tostring(seq), want))
            next_seq[key] = want + 1
            total = total + 1
            if total == 4 * N then
                for _, k in ipairs({ "s/main", "s/actor", "p/main", "p/actor" }) do
                    assert(next_seq[k] == N + 1, k .. " got " .. tostring(next_seq[k]) .. " - 1")
                end
                task.synchronize()
                print("OK")
            end
        end
    end
    me:BindToMessage("s", handler("s", "serial"))
    me:BindToMessageParallel("p", handler("p", "parallel"))
    U.signal("receiver_bound")
]])

U.actor("Sender", string.format("local N = %d", N) .. [[
    U.wait_signal("receiver_bound")
    local receiver = workspace.Receiver
    task.desynchronize()
    for i = 1, N do
        receiver:SendMessage("s", "actor", i)
        receiver:SendMessage("p", "actor", i)
    end
]])

U.wait_signal("receiver_bound")
local receiver = workspace.Receiver
for i = 1, N do
    receiver:SendMessage("p", "main", i)
    receiver:SendMessage("s", "main", i)
end
