-- Connection:Disconnect() stops delivery to that callback at once, even for
-- messages already queued in the same batch, while other callbacks on the
-- topic keep getting every message (serial and parallel bindings).
-- Connected reads false afterwards; a second Disconnect is harmless.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local N = 20

U.actor("Disc", string.format("local N = %d", N) .. [[
    local me = script:GetActor()
    local a, b, pa, pb = 0, 0, 0, 0
    local ca, cpa
    ca = me:BindToMessage("t", function(i)
        a = a + 1
        assert(a <= 5, "serial callback called after Disconnect (message " .. i .. ")")
        if a == 5 then ca:Disconnect() end
    end)
    cpa = me:BindToMessageParallel("t", function(i)
        pa = pa + 1
        assert(pa <= 7, "parallel callback called after Disconnect (message " .. i .. ")")
        if pa == 7 then cpa:Disconnect() end
    end)
    local finished = 0
    local function finish()
        finished = finished + 1
        if finished < 2 then return end
        assert(a == 5 and pa == 7, "counts after Disconnect: " .. a .. ", " .. pa)
        assert(ca.Connected == false and cpa.Connected == false)
        ca:Disconnect() -- again: no effect, no error
        print("OK")
    end
    me:BindToMessage("t", function(i)
        b = b + 1
        assert(i == b)
        if b == N then finish() end
    end)
    me:BindToMessageParallel("t", function(i)
        pb = pb + 1
        assert(i == pb)
        if pb == N then task.synchronize(); finish() end
    end)
    assert(ca.Connected == true and cpa.Connected == true)
    U.signal("bound")
]])

U.wait_signal("bound")
for i = 1, N do workspace.Disc:SendMessage("t", i) end
