-- coroutine.running() at a script's top level reports a coroutine, not the
-- main thread (SPEC 1.2): second result false in the main script, in an
-- actor's script, in a Script of the main VM, in a message callback, in a
-- Heartbeat handler and in spawned/deferred functions; each is a different
-- coroutine from the main script's.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local function check(where)
    local co, ismain = coroutine.running()
    assert(type(co) == "thread", where .. ": no coroutine")
    assert(ismain == false, where .. ": coroutine.running() says this is the main thread")
    assert(coroutine.isyieldable(), where .. ": not yieldable")
    return co
end

local top = check("main script")
assert(task.spawn(function() assert(check("spawned") ~= top) end))
task.defer(function() assert(check("deferred") ~= top) end)

local s = Instance.new("Script")
s.Source = [[
    local co, ismain = coroutine.running()
    main_vm_script_ok = type(co) == "thread" and ismain == false
]]
s.Parent = workspace

local conn
conn = game:GetService("RunService").Heartbeat:Connect(function()
    check("Heartbeat handler")
    conn:Disconnect()
end)

U.actor("Runner", [[
    local function check(where)
        local co, ismain = coroutine.running()
        assert(type(co) == "thread" and ismain == false, where .. ": main thread")
    end
    check("actor script")
    local me = script:GetActor()
    local n = 0
    local function finish() n = n + 1; if n == 2 then U.signal("actor_ok") end end
    me:BindToMessage("m", function() check("serial callback"); finish() end)
    me:BindToMessageParallel("m", function()
        check("parallel callback")
        task.synchronize()
        finish()
    end)
]])
workspace.Runner:SendMessage("m")
U.wait_signal("actor_ok")
assert(main_vm_script_ok == true, "a Script in the main VM saw the main thread")
print("OK")
