-- expect-status: 1
-- expect-stdout: ^other threads carry on$
-- expect-stdout: ^the actor carries on$
-- expect-stderr: main.*boom in the main script
-- expect-stderr: ^stack traceback:
-- expect-stderr: err_main_script.lua:[0-9]+: in main chunk
-- An uncaught error in the main script (SPEC 1.6): stderr gets the VM's
-- name, the message and a traceback; the thread dies but the runtime
-- carries on (a delayed thread in the main VM and an actor still print);
-- the command exits with status 1.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

task.delay(0.05, function() print("other threads carry on") end)
U.actor("Survivor", [[
    task.wait(0.05)
    print("the actor carries on")
]])
error("boom in the main script")
print("NOT REACHED")
