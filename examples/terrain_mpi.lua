-- terrain_mpi.lua: examples/terrain.lua spread over the ranks of an MPI
-- job (docs/distributed.md). The same chunks, the same checksum.
--
--   mpirun -np 3 parlua examples/terrain_mpi.lua [seed [size [actors]]]
--   parlua examples/terrain_mpi.lua ...           (one rank: the same program)
--   mpirun --hostfile hosts -np 8 parlua --workers 2 examples/terrain_mpi.lua
--                                  (several machines: docs/distributed.md)
--
-- Every rank runs this file, as in any MPI program. Each rank makes
-- `actors` worker actors (default 8) and generates its share of the chunks
-- of the cube -size..size (default size 10): chunk number i, in x, y, z
-- order, belongs to rank i % ranks. Each worker reports its chunks' checksums to the
-- Collector on rank 0 with parlua.remote(0, "Workspace.Collector"), a
-- message like any other; the Collector adds them up. Once every chunk is
-- in, it runs the whole grid serially (the baseline, after the timed run,
-- so that no rank waits for it) and prints both checksums, which must
-- match, whatever the number of ranks. Each worker handles many chunks in
-- one parallel run: pass --frame-budget 0 to silence the long-run
-- summary, as for any batch program.
local here = (script and script.Path) or (arg and arg[0]) or ""
package.path = (here:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local terraingen = require("terraingen")

local actor = script:GetActor()
local rank, ranks = parlua.rank(), parlua.ranks()

-----------------------------------------------------------------------------
-- The original script, on every rank: make this rank's actors and hand
-- them this rank's share of the chunks.
-----------------------------------------------------------------------------
if actor == nil then
  local seed = terraingen.checkSeed(arg[1] or 12345)
  local size = math.tointeger(tonumber(arg[2] or 10))
  local nactors = math.tointeger(tonumber(arg[3] or 8))
  assert(size and size >= 0, "size must be a whole number from 0 up")
  assert(nactors and nactors >= 1, "actors must be a whole number from 1 up")
  local total = (2 * size + 1) ^ 3 // 1

  if rank == 0 then -- the Collector
    local collector = Instance.new("Actor")
    collector.Name = "Collector"
    script:Clone().Parent = collector
    collector.Parent = workspace
  end
  local workers = {}
  for i = 1, nactors do
    local worker = Instance.new("Actor")
    worker.Name = "Worker" .. i
    script:Clone().Parent = worker
    workers[i] = worker
  end
  for _, worker in ipairs(workers) do worker.Parent = workspace end

  local start = time()
  if rank == 0 then
    workspace.Collector:SendMessage("Start", total, start, size, seed)
  end
  local i, n = 0, 0
  for x = -size, size do
    for y = -size, size do
      for z = -size, size do
        if i % ranks == rank then
          n = n % nactors + 1
          workers[n]:SendMessage("GenerateChunk", x, y, z, seed)
        end
        i = i + 1
      end
    end
  end
  return
end

-----------------------------------------------------------------------------
-- The Collector (rank 0): adds up the checksums from every rank.
-----------------------------------------------------------------------------
if actor.Name == "Collector" then
  local expected, start, size, seed
  local received, sum, from = 0, 0, {}
  local function finishIfDone()
    if not expected or received < expected then return end
    local distributedTime = time() - start
    local t0 = time()
    local _, serialChecksum = terraingen.generateAll(size, seed) -- the baseline
    local serialTime = time() - t0
    local match = sum == serialChecksum
    print(string.format("chunks generated:  %d on %d rank%s", received, ranks,
      ranks == 1 and "" or "s"))
    for r = 0, ranks - 1 do
      print(string.format("  rank %d:          %d chunks", r, from[r] or 0))
    end
    print(string.format("parallel checksum: %016x", sum))
    print(string.format("serial checksum:   %016x", serialChecksum))
    print(string.format("checksums match:   %s", match and "yes" or "NO"))
    print(string.format("serial time:       %.3f s", serialTime))
    print(string.format("distributed time:  %.3f s", distributedTime))
    if not match then error("the distributed checksum differs from the serial one") end
  end
  actor:BindToMessage("Start", function(count, t0, cubeSize, cubeSeed)
    expected, start, size, seed = count, t0, cubeSize, cubeSeed
    finishIfDone()
  end)
  actor:BindToMessage("ChunkDone", function(chunkSum, fromRank)
    received = received + 1
    sum = sum + chunkSum -- wraps around, so the order does not matter
    from[fromRank] = (from[fromRank] or 0) + 1
    finishIfDone()
  end)
  return
end

-----------------------------------------------------------------------------
-- A worker, on any rank: generates in the parallel phase and reports to
-- the Collector on rank 0 (a RemoteActor: its message crosses ranks).
-----------------------------------------------------------------------------
local collector = parlua.remote(0, "Workspace.Collector")
local generate, checksum = terraingen.generateVoxelsWithSeed, terraingen.checksum
actor:BindToMessageParallel("GenerateChunk", function(x, y, z, seed)
  collector:SendMessage("ChunkDone", checksum(generate(x, y, z, seed)), rank)
end)
