-- RunService.Heartbeat in an actor: ConnectParallel handlers run in the
-- parallel phase, Connect handlers in the serial phase, both with dt > 0,
-- once per frame; after both Disconnect the program ends by itself.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Beater", [[
    local RunService = game:GetService("RunService")
    local par_calls, ser_calls = 0, 0
    local par_conn, ser_conn
    local finished = 0
    local function finish()
        finished = finished + 1
        if finished == 2 then
            task.delay(0.05, function()
                assert(par_calls == 4 and ser_calls == 4,
                    "handlers ran after Disconnect: " .. par_calls .. ", " .. ser_calls)
                print("OK")
            end)
        end
    end
    par_conn = RunService.Heartbeat:ConnectParallel(function(dt)
        par_calls = par_calls + 1
        assert(parlua.phase() == "parallel", "ConnectParallel handler phase: " .. parlua.phase())
        assert(type(dt) == "number" and dt > 0, "dt: " .. tostring(dt))
        if par_calls == 4 then par_conn:Disconnect(); finish() end
    end)
    ser_conn = RunService.Heartbeat:Connect(function(dt)
        ser_calls = ser_calls + 1
        assert(parlua.phase() == "serial", "Connect handler phase: " .. parlua.phase())
        assert(type(dt) == "number" and dt > 0, "dt: " .. tostring(dt))
        if ser_calls == 4 then ser_conn:Disconnect(); finish() end
    end)
]])
