-- Per-sender order holds across the moment a topic gets its first binding
-- (SPEC 3: messages from one sender to one actor arrive in the order sent;
-- those sent before the binding wait and are delivered once it exists).
-- An actor sends itself message 1 before binding, then binds, then sends 2
-- and 3: the callback must see 1, 2, 3 (serial binding, and a parallel
-- binding made in parallel code). A second sender actor streams messages
-- from its parallel phase while the receiver binds in its own parallel
-- phase: they must arrive in order too.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local STREAM = 20000

U.actor("Self", [[
    local me = script:GetActor()
    local results = {}
    local function finish()
        if results.s and results.p then
            assert(results.s == "1,2,3", "serial binding got " .. results.s)
            assert(results.p == "1,2,3", "parallel binding got " .. results.p)
            U.signal("self_ok")
        end
    end
    me:SendMessage("s", 1)
    local got_s = {}
    me:BindToMessage("s", function(i)
        got_s[#got_s + 1] = i
        if #got_s == 3 then results.s = table.concat(got_s, ","); finish() end
    end)
    me:SendMessage("s", 2)
    me:SendMessage("s", 3)

    task.desynchronize()
    me:SendMessage("p", 1)
    local got_p = {}
    me:BindToMessageParallel("p", function(i)
        got_p[#got_p + 1] = i
        if #got_p == 3 then
            results.p = table.concat(got_p, ",")
            task.synchronize()
            finish()
        end
    end)
    me:SendMessage("p", 2)
    me:SendMessage("p", 3)
]])

U.actor("Receiver", string.format("local STREAM = %d", STREAM) .. [[
    local me = script:GetActor()
    U.wait_signal("stream_started")
    task.desynchronize()
    local last = 0
    me:BindToMessageParallel("stream", function(i)
        assert(i == last + 1, "stream: message " .. i .. " after " .. last)
        last = i
        if i == STREAM then
            task.synchronize()
            U.signal("stream_ok")
        end
    end)
]])

U.actor("Streamer", string.format("local STREAM = %d", STREAM) .. [[
    local receiver = workspace.Receiver
    U.signal("stream_started")
    task.desynchronize()
    local i = 0
    while i < STREAM do
        for _ = 1, 500 do
            i = i + 1
            receiver:SendMessage("stream", i)
        end
        task.wait() -- next frame's parallel phase
    end
]])

U.wait_signal("self_ok")
U.wait_signal("stream_ok")
print("OK")
