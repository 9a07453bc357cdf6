-- Messages between two ranks of an MPI job on one machine
-- (docs/distributed.md):
--   mpirun -np 2 parlua bench/remote.lua [N [M]]
-- 1. one-way: rank 0's main VM sends N messages (an integer each) to
--    rank 1's Sink, bound in parallel; the Sink answers once it has them
--    all. "RESULT remote_send_mps" is the sending rate, "RESULT
--    remote_mps" messages handled per second, first send to last handled.
-- 2. round trip: rank 0's Ping and rank 1's Pong, both bound in
--    parallel, pass one message back and forth M times: "RESULT
--    remote_roundtrip_us".
local N = tonumber(arg and arg[1]) or 200000
local M = tonumber(arg and arg[2]) or 2000
assert(parlua.ranks() == 2, "run with mpirun -np 2")

local function actor(name, source)
  local a = Instance.new("Actor")
  a.Name = name
  local s = Instance.new("Script")
  s.Source = string.format("local N, M = %d, %d\n", N, M) .. source
  s.Parent = a
  a.Parent = workspace
end

if parlua.rank() == 1 then
  actor("Sink", [[
    local me, n = script:GetActor(), 0
    me:BindToMessageParallel("m", function()
      n = n + 1
      if n == N then parlua.remote(0, "Workspace.Ping"):SendMessage("all", time()) end
    end)
  ]])
  actor("Pong", [[
    local ping = parlua.remote(0, "Workspace.Ping")
    script:GetActor():BindToMessageParallel("ping", function() ping:SendMessage("pong") end)
  ]])
  return
end

actor("Ping", [[
  local me = script:GetActor()
  local pong = parlua.remote(1, "Workspace.Pong")
  local left, t0 = M, 0
  me:BindToMessage("all", function()
    -- this rank's clock (each rank's time() has its own start): from the
    -- first send to the Sink's answer, one one-way trip more than the work
    local dt = time() - _G.T0
    print(string.format("RESULT remote_mps %.4f", N / dt / 1e6))
    t0 = time()
    pong:SendMessage("ping")
  end)
  me:BindToMessageParallel("pong", function()
    left = left - 1
    if left > 0 then pong:SendMessage("ping") return end
    local dt = time() - t0
    task.synchronize()
    print(string.format("RESULT remote_roundtrip_us %.2f", dt / M * 1e6))
  end)
  me:BindToMessage("go", function(t) _G.T0 = t end)
]])
local sink = parlua.remote(1, "Workspace.Sink")
local t0 = time()
workspace.Ping:SendMessage("go", t0)
for i = 1, N do sink:SendMessage("m", i) end
print(string.format("RESULT remote_send_mps %.4f", N / (time() - t0) / 1e6))
