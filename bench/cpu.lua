-- CPU-bound speedup, the same code as plain lua5.4 (bench/cpu-work.lua):
-- N iterations of a loop over global math.sin, run by one actor per
-- worker in parallel, each over its share, timed from the start messages
-- to the last result. Also runs the whole loop in the main VM (the same
-- chunk), so the speedup over one VM is in the same process.
--   parlua bench/cpu.lua [N [actors]]      (lua5.4 runs bench/cpu-plain.lua)
-- Prints RESULT cpu_parallel_s and cpu_main_s (seconds, least of 3 runs).
local N = math.tointeger(tonumber(arg and arg[1]) or 20000000)
local ACTORS = math.tointeger(tonumber(arg and arg[2]) or parlua.workers())
local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
local f = assert(io.open(dir .. "/cpu-work.lua"))
local source = f:read("a")
f:close()
local work = assert(load(source, "=cpu-work.lua"))

local results = sync.Queue()
local actors = {}
for i = 1, ACTORS do
  local a = Instance.new("Actor")
  local s = Instance.new("Script")
  s.Source = [[
    script:GetActor():BindToMessageParallel("go", function(source, first, last, results)
      local work = assert(load(source, "=cpu-work.lua"))
      results:put(work(first, last))
    end)
  ]]
  s.Parent = a
  a.Parent = workspace
  actors[i] = a
end
task.wait() -- let the actors bind

local function parallel()
  local t0 = time()
  local per = N // ACTORS
  for i, a in ipairs(actors) do
    local first = (i - 1) * per + 1
    local last = i == ACTORS and N or i * per
    a:SendMessage("go", source, first, last, results)
  end
  local sum = 0.0
  for _ = 1, ACTORS do sum = sum + results:get() end
  return time() - t0, sum
end

local best_par, best_main, psum, msum = math.huge, math.huge, nil, nil
for _ = 1, 3 do
  local t, s = parallel()
  best_par, psum = math.min(best_par, t), s
  local t0 = time()
  msum = work(1, N)
  best_main = math.min(best_main, time() - t0)
end
-- a split sum adds in another order: equal to rounding, not bit for bit
assert(math.abs(psum - msum) <= 1e-6 * math.max(1, math.abs(msum)), "parallel sum differs")
print(string.format("RESULT cpu_parallel_s %.4f", best_par))
print(string.format("RESULT cpu_main_s %.4f", best_main))
