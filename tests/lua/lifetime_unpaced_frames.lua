-- Without --fps, frames follow each other as soon as there is work (SPEC
-- 1.5): with a Heartbeat connected there is always work, so in 0.1 s there
-- are far more frames than a 60 fps game loop would run (a loose ratio), and
-- dt is correspondingly small. Disconnecting ends the program.
local frames, t0, max_dt = 0, time(), 0
local conn
conn = game:GetService("RunService").Heartbeat:Connect(function(dt)
    frames = frames + 1
    if frames > 1 then max_dt = math.max(max_dt, dt) end
    local elapsed = time() - t0
    if elapsed >= 0.1 then
        conn:Disconnect()
        print(string.format("%d frames in %.3f s", frames, elapsed))
        assert(frames > 3 * 60 * elapsed, "only " .. frames .. " frames: paced without --fps?")
        print("OK")
    end
end)
