-- Destroy of a subtree holding Scripts in more VMs than Destroy tracks one by
-- one (the main VM and 20 actors): every one of them stops and the runtime
-- exits (before, the main-VM script looped forever).
-- expect-no-stderr
local st = SharedTableRegistry:GetSharedTable("many")
local f = Instance.new("Folder")
f.Parent = workspace
local main = Instance.new("Script")
main.Source = [[
  local st = SharedTableRegistry:GetSharedTable("many")
  while true do st.main = (st.main or 0) + 1; task.wait(0.005) end
]]
main.Parent = f
for i = 1, 20 do
  local a = Instance.new("Actor")
  local s = Instance.new("Script")
  s.Source = [[
    local st = SharedTableRegistry:GetSharedTable("many")
    while true do SharedTable.increment(st, "actors", 1); task.wait(0.005) end
  ]]
  st.actors = 0
  s.Parent = a
  a.Parent = f
end
local deadline = time() + 30 -- frame by frame: a loaded machine is slow
while not ((st.main or 0) > 0 and st.actors > 0) do
  assert(time() < deadline, "the scripts did not run")
  task.wait()
end
f:Destroy()
local m, a = st.main, st.actors
task.wait(0.05)
assert(st.main == m and st.actors == a, "a script went on after Destroy")
print("OK")
