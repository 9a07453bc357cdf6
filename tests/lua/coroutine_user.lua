-- User coroutines and the runtime (SPEC 1.2):
-- * task.wait inside a coroutine the user created suspends that coroutine:
--   its coroutine.resume returns true at once (as for a yield) and the
--   runtime resumes the coroutine later by itself;
-- * the user's own coroutine.yield still returns to whoever resumed it
--   (generators work), also mixed with a task.wait in the same coroutine;
-- * coroutine.wrap likewise; and the same in an actor's parallel phase.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local CHECKS = [[
    return function(where, done)
        local log = {}
        local co = coroutine.create(function(a)
            log[#log + 1] = "start " .. a
            local elapsed = task.wait(0.02)
            assert(elapsed >= 0.02 * (1 - 1e-9))
            log[#log + 1] = "resumed by the runtime"
            -- no return value here: coroutine_finished_dead.lua covers that
        end)
        local t0 = time()
        local res = table.pack(coroutine.resume(co, "A"))
        assert(res[1] == true and res.n == 1, where .. ": resume returned " .. tostring(res[2]))
        assert(coroutine.status(co) == "suspended")
        assert(table.concat(log, ",") == "start A")

        -- a generator: the user's yields go to the user
        local gen = coroutine.wrap(function()
            for i = 1, 3 do coroutine.yield(i * 10) end
            return "end"
        end)
        assert(gen() == 10 and gen() == 20 and gen() == 30 and gen() == "end", where .. ": generator")

        -- mixed: yield to the user, then a runtime wait, then finish
        local mixed_done = false
        local mixed = coroutine.create(function()
            local got = coroutine.yield("first")
            assert(got == "resume arg")
            task.wait()
            mixed_done = true
        end)
        local ok, v = coroutine.resume(mixed)
        assert(ok and v == "first", where .. ": user yield did not reach the resumer")
        local ok2, v2 = coroutine.resume(mixed, "resume arg")
        assert(ok2 and v2 == nil and not mixed_done, where .. ": task.wait inside a user coroutine")

        -- wait until the runtime has resumed both
        while coroutine.status(co) ~= "dead" or not mixed_done do
            assert(time() - t0 < 30, where .. ": the runtime never resumed the coroutine")
            task.wait()
        end
        assert(table.concat(log, ",") == "start A,resumed by the runtime", where .. ": " .. table.concat(log, ","))
        done()
    end
]]

load(CHECKS)()("main", function() end)
U.actor("Coro", string.format("local CHECKS = %q", CHECKS) .. [[
    task.desynchronize()
    load(CHECKS)()("actor, parallel", function()
        assert(parlua.phase() == "parallel")
        print("OK")
    end)
]])
