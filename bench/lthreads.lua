-- Lthreads (docs/lthreads.md). Prints "RESULT name value" lines:
--   lthread_start_us   go() to wait_result(), per lthread, for a batch of
--                      10,000 (all started, then all joined), microseconds
--   map_cheap_ms       parallel.map over 100,000 cheap items (x * 2 + 1)
--   loop_cheap_ms      the same work in a plain loop, in the same VM
--   map_heavy_s        parallel.map over 64 expensive items (a sum of
--                      sines, a few milliseconds each)
--   loop_heavy_s       the same work in a plain loop, in the same VM
--   lthread_cpu_ratio  the CPU time of that loop run inside one lthread
--                      over its CPU time in the main VM (1.0: Lua code
--                      runs as fast in an lthread; CPU time, so it holds
--                      on a loaded machine)
-- bench/lthreads-plain.lua runs the two loops in lua5.4.
--   parlua bench/lthreads.lua [lthreads [cheap items [heavy items]]]
local N = math.tointeger(tonumber(arg[1] or 10000))
local CHEAP = math.tointeger(tonumber(arg[2] or 100000))
local HEAVY = math.tointeger(tonumber(arg[3] or 64))
local clock = time

-- 1. start + join
local handles = {}
local t0 = clock()
for i = 1, N do handles[i] = go(function() return i end) end
for i = 1, N do
  local r, err = handles[i]:wait_result()
  assert(r == i and err == nil, err)
end
print(string.format("RESULT lthread_start_us %.2f", (clock() - t0) / N * 1e6))
handles = nil
collectgarbage()

-- 2. cheap items: parallel.map must not lose to a loop
local function cheap(x) return x * 2 + 1 end
local list = {}
for i = 1, CHEAP do list[i] = i end
t0 = clock()
local r = parallel.map(list, cheap)
local map_cheap = clock() - t0
assert(#r == CHEAP and r[CHEAP] == CHEAP * 2 + 1)
t0 = clock()
local out = {}
for i = 1, CHEAP do out[i] = cheap(list[i]) end
local loop_cheap = clock() - t0
print(string.format("RESULT map_cheap_ms %.3f", map_cheap * 1e3))
print(string.format("RESULT loop_cheap_ms %.3f", loop_cheap * 1e3))

-- 3. expensive items: parallel.map must scale with the workers
local function heavy(seed)
  local s = 0.0
  for k = 1, 100000 do s = s + math.sin(seed + k) end
  return s
end
local seeds = {}
for i = 1, HEAVY do seeds[i] = i end
t0 = clock()
local rh = parallel.map(seeds, heavy)
local map_heavy = clock() - t0
t0 = clock()
local oh = {}
for i = 1, HEAVY do oh[i] = heavy(seeds[i]) end
local loop_heavy = clock() - t0
for i = 1, HEAVY do assert(rh[i] == oh[i], "parallel.map and the loop disagree") end
print(string.format("RESULT map_heavy_s %.4f", map_heavy))
print(string.format("RESULT loop_heavy_s %.4f", loop_heavy))

-- 4. the same loop inside one lthread against the main VM, in CPU time
-- (os.clock counts every thread of the process: only one runs here)
local function cpu_of(fn)
  local c0 = os.clock()
  fn()
  return os.clock() - c0
end
local in_main = cpu_of(function() for i = 1, HEAVY do heavy(seeds[i]) end end)
local in_lthread = cpu_of(function()
  go(function() for i = 1, HEAVY do heavy(seeds[i]) end end):result()
end)
print(string.format("RESULT lthread_cpu_ratio %.2f", in_lthread / in_main))
