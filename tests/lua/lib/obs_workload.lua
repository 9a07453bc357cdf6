-- A small workload for the observability tests (trace_json, stats_cli):
-- two actors, A and B, each busy for `spin` seconds in the parallel phase
-- of the same frames; A sends B one message per frame from the parallel
-- phase (a worker-to-worker flow). The main script sends each actor
-- `rounds` messages.   parlua [--trace F] [--stats] obs_workload.lua [rounds [spin]]
local rounds = tonumber(arg[1]) or 3
local spin = tonumber(arg[2]) or 0.02

local source = [[
  local spin = %s
  local actor = script:GetActor()
  local peer = actor.Parent:FindFirstChild(actor.Name == "A" and "B" or "A")
  actor:BindToMessageParallel("work", function(i)
    local t = time()
    while time() - t < spin do end
    if actor.Name == "A" then peer:SendMessage("from_a", i) end
  end)
  actor:BindToMessageParallel("from_a", function() end)
]]
local actors = {}
for _, name in ipairs({ "A", "B" }) do
  local a = Instance.new("Actor")
  a.Name = name
  local s = Instance.new("Script")
  s.Source = string.format(source, spin)
  s.Parent = a
  actors[#actors + 1] = a
end
for _, a in ipairs(actors) do a.Parent = workspace end
for i = 1, rounds do
  for _, a in ipairs(actors) do a:SendMessage("work", i) end
  task.wait() -- one round per frame
end
