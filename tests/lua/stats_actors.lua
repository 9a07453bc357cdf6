-- parlua.actors() lists every actor with its state (the console's
-- listing, docs/guide.md): idle, waiting (timers, Heartbeat), scheduled,
-- running, not started, destroyed; messages queued and waiting for a
-- binding. The table and parlua.stats()'s print readably (__tostring).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local listing = parlua.actors()
assert(#listing == 0 and tostring(listing) == "no actors", tostring(listing))

U.actor("Idle", [[
    script:GetActor():BindToMessage("ping", function() end)
    U.signal("idle ready")
]])
U.actor("Sleeper", [[
    task.wait(1000)
]])
U.actor("Beating", [[
    game:GetService("RunService").Heartbeat:Connect(function() end)
]])
local busy = U.actor("Busy", [[
    script:GetActor():BindToMessage("work", function() end)
    U.signal("busy ready")
]])
U.actor("Self", [[
    script:GetActor():BindToMessage("look", function()
        for _, a in ipairs(parlua.actors()) do
            if a.name == "Workspace.Self" then
                assert(a.state == "running", a.state)
                U.signal("self running")
            end
        end
        local ok, err = pcall(function()
            task.desynchronize()
            return parlua.actors()
        end)
        assert(not ok and err:find("not safe to call in parallel", 1, true), err)
        task.synchronize()
        U.signal("self checked")
    end)
    U.signal("self ready")
]])
local unstarted = Instance.new("Actor")
unstarted.Name = "Unstarted"
unstarted.Parent = workspace
local gone = U.actor("Gone", [[ script:GetActor():BindToMessage("x", function() end) ]])

U.wait_signal("idle ready")
U.wait_signal("busy ready")
U.wait_signal("self ready")
task.wait(0.05)
gone:Destroy()
unstarted:SendMessage("nobody", 1) -- waits for a binding that never comes
unstarted:SendMessage("nobody", 2)
busy:SendMessage("work")          -- queued for the next serial phase

local by_name = {}
listing = parlua.actors()
for _, a in ipairs(listing) do by_name[a.name] = a end
local function state(name) return by_name["Workspace." .. name] and by_name["Workspace." .. name].state end
assert(state("Idle") == "idle", state("Idle"))
assert(state("Sleeper") == "waiting", state("Sleeper"))
assert(by_name["Workspace.Sleeper"].timers == 1)
assert(state("Beating") == "waiting" and by_name["Workspace.Beating"].heartbeat == 1, state("Beating"))
assert(state("Busy") == "scheduled" and by_name["Workspace.Busy"].messages == 1, state("Busy"))
assert(state("Unstarted") == "not started" and by_name["Workspace.Unstarted"].unbound == 2,
    tostring(state("Unstarted")))
assert(by_name["Workspace.Idle"].memory > 0 and by_name["Workspace.Idle"].runs >= 1)
-- destroyed: off the tree, so listed by the name it had, until it is freed
for _, a in ipairs(listing) do
    if a.state == "destroyed" then by_name.gone = a end
end
assert(by_name.gone, "the destroyed actor is not listed as destroyed:\n" .. tostring(listing))

local text = tostring(listing)
assert(text:find("^actor +state +messages"), text)
assert(text:find("\nWorkspace.Idle +idle ", 1, false), text)
assert(text:find("\nWorkspace.Sleeper +waiting ", 1, false), text)

workspace.Self:SendMessage("look")
U.wait_signal("self checked")

-- parlua.stats() prints as the --stats summary; its fields stay plain
local s = parlua.stats()
assert(type(s.frames) == "number")
assert(tostring(s):find("^parlua.stats%(%)\n  wall time "), tostring(s))
assert(tostring(s):find("\n  top VMs by time running", 1, true))
for _, a in ipairs(workspace:GetChildren()) do a:Destroy() end -- the sleeper and the beat end
print("OK")
