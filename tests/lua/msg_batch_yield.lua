-- expect-stdout: ^serial 1 2 3 4 5 3done$
-- expect-stdout: ^parallel 1 2 3 4 5 3done$
-- expect-stdout: ^resumed 2 x r1 r2$
-- Messages for one handler run as a batch in one coroutine (lib/actor.c's
-- batch runner). A handler that yields in the middle of the batch (message
-- 3 of 5: task.wait in a serial handler, task.synchronize in a parallel
-- one) parks on its own while messages 4 and 5 are still handled, in
-- order; it resumes later. A handler that yields with coroutine.yield is
-- left to whoever holds its coroutine: coroutine.resume finishes it and
-- returns what the handler returned.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local a = U.actor("Batch", [[
    local me = script:GetActor()
    local function binder(bind, label, yield)
        local log = {}
        bind(me, "m", function(i)
            assert(coroutine.isyieldable())
            log[#log + 1] = tostring(i)
            if i == 3 then
                yield()
                log[#log + 1] = "3done"
            end
            if #log == 6 then
                task.synchronize()
                print(label .. " " .. table.concat(log, " "))
            end
        end)
    end
    binder(me.BindToMessage, "serial", function() task.wait() end)
    binder(me.BindToMessageParallel, "parallel", function()
        task.synchronize()
        task.desynchronize()
    end)
    local held
    me:BindToMessage("y", function(i)
        if i == 2 then
            held = coroutine.running()
            local got = coroutine.yield()
            return "r1", got == "x" and "r2" or "bad"
        elseif i == 4 then
            local ok, r1, r2 = coroutine.resume(held, "x")
            assert(ok, r1)
            assert(coroutine.status(held) == "dead")
            print("resumed 2 x " .. tostring(r1) .. " " .. tostring(r2))
        end
    end)
]])
task.wait()
for i = 1, 5 do a:SendMessage("m", i) end
for i = 1, 5 do a:SendMessage("y", i) end
