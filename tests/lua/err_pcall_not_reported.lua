-- expect-no-stderr
-- Errors caught by the script are not reported and do not change the exit
-- status (SPEC 1.6 reports only uncaught errors): pcall and xpcall in the
-- main VM, pcall around a task.wait (a yield inside pcall) and around
-- task.desynchronize in an actor, an error inside a message callback caught
-- there, a failed user coroutine (coroutine.resume returns false).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local ok, err = pcall(error, "caught 1")
assert(not ok and err == "caught 1")
ok, err = xpcall(function() error({ code = 7 }) end, function(e) return e.code end)
assert(not ok and err == 7)
local co = coroutine.create(function() error("caught in a coroutine") end)
ok, err = coroutine.resume(co)
assert(not ok and err:find("caught in a coroutine", 1, true))

-- yields inside pcall, then an error after the resume
ok, err = pcall(function()
    task.wait(0.01)
    error("caught after a wait")
end)
assert(not ok and err:find("caught after a wait", 1, true), tostring(err))

U.actor("Careful", [[
    local ok, err = pcall(function()
        task.desynchronize()
        assert(parlua.phase() == "parallel")
        error("caught in parallel")
    end)
    assert(not ok and err:find("caught in parallel", 1, true))
    assert(parlua.phase() == "parallel") -- pcall does not undo the switch
    task.synchronize()
    script:GetActor():BindToMessage("m", function()
        local ok2 = pcall(error, "caught in a callback")
        assert(not ok2)
        print("OK")
    end)
]])
workspace.Careful:SendMessage("m")
