-- expect-status: 1
-- expect-stdout: ^serial heartbeat carries on$
-- expect-stdout: ^parallel heartbeat carries on$
-- expect-stderr: main.*boom in a serial heartbeat
-- expect-stderr: Beat.*boom in a parallel heartbeat
-- expect-stderr: ^stack traceback:
-- An uncaught error in a Heartbeat handler (Connect in the main VM,
-- ConnectParallel in an actor) is reported with the VM's name, the message
-- and a traceback; the connection stays and fires again next frame; exit 1.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Beat", [[
    local n, conn = 0, nil
    conn = game:GetService("RunService").Heartbeat:ConnectParallel(function()
        n = n + 1
        if n == 1 then error("boom in a parallel heartbeat") end
        if n == 3 then
            conn:Disconnect()
            print("parallel heartbeat carries on")
        end
    end)
]])

local n, conn = 0, nil
conn = game:GetService("RunService").Heartbeat:Connect(function()
    n = n + 1
    if n == 1 then error("boom in a serial heartbeat") end
    if n == 3 then
        conn:Disconnect()
        print("serial heartbeat carries on")
    end
end)
