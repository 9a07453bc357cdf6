-- expect-status: 1
-- expect-stdout: ^main closed: .*boom in spawn$
-- expect-stdout: ^handler closed: .*boom in handler$
-- expect-stdout: ^both closed after the failing __close$
-- expect-stderr: uncaught error in main: .*boom in spawn
-- expect-stderr: error in __close in main: .*close boom
-- expect-stderr: uncaught error in actor Workspace.Closer: .*boom in handler
-- A runtime thread that dies of an uncaught error closes its to-be-closed
-- variables with the error, as lua5.4 does; an error in __close is reported
-- too and the other variables are still closed (issue 8 item 13).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local function closer(fn)
    return setmetatable({}, { __close = fn })
end

task.spawn(function()
    local x <close> = closer(function(_, err) print("main closed: " .. tostring(err)) end)
    error("boom in spawn")
end)

local closed = 0
task.spawn(function()
    local a <close> = closer(function() closed = closed + 1 end)
    local b <close> = closer(function() error("close boom") end)
    local c <close> = closer(function() closed = closed + 1 end)
    error("boom before closing")
end)
if closed == 2 then print("both closed after the failing __close") end

U.actor("Closer", [[
    script:GetActor():BindToMessageParallel("go", function()
        local x <close> = setmetatable({}, { __close = function(_, err)
            print("handler closed: " .. tostring(err))
        end })
        error("boom in handler")
    end)
]])
workspace.Closer:SendMessage("go")
