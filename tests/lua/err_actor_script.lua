-- expect-status: 1
-- expect-stdout: ^main carries on$
-- expect-stdout: ^the actor's other thread carries on$
-- expect-stderr: Bad.*boom in the actor script
-- expect-stderr: ^stack traceback:
-- An uncaught error in an actor's script (SPEC 1.6), here after it moved to
-- the parallel phase: stderr names the VM (the actor), gives the message and
-- a traceback; other threads, in that actor and elsewhere, carry on; exit 1.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Bad", [[
    task.delay(0.05, function() print("the actor's other thread carries on") end)
    task.desynchronize()
    error("boom in the actor script")
    print("NOT REACHED")
]])
task.wait(0.1)
print("main carries on")
