-- The main VM (not an actor) runs in the serial phase; task.synchronize()
-- there returns at once; task.desynchronize() raises the exact SPEC 1.4
-- message, in the main script, in a spawned thread, and in a Script that has
-- no Actor ancestor.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local DESYNC_MSG =
    "task.desynchronize() can only be called from a script that is a descendant of an Actor"

assert(parlua.phase() == "serial", "main script phase: " .. tostring(parlua.phase()))

-- synchronize in serial returns at once: a deferred thread cannot have run yet
local deferred_ran = false
task.defer(function() deferred_ran = true end)
task.synchronize()
assert(not deferred_ran, "task.synchronize() in serial yielded")
assert(parlua.phase() == "serial")

U.raises(DESYNC_MSG, task.desynchronize)
assert(parlua.phase() == "serial")

local spawned_checked = false
task.spawn(function()
    U.raises(DESYNC_MSG, task.desynchronize)
    assert(parlua.phase() == "serial")
    spawned_checked = true
end)
assert(spawned_checked)

-- A Script with no Actor ancestor runs in the main VM: same rule.
script_results = {}
local s = Instance.new("Script")
s.Source = [[
    script_results.phase = parlua.phase()
    local ok, err = pcall(task.desynchronize)
    script_results.ok, script_results.err = ok, err
]]
local folder = Instance.new("Folder", workspace)
s.Parent = folder

task.wait() -- the script starts in the next serial phase
assert(deferred_ran)
assert(script_results.phase == "serial", tostring(script_results.phase))
assert(script_results.ok == false)
assert(type(script_results.err) == "string" and script_results.err:sub(-#DESYNC_MSG) == DESYNC_MSG,
    tostring(script_results.err))
print("OK")
