-- RunService.Heartbeat:Connect in the main VM: the handler runs in the
-- serial phase once per frame with dt > 0 (seconds since the last frame);
-- Disconnect stops it, and then the program ends by itself (nothing else is
-- pending). ConnectParallel outside an actor raises.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local RunService = game:GetService("RunService")
U.raises_with("ConnectParallel can only be called from a script that is a descendant of an Actor",
    function() RunService.Heartbeat:ConnectParallel(function() end) end)

local calls, conn = 0, nil
conn = RunService.Heartbeat:Connect(function(dt)
    calls = calls + 1
    assert(parlua.phase() == "serial", "Heartbeat:Connect handler phase: " .. parlua.phase())
    assert(type(dt) == "number" and dt > 0, "dt: " .. tostring(dt))
    assert(dt <= time() + 1e-9, "dt longer than the runtime has existed: " .. dt)
    if calls == 5 then
        conn:Disconnect()
        assert(conn.Connected == false)
        -- the handler is not called again: checked by a later frame
        task.delay(0.05, function()
            assert(calls == 5, "handler ran after Disconnect: " .. calls)
            print("OK")
        end)
    end
end)
assert(conn.Connected == true)
