-- options: --fps 30
-- --fps N paces frames at N per second (SPEC 1.5, 9): a Heartbeat handler
-- counting frames for about 0.3 s sees a frame count near 0.3 * 30 and a
-- mean dt near 1/30 (loose ratios: the machine is shared and noisy).
-- Disconnecting ends the program.
local RunService = game:GetService("RunService")
local frames, dt_sum, t0 = 0, 0, nil
local conn
conn = RunService.Heartbeat:Connect(function(dt)
    if not t0 then t0 = time(); return end -- count from the first frame
    frames = frames + 1
    dt_sum = dt_sum + dt
    local elapsed = time() - t0
    if elapsed >= 0.3 then
        conn:Disconnect()
        local expected = elapsed * 30
        print(string.format("%d frames in %.3f s (expected %.1f), mean dt %.4f s",
            frames, elapsed, expected, dt_sum / frames))
        assert(frames >= 0.5 * expected and frames <= 1.5 * expected + 1,
            "frame count out of range: " .. frames)
        local mean = dt_sum / frames
        assert(mean >= 0.5 / 30 and mean <= 2 / 30, "mean dt " .. mean)
        print("OK")
    end
end)
