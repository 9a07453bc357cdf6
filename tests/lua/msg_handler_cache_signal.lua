-- The handler cache (src/lib/actor.c) across signal deliveries: a signal
-- handled by ConnectParallel rides the same parallel batch as messages
-- (src/lib/signal.c), so one batch here holds m:1, a signal, m:2, a
-- signal, m:3, each kept in order. Delivering a signal must leave the
-- handlers of the cached topic usable for the next message of it (the
-- cache's handlers sit in a stack slot the signal's delivery must not
-- clobber), and a handler that binds a new topic in the middle of the
-- batch must make the next message look its handlers up again.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local ev = Instance.new("BindableEvent")
ev.Name = "Ev"
ev.Parent = workspace

U.actor("Mixed", [[
  local me = script:GetActor()
  local log = {}
  me:BindToMessageParallel("m", function(i) log[#log + 1] = "m:" .. i end)
  me:BindToMessageParallel("rebind", function()
    log[#log + 1] = "rebind"
    me:BindToMessageParallel("m", function(i) log[#log + 1] = "m2:" .. i end)
  end)
  workspace.Ev.Event:ConnectParallel(function(x) log[#log + 1] = "sig:" .. x end)
  me:BindToMessage("check", function(want)
    local got = table.concat(log, " ")
    assert(got == want, "delivered:\n" .. got .. "\nexpected:\n" .. want)
    print("OK")
  end)
  U.signal("Bound")
]])
U.wait_signal("Bound")
local a = workspace.Mixed
-- one frame: all of these reach the actor's parallel queue in this order
a:SendMessage("m", 1)
ev:Fire("a")
a:SendMessage("m", 2)
ev:Fire("b")
a:SendMessage("m", 3)
a:SendMessage("rebind")
a:SendMessage("m", 4)
ev:Fire("c")
a:SendMessage("m", 5)
task.wait()
a:SendMessage("check", "m:1 sig:a m:2 sig:b m:3 rebind m:4 m2:4 sig:c m:5 m2:5")
task.wait()
