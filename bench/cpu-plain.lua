-- bench/cpu.lua's work for plain lua5.4: the whole loop of bench/cpu-work.lua
-- in one state. Prints RESULT plain_cpu_s (seconds, least of 3 runs; os.clock
-- is CPU time, the same as wall time for this loop).
local N = math.tointeger(tonumber(arg and arg[1]) or 20000000)
local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
local work = assert(loadfile(dir .. "/cpu-work.lua"))
local best = math.huge
for _ = 1, 3 do
  local t0 = os.clock()
  work(1, N)
  best = math.min(best, os.clock() - t0)
end
print(string.format("RESULT plain_cpu_s %.4f", best))
