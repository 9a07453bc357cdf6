-- terrain.lua: the "Server-Side Procedural Terrain Generation" example of
-- Roblox's Parallel Luau guide, ported to Lua 5.4 and parlua.
--
--   parlua examples/terrain.lua [--png FILE] [seed [size [actors]]]
--
-- Generates the chunks of the cube -size..size on each axis (default size
-- 10: 21^3 = 9,261 chunks of 4x4x4 voxels) twice: first serially in the
-- main VM, then in parallel by `actors` worker actors (default 32), and
-- checks that both runs produce the same checksum. The output is the same
-- for the same seed (default 12345), except for the timings.
--
-- With --png FILE, the Collector also draws what the workers computed
-- (examples/terrain.png): the middle layer of voxels (y = 0) seen from
-- above, one pixel per voxel, its occupancy read as a height and coloured
-- like a map, from deep water (0) to snow (1).
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
  local args, pngPath = {}, nil
  local i = 1
  while arg[i] do
    if arg[i] == "--png" then
      pngPath = assert(arg[i + 1], "--png needs a file name")
      i = i + 2
    else
      args[#args + 1] = arg[i]
      i = i + 1
    end
  end
  local seed = terraingen.checkSeed(args[1] or 12345)
  local size = math.tointeger(tonumber(args[2] or 10))
  local nactors = math.tointeger(tonumber(args[3] or 32))
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
    collector:SendMessage("Start", chunks, serialChecksum, serialTime, time(), #workers,
      size, pngPath)
    local n = 0
    for x = -size, size do
      for y = -size, size do
        for z = -size, size do
          n = n % #workers + 1
          workers[n]:SendMessage("GenerateChunk", x, y, z, seed, pngPath ~= nil)
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
  local expected, serialChecksum, serialTime, parallelStart, nactors, size, pngPath
  local received, parallelChecksum = 0, 0
  local seen = {} -- chunk key -> true: each chunk must arrive once
  local bindings = {}
  local layer = {} -- [cx][cz] = the 16 occupancies of the chunk's voxels at y = 0 (--png)

  -- The picture: one pixel per voxel of the layer y = 0, scaled up to at
  -- least 256 pixels a side; occupancy 0..1 picks one of 256 map colours.
  local function drawLayer()
    local png = require("png")
    local n = (2 * size + 1) * 4
    local h = {}
    for cx = -size, size do
      for cz = -size, size do
        local c = layer[cx][cz]
        for xi = 0, 3 do
          for zi = 0, 3 do
            local X, Z = (cx + size) * 4 + xi + 1, (cz + size) * 4 + zi + 1
            h[Z] = h[Z] or {}
            h[Z][X] = c[xi * 4 + zi + 1]
          end
        end
      end
    end
    -- deep water, shallow water, sand, grass, forest, rock, snow
    local stops = {
      { 0.00, 15, 30, 90 }, { 0.42, 40, 110, 190 }, { 0.47, 215, 200, 140 },
      { 0.51, 90, 165, 65 }, { 0.66, 35, 95, 40 }, { 0.80, 120, 105, 90 },
      { 0.90, 245, 245, 245 }, { 1.00, 255, 255, 255 },
    }
    local palette = {}
    for i = 0, 255 do
      local t = i / 255
      local k = 1
      while stops[k + 1][1] < t do k = k + 1 end
      local a, b = stops[k], stops[k + 1]
      local f = (t - a[1]) / (b[1] - a[1])
      palette[i + 1] = {
        math.floor(a[2] + (b[2] - a[2]) * f + 0.5),
        math.floor(a[3] + (b[3] - a[3]) * f + 0.5),
        math.floor(a[4] + (b[4] - a[4]) * f + 0.5),
      }
    end
    local scale = math.max(1, math.ceil(256 / n))
    local rows = {}
    for y = 1, n * scale do
      local src, row = h[(y - 1) // scale + 1], {}
      for x = 1, n * scale do
        local v = src[(x - 1) // scale + 1]
        row[x] = math.floor(math.max(0, math.min(1, v)) * 255 + 0.5)
      end
      rows[y] = row
    end
    png.write(pngPath, n * scale, n * scale, rows, palette)
    print(string.format("picture:           %s (%dx%d pixels)", pngPath, n * scale, n * scale))
  end

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
    if pngPath then drawLayer() end
    if not match then
      error(string.format("parallel checksum %016x differs from serial checksum %016x",
        parallelChecksum, serialChecksum))
    end
  end

  table.insert(bindings, actor:BindToMessage("Start", function(count, checksum, seconds, start, actors,
                                                                 cubeSize, png)
    expected, serialChecksum, serialTime, parallelStart = count, checksum, seconds, start
    nactors, size, pngPath = actors, cubeSize, png
    finishIfDone()
  end))

  table.insert(bindings, actor:BindToMessage("ChunkDone", function(x, y, z, checksum, voxelsAt0)
    if voxelsAt0 then
      layer[x] = layer[x] or {}
      layer[x][z] = voxelsAt0
    end
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
actor:BindToMessageParallel("GenerateChunk", function(x, y, z, seed, picture)
  local voxels = generateVoxelsWithSeed(x, y, z, seed)
  local sum = checksum(voxels)
  -- For the picture (--png): the occupancy of the chunk's bottom layer of
  -- voxels, in the chunks whose bottom is the layer y = 0.
  local layer0
  if picture and y == 0 then
    layer0 = {}
    for xi = 1, 4 do
      for zi = 1, 4 do layer0[(xi - 1) * 4 + zi] = voxels.occupancy[xi][1][zi] end
    end
  end
  -- Drop the chunk before waiting: every handler thread stays parked until
  -- the serial phase, and a local still holding the voxels would keep them
  -- all alive (and make the garbage collector work harder).
  voxels = nil
  -- The guide calls WriteVoxels() here, which must run in the serial
  -- phase; this port reports the chunk to the Collector instead.
  task.synchronize()
  collector:SendMessage("ChunkDone", x, y, z, sum, layer0)
end)
