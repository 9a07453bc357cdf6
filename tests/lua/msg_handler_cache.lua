-- Delivery keeps the handlers of the last topic of each phase from one
-- dispatch to the next (src/lib/actor.c, the handler cache). Messages are
-- sent one per frame here, so every dispatch has a batch of one and runs
-- on the cached handlers. Checks: a handler replaced between dispatches
-- (unbound in the parallel phase's cache, from the serial phase) gets no
-- more messages and the new one gets them all; the replaced handler is not
-- kept alive by the cache; two topics alternating, a topic with two
-- handlers, and a topic bound only after its messages waited all deliver
-- in order.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

U.actor("Cached", [[
    local me = script:GetActor()
    local log = {}
    local weak = setmetatable({}, { __mode = "v" })
    local function h1(i) log[#log + 1] = "h1:" .. i end
    weak.h1 = h1
    local conn = me:BindToMessageParallel("m", h1)
    h1 = nil
    me:BindToMessageParallel("a", function(i) log[#log + 1] = "a:" .. i end)
    me:BindToMessageParallel("b", function(i) log[#log + 1] = "b:" .. i end)
    me:BindToMessageParallel("two", function(i) log[#log + 1] = "two1:" .. i end)
    me:BindToMessageParallel("two", function(i) log[#log + 1] = "two2:" .. i end)
    -- serial topics: they leave the parallel phase's cache as it is
    me:BindToMessage("swap", function()
        conn:Disconnect()
        conn = nil
        me:BindToMessageParallel("m", function(i) log[#log + 1] = "h2:" .. i end)
    end)
    me:BindToMessage("late", function()
        me:BindToMessageParallel("w", function(i) log[#log + 1] = "w:" .. i end)
    end)
    me:BindToMessage("gone", function()
        collectgarbage()
        collectgarbage()
        assert(weak.h1 == nil, "the replaced handler is still referenced (handler cache)")
    end)
    me:BindToMessage("check", function()
        local want = table.concat({
            "h1:1", "h1:2", "h1:3", "h2:4", "h2:5",
            "a:1", "b:1", "a:2", "b:2", "a:3", "b:3",
            "two1:1", "two2:1", "two1:2", "two2:2",
            "w:1", "w:2", "w:3",
        }, " ")
        local got = table.concat(log, " ")
        assert(got == want, "delivered:\n" .. got .. "\nexpected:\n" .. want)
        print("OK")
    end)
]])
task.wait()
local a = workspace.Cached
for i = 1, 3 do a:SendMessage("m", i); task.wait() end
a:SendMessage("swap")
task.wait()
a:SendMessage("gone")
task.wait()
for i = 4, 5 do a:SendMessage("m", i); task.wait() end
for i = 1, 3 do
    a:SendMessage("a", i); task.wait()
    a:SendMessage("b", i); task.wait()
end
for i = 1, 2 do a:SendMessage("two", i); task.wait() end
for i = 1, 3 do a:SendMessage("w", i) end -- waits: "w" is not bound yet
task.wait()
a:SendMessage("late")
task.wait()
task.wait()
a:SendMessage("check")
