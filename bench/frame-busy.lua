-- Frame cost with busy actors (SPEC 11: it must grow linearly with the
-- work; issue 12: below 1 ms per 1,000 trivially busy actors).
--
--   parlua bench/frame-busy.lua [actors [frames]]   (defaults 1000, 200)
--
-- Makes `actors` Actors, each with a Heartbeat:ConnectParallel handler
-- doing a tiny amount of work (a few additions), waits for them to start,
-- then times `frames` frames of the Heartbeat loop (one serial handler in
-- the main VM counts them): RESULT busy_frame_us, the time of one frame,
-- and RESULT busy_frame_us_per_1000, the same per 1,000 actors;
-- RESULT busy_frame_cpu_us, the CPU time of the process per frame (every
-- thread: on a machine other jobs share, the work a frame costs, where
-- the wall time also counts waiting for a core).
local nactors = math.tointeger(tonumber(arg[1] or 1000))
local nframes = math.tointeger(tonumber(arg[2] or 200))

local src = [[
local x = 0
game:GetService("RunService").Heartbeat:ConnectParallel(function(dt)
  for i = 1, 10 do x = x + i end
end)
]]
for i = 1, nactors do
  local a = Instance.new("Actor")
  a.Name = "Busy" .. i
  local s = Instance.new("Script")
  s.Source = src
  s.Parent = a
  a.Parent = workspace
end
task.wait() -- the scripts run (and connect) before this thread resumes

local RunService = game:GetService("RunService")
local n, t0, c0 = 0, nil, nil
local done = false
local conn
conn = RunService.Heartbeat:Connect(function()
  n = n + 1
  if n == 20 then
    t0, c0 = time(), os.clock() -- warmed up
  elseif n == 20 + nframes then
    local us = (time() - t0) / nframes * 1e6
    local cpu = (os.clock() - c0) / nframes * 1e6
    print(string.format("RESULT busy_frame_us %.1f", us))
    print(string.format("RESULT busy_frame_us_per_1000 %.1f", us / nactors * 1000))
    print(string.format("RESULT busy_frame_cpu_us %.1f", cpu))
    conn:Disconnect()
    done = true
  end
end)
while not done do task.wait() end
os.exit(0)
