-- task.spawn runs the function at once, before returning, until it first
-- yields; task.defer runs it only after the current thread yields, in FIFO
-- order (SPEC 1.4). Both, and task.delay, return the thread they scheduled,
-- which is the coroutine the function runs in; they accept a coroutine as
-- well as a function, and pass the arguments. Checked in the main VM and in
-- an actor's parallel phase.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local CHECKS = [[
    return function(where, done)
        local log = {}
        local function rec(s) log[#log + 1] = s end

        -- spawn: immediate, returns at the first yield
        local spawned_co
        local th = task.spawn(function(a, b)
            spawned_co = coroutine.running()
            rec("spawn " .. a .. b)
            task.wait()
            rec("spawn resumed")
        end, "x", "y")
        rec("after spawn")
        assert(type(th) == "thread" and th == spawned_co, where .. ": task.spawn's result")
        assert(coroutine.status(th) == "suspended")

        -- defer: later, FIFO
        local deferred_co
        local d1 = task.defer(function(a) deferred_co = coroutine.running(); rec("defer1 " .. a) end, "z")
        local d2 = task.defer(rec, "defer2")
        rec("after defer")
        assert(type(d1) == "thread" and type(d2) == "thread" and d1 ~= d2)

        -- delay returns the thread too
        local delayed_co
        local dl = task.delay(0, function() delayed_co = coroutine.running() end)
        assert(type(dl) == "thread")

        -- a coroutine instead of a function
        local co = coroutine.create(function(v) rec("co " .. v) end)
        assert(task.spawn(co, "now") == co)

        assert(table.concat(log, "|") == "spawn xy|after spawn|after defer|co now",
            where .. ": before yielding: " .. table.concat(log, "|"))
        task.wait(0.02)
        assert(deferred_co == d1, where .. ": task.defer's result is not the thread that ran")
        assert(delayed_co == dl, where .. ": task.delay's result is not the thread that ran")
        local s = table.concat(log, "|")
        assert(s:find("co now|defer1 z|defer2", 1, true), where .. ": defer order: " .. s)
        assert(s:find("spawn resumed", 1, true), where .. ": " .. s)
        done()
    end
]]

load(CHECKS)()("main", function() end)
U.actor("Spawner", string.format("local CHECKS = %q", CHECKS) .. [[
    task.desynchronize()
    load(CHECKS)()("actor, parallel", function()
        assert(parlua.phase() == "parallel")
        print("OK")
    end)
]])
