-- terrain.lua: the "Server-Side Procedural Terrain Generation" example of
-- Roblox's Parallel Luau guide, ported to Lua 5.4 and parlua.
--
--   parlua examples/terrain.lua [seed [size [actors]]]
--
-- Generates the chunks of the cube -size..size on each axis (default size
-- 10: 21^3 = 9,261 chunks of 4x4x4 voxels) twice: first serially in the
-- main VM, then in parallel by `actors` worker actors (default 32), and
-- checks that both runs produce the same checksum. The output is the same
-- for the same seed (default 12345), except for the timings.
--
-- As in the guide, this script clones itself: the original (no Actor
-- ancestor) sets the work up; each clone runs under an Actor, in that
-- actor's own VM, and handles the messages sent to its actor. One extra
-- clone, under the Actor named "Collector", gathers the results.

-- Every VM runs this file, and each has its own package.path: let
-- require find perlin.lua and terraingen.lua next to this file, wherever
-- parlua was started from.
local here = (script and script.Path) or (arg and arg[0]) or ""
package.path = (here:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path

-- The chunk generator (the guide's makeNdArray and generateVoxelsWithSeed),
-- shared by the serial and parallel runs. Each VM loads its own copy.
local terraingen = require("terraingen")

local actor = script:GetActor()

-----------------------------------------------------------------------------
-- The original script: runs in the main VM.
-----------------------------------------------------------------------------
if actor == nil then
  local seed = terraingen.checkSeed(arg[1] or 12345)
  local size = math.tointeger(tonumber(arg[2] or 10))
  local nactors = math.tointeger(tonumber(arg[3] or 32))
  assert(size and size >= 0, "size must be a whole number from 0 up")
  assert(nactors and nactors >= 1, "actors must be a whole number from 1 up")

  -- 1. The whole grid, serially, in this VM: the baseline.
  local t0 = time()
  local chunks, serialChecksum = terraingen.generateAll(size, seed)
  local serialTime = time() - t0

  -- 2. The actors. Make every clone before parenting anything under
  -- `script`: a clone copies the script's children too.
  local collector = Instance.new("Actor")
  collector.Name = "Collector"
  script:Clone().Parent = collector
  local workers = {}
  for i = 1, nactors do
    local worker = Instance.new("Actor")
    worker.Name = "Worker" .. i
    script:Clone().Parent = worker
    table.insert(workers, worker)
  end
  -- Parent all actors under self. `script` is in game, so each clone
  -- starts now, in its actor's VM.
  collector.Parent = script
  for _, worker in ipairs(workers) do
    worker.Parent = script
  end

  -- 3. Instruct the actors to generate terrain by sending messages. The
  -- guide picks a worker at random for each chunk; round-robin keeps the
  -- run reproducible. Messages sent before a clone has bound its callback
  -- wait for it.
  task.defer(function()
    collector:SendMessage("Start", chunks, serialChecksum, serialTime, time(), #workers)
    local n = 0
    for x = -size, size do
      for y = -size, size do
        for z = -size, size do
          n = n % #workers + 1
          workers[n]:SendMessage("GenerateChunk", x, y, z, seed)
        end
      end
    end
  end)

  -- Exit from the original script; the rest of the code runs in each actor.
  return
end

-----------------------------------------------------------------------------
-- The Collector: counts finished chunks and adds up their checksums, in
-- the serial phase.
-----------------------------------------------------------------------------
if actor.Name == "Collector" then
  local expected, serialChecksum, serialTime, parallelStart, nactors
  local received, parallelChecksum = 0, 0
  local seen = {} -- chunk key -> true: each chunk must arrive once
  local bindings = {}

  local function finishIfDone()
    if expected == nil or received < expected then return end
    local parallelTime = time() - parallelStart
    for _, binding in ipairs(bindings) do binding:Disconnect() end
    local match = parallelChecksum == serialChecksum
    print(string.format("chunks generated:  %d", received))
    print(string.format("parallel checksum: %016x", parallelChecksum))
    print(string.format("serial checksum:   %016x", serialChecksum))
    print(string.format("checksums match:   %s", match and "yes" or "NO"))
    print(string.format("serial time:       %.3f s", serialTime))
    print(string.format("parallel time:     %.3f s", parallelTime))
    print(string.format("speedup:           %.2fx", serialTime / parallelTime))
    print(string.format("workers:           %d (%d actors)", parlua.workers(), nactors))
    if not match then
      error(string.format("parallel checksum %016x differs from serial checksum %016x",
        parallelChecksum, serialChecksum))
    end
  end

  table.insert(bindings, actor:BindToMessage("Start", function(count, checksum, seconds, start, actors)
    expected, serialChecksum, serialTime, parallelStart = count, checksum, seconds, start
    nactors = actors
    finishIfDone()
  end))

  table.insert(bindings, actor:BindToMessage("ChunkDone", function(x, y, z, checksum)
    local key = ((x + 1024) << 22) | ((y + 1024) << 11) | (z + 1024)
    if seen[key] then
      error(string.format("chunk (%d, %d, %d) arrived twice", x, y, z))
    end
    seen[key] = true
    received = received + 1
    parallelChecksum = parallelChecksum + checksum -- wraps around
    finishIfDone()
  end))
  return
end

-----------------------------------------------------------------------------
-- A worker: the guide's code, in its actor's VM.
-----------------------------------------------------------------------------
local collector = actor.Parent:FindFirstChild("Collector")
local generateVoxelsWithSeed = terraingen.generateVoxelsWithSeed
local checksum = terraingen.checksum

-- Bind the callback to be called in parallel execution context
actor:BindToMessageParallel("GenerateChunk", function(x, y, z, seed)
  local voxels = generateVoxelsWithSeed(x, y, z, seed)
  local sum = checksum(voxels)
  -- Drop the chunk before waiting: every handler thread stays parked until
  -- the serial phase, and a local still holding the voxels would keep them
  -- all alive (and make the garbage collector work harder).
  voxels = nil
  -- The guide calls WriteVoxels() here, which must run in the serial
  -- phase; this port reports the chunk to the Collector instead.
  task.synchronize()
  collector:SendMessage("ChunkDone", x, y, z, sum)
end)
