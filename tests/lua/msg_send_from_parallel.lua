-- SendMessage from parallel code works (it is Safe, SPEC 3): two actors
-- play ping-pong 200 times, each sending only from a parallel callback
-- (BindToMessageParallel) or after task.desynchronize(), to serial and
-- parallel bindings of the other.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local ROUNDS = 200

U.actor("Ping", string.format("local ROUNDS = %d", ROUNDS) .. [[
    local me = script:GetActor()
    local last = 0
    me:BindToMessageParallel("pong", function(n)
        assert(parlua.phase() == "parallel")
        assert(n == last + 1, "pong " .. n .. " after " .. last)
        last = n
        if n == ROUNDS then
            print("OK")
        else
            workspace.Pong:SendMessage(n % 2 == 0 and "ping_p" or "ping_s", n + 1)
        end
    end)
    U.wait_signal("pong_bound")
    task.desynchronize()
    assert(parlua.phase() == "parallel")
    workspace.Pong:SendMessage("ping_p", 1)
]])

U.actor("Pong", [[
    local me = script:GetActor()
    local function reply(n)
        task.desynchronize() -- from the serial binding: switch first
        assert(parlua.phase() == "parallel")
        workspace.Ping:SendMessage("pong", n)
    end
    me:BindToMessageParallel("ping_p", reply)
    me:BindToMessage("ping_s", reply)
    U.signal("pong_bound")
]])
