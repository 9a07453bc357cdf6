-- The loops of bench/lthreads.lua in plain lua5.4 (no parallel.map):
--   RESULT plain_cheap_ms, RESULT plain_heavy_s
--   lua5.4 bench/lthreads-plain.lua [cheap items [heavy items]]
local CHEAP = math.tointeger(tonumber(arg[1] or 100000))
local HEAVY = math.tointeger(tonumber(arg[2] or 64))
local clock = os.clock -- one thread: CPU time is wall time

local function cheap(x) return x * 2 + 1 end
local list = {}
for i = 1, CHEAP do list[i] = i end
local t0 = clock()
local out = {}
for i = 1, CHEAP do out[i] = cheap(list[i]) end
print(string.format("RESULT plain_cheap_ms %.3f", (clock() - t0) * 1e3))

local function heavy(seed)
  local s = 0.0
  for k = 1, 100000 do s = s + math.sin(seed + k) end
  return s
end
t0 = clock()
local oh = {}
for i = 1, HEAVY do oh[i] = heavy(i) end
print(string.format("RESULT plain_heavy_s %.4f", clock() - t0))
