-- Plain serial Lua code, global access included, in parlua against
-- lua5.4 (SPEC 11: within 3 %, in the main VM and in every actor).
--
--   lua5.4 bench/serial.lua [n]     RESULT serial_plain_s
--   parlua bench/serial.lua [n [main|actor]]
--                                   RESULT serial_main_s, RESULT serial_actor_s
--                                   (main or actor: only that one, for
--                                   instruction counts under callgrind)
--
-- Each figure is the least CPU time (os.clock) of 3 runs of
-- bench/serial-work.lua (after a short warm-up run): by lua5.4; by
-- parlua's main VM; and as an actor's script, which runs in the serial
-- phase on the same thread while nothing else runs (so the process's CPU
-- time is the script's).
local n = math.tointeger(tonumber(arg and arg[1] or 300000))
local only = arg and arg[2]
local dir = (arg and arg[0] or ""):match("^(.*)/") or "."
local path = dir .. "/serial-work.lua"

-- the least CPU time of 3 runs: other jobs on the machine only ever add
local function measure(chunk)
  chunk(1000) -- warm-up
  local best, sum = math.huge, nil
  for _ = 1, 3 do
    local c0 = os.clock()
    sum = chunk(n)
    best = math.min(best, os.clock() - c0)
  end
  return best, sum
end

local plain_s, plain_sum
if only ~= "actor" then plain_s, plain_sum = measure(assert(loadfile(path))) end
if not parlua then
  print(string.format("RESULT serial_plain_s %.4f", plain_s))
  print(string.format("RESULT serial_checksum %d", plain_sum))
  return
end
if plain_s then print(string.format("RESULT serial_main_s %.4f", plain_s)) end
if only == "main" then return end

local f = assert(io.open(path))
local src = f:read("a")
f:close()
local results = SharedTable.new({ done = false })
SharedTableRegistry:SetSharedTable("bench_serial", results)
local a = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = string.format([[
  local results = SharedTableRegistry:GetSharedTable("bench_serial")
  local chunk = assert(load(%q, "=serial-work.lua"))
  chunk(1000)
  local best, sum = math.huge, nil
  for _ = 1, 3 do
    local c0 = os.clock()
    sum = chunk(%d)
    best = math.min(best, os.clock() - c0)
  end
  results.s = best
  results.sum = sum
  results.done = true
]], src, n)
s.Parent = a
a.Parent = workspace
while not results.done do task.wait() end
assert(not plain_sum or results.sum == plain_sum, "the actor's run disagrees with the main VM's")
print(string.format("RESULT serial_actor_s %.4f", results.s))
print(string.format("RESULT serial_checksum %d", results.sum))
