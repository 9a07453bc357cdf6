-- Idle actors: start-up cost, memory, and what they cost a frame.
--
--   parlua bench/actors.lua [actors [frames]]    (defaults 10000, 20000)
--
-- 1. Makes `actors` Actors, each with a tiny script that binds a topic and
--    then waits forever for a message that never comes (an idle actor), and
--    times their creation and first run: RESULT actor_start_us, per actor.
-- 2. Their memory: the Lua heaps of the actor VMs (parlua.stats()) and the
--    growth of the process's resident memory, per actor:
--    RESULT idle_actor_heap_kb, RESULT idle_actor_rss_kb.
-- 3. Frame overhead: `frames` frames of an empty Heartbeat loop (one serial
--    handler that counts) with those actors idle: RESULT frame_us, the
--    time of one frame. Run with 0 actors for the baseline; the two must be
--    about the same (SPEC 1.3: only actors with work are touched).
local nactors = math.tointeger(tonumber(arg[1] or 10000))
local nframes = math.tointeger(tonumber(arg[2] or 20000))

local function rss_kb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local kb = f:read("a"):match("VmRSS:%s*(%d+)")
  f:close()
  return tonumber(kb)
end

if nactors > 0 then
  collectgarbage()
  local rss0 = rss_kb()
  local t0 = time()
  for i = 1, nactors do
    local a = Instance.new("Actor")
    a.Name = "Idle" .. i
    local s = Instance.new("Script")
    s.Source = 'script:GetActor():BindToMessage("never", function() end)'
    s.Parent = a
    a.Parent = workspace -- the script starts in the next serial phase
  end
  task.wait() -- the scripts run before this thread resumes
  local t1 = time()
  local st = parlua.stats()
  assert(st.memory.actor.vms == nactors, "not every actor started")
  print(string.format("RESULT actor_start_us %.2f", (t1 - t0) / nactors * 1e6))
  print(string.format("RESULT idle_actor_heap_kb %.2f", st.memory.actor.current / nactors / 1024))
  local rss1 = rss_kb()
  if rss0 and rss1 then
    print(string.format("RESULT idle_actor_rss_kb %.2f", (rss1 - rss0) / nactors))
    print(string.format("RESULT total_rss_mb %.1f", rss1 / 1024))
  end
end

local RunService = game:GetService("RunService")
local n, t0 = 0, nil
local conn
conn = RunService.Heartbeat:Connect(function()
  n = n + 1
  if n == 100 then
    t0 = time() -- warmed up
  elseif n == 100 + nframes then
    print(string.format("RESULT frame_us %.3f", (time() - t0) / nframes * 1e6))
    conn:Disconnect()
  end
end)
