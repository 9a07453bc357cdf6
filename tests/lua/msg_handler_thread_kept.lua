-- expect-stdout: ^kept OK$
-- A message handler keeps coroutine.running() and returns; later code
-- cancels that coroutine (task.cancel) and resumes-closes it. The runtime
-- must not hand the kept coroutine to a later handler, and the next messages
-- are still delivered. Used to free the reused handler record while the VM
-- still pointed to it (use-after-free, issue 8 item 2).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Keeper", [[
    local me = script:GetActor()
    local kept = {}
    local n = 0
    me:BindToMessage("m", function(i)
        local co = coroutine.running()
        for _, k in ipairs(kept) do
            assert(k ~= co, "handler " .. i .. " runs in a coroutine kept by an earlier handler")
        end
        kept[#kept + 1] = co
        n = n + 1
        if i % 2 == 1 then
            -- from another coroutine, after the handler returned
            task.defer(function() task.cancel(co) end)
        else
            task.cancel(kept[#kept - 1])
            assert(coroutine.status(kept[#kept - 1]) == "dead")
        end
        if n == 40 then print("kept OK") end
    end)
]])
for i = 1, 40 do
    workspace.Keeper:SendMessage("m", i)
    if i % 5 == 0 then task.wait() end
end
