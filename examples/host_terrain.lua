-- host_terrain.lua: the seed's "Server-Side Procedural Terrain Generation"
-- program, run by examples/host_terrain.c, a host that registers a Terrain
-- class (docs/embedding.md, "Host classes"): WriteVoxels is Unsafe and
-- VoxelCount ReadParallel, as in Roblox. Workers generate chunks in
-- parallel and call WriteVoxels after task.synchronize(), as the guide
-- does; each first tries it in parallel once, to show the level's error.
local here = (script and script.Path) or ""
package.path = (here:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local terraingen = require("terraingen")

local actor = script:GetActor()
if actor == nil then
  local terrain = Instance.new("Terrain")
  terrain.Parent = workspace
  local SIZE, SEED, ACTORS = 2, 12345, 8
  local workers = {}
  for i = 1, ACTORS do
    local a = Instance.new("Actor")
    a.Name = "Worker" .. i
    script:Clone().Parent = a
    workers[i] = a
  end
  for _, a in ipairs(workers) do a.Parent = workspace end
  local n = 0
  for x = -SIZE, SIZE do
    for y = -SIZE, SIZE do
      for z = -SIZE, SIZE do
        n = n + 1
        workers[(n - 1) % ACTORS + 1]:SendMessage("GenerateChunk", x, y, z, SEED)
      end
    end
  end
  print("chunks sent:", n)
  return
end

local terrain = workspace:WaitForChild("Terrain")
local tried = false
actor:BindToMessageParallel("GenerateChunk", function(x, y, z, seed)
  local voxels = terraingen.generateVoxelsWithSeed(x, y, z, seed)
  local region = { min = { x * 16, y * 16, z * 16 }, max = { x * 16 + 16, y * 16 + 16, z * 16 + 16 } }
  assert(terrain.VoxelCount >= 0) -- ReadParallel: reading in parallel is fine
  if not tried then -- the guide's comment: WriteVoxels must run in the serial phase
    tried = true
    local ok, err = pcall(terrain.WriteVoxels, terrain, region, 4, voxels.materials, voxels.occupancy)
    assert(not ok)
    print("WriteVoxels in parallel: " .. err)
    SharedTableRegistry:GetSharedTable("host").parallelError = err
  end
  task.synchronize()
  terrain:WriteVoxels(region, 4, voxels.materials, voxels.occupancy)
end)
