-- expect-stdout: ^late line from an lthread$
-- expect-stdout: ^main script ended$
-- The runtime does not exit while an lthread runs (SPEC 1.5), even when
-- nobody joins it; a handle can be sent to an actor and joined there.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
go(function()
    task.wait(0.1)
    print("late line from an lthread")
end)
local h = go(function() task.wait(0.02) return "joined elsewhere" end)
local out = SharedTable.new()
local actor = U.actor("Joiner", [[
    script.Parent:BindToMessage("join", function(handle, st)
        st.v = handle:result()
    end)
]])
task.wait()
actor:SendMessage("join", h, out)
print("main script ended")
