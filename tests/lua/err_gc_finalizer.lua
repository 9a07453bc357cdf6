-- expect-stdout: ^OK$
-- expect-stderr: ^parlua: error in __gc in main: .*err_gc_finalizer.lua:[0-9]+: finalizer boom$
-- expect-stderr: ^parlua: error in __gc in main: error object is not a string$
-- expect-stderr: ^parlua: error in __gc in actor Workspace.Gc: .*actor finalizer boom$
-- expect-stderr: ^Lua warning: error in plain warn$
-- An error in a __gc finalizer is printed on stderr with the VM's name,
-- warnings on or off (SPEC 1.6; lua5.4 shows it only with -W). Ordinary
-- warn() stays as in lua5.4, also one that starts like that warning.
-- Not an uncaught error of a runtime thread: the exit status stays 0.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

setmetatable({}, { __gc = function() error("finalizer boom") end })
collectgarbage()
setmetatable({}, { __gc = function() error({}) end })
collectgarbage()
warn("@on")
warn("error in ", "plain warn")
warn("@off")
U.actor("Gc", [[
    setmetatable({}, { __gc = function() error("actor finalizer boom") end })
    collectgarbage()
]])
task.wait()
print("OK")
