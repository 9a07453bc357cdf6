-- Used by exit.pty: an actor that says goodbye and ends the program from
-- the parallel phase, while the console's prompt waits.
local actor = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = [[
local frames = 0
game:GetService("RunService").Heartbeat:ConnectParallel(function()
    frames = frames + 1
    if frames == 30 then
        print("goodbye from the actor")
        os.exit(7)
    end
end)
]]
s.Parent = actor
actor.Parent = workspace
