-- expect-stdout: ^before yield$
-- expect-stdout: ^handler before yield$
-- expect-stdout: ^kept resumed$
-- expect-stderr: ^parlua: warning: a thread of main suspended by coroutine.yield\(\) at .*coroutine_yield_top_level.lua:31 was never resumed
-- expect-stderr: ^parlua: warning: a thread of actor Workspace.Yielder suspended by coroutine.yield\(\) at Workspace.Yielder.YielderScript:3 was never resumed
-- coroutine.yield() at a script's top level or in a handler suspends that
-- thread for good, as in Roblox, but when the runtime ends each such thread
-- still suspended is reported on stderr with its VM and file:line (SPEC 1.2;
-- it used to end in silence). A yielded thread that someone resumed is not
-- reported. The exit status stays 0.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Yielder", [[
    script:GetActor():BindToMessage("go", function()
        print("handler before yield")
        coroutine.yield()
        print("handler after yield: never")
    end)
]])
workspace.Yielder:SendMessage("go")

local kept
task.spawn(function()
    kept = coroutine.running()
    coroutine.yield()
    print("kept resumed")
end)
task.defer(function() coroutine.resume(kept) end)
print("before yield")
coroutine.yield()
print("after yield: never")
