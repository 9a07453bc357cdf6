-- terraingen.lua: the chunk generator of examples/terrain.lua, shared by its
-- serial and parallel paths (and by examples/terrain-serial.lua) so that
-- all of them compute exactly the same thing.
--
-- It is the code of the "Server-Side Procedural Terrain Generation" example
-- of Roblox's Parallel Luau guide, ported to Lua 5.4:
--   * math.noise         -> perlin.noise (examples/perlin.lua), with the seed
--                           moving the sampled region of the noise field;
--   * Enum.Material.X    -> the string "X";
--   * Random.new()       -> a small deterministic generator (below), seeded
--                           from the chunk coordinates and the seed, so that
--                           a chunk's materials do not depend on which actor
--                           generates it or when.
-- Roblox's WriteVoxels has no counterpart; a chunk is summarised by
-- checksum() instead.

local perlin = require("perlin")
local noise = perlin.noise
local floor = math.floor

local M = {}

M.materialNames = { "CrackedLava", "Basalt", "Asphalt" }
local materialIndex = {}
for i, name in ipairs(M.materialNames) do materialIndex[name] = i end

-- SplitMix64's finaliser: scrambles a 64-bit integer (wraps around).
local function mix64(z)
  z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
  z = (z ~ (z >> 27)) * 0x94d049bb133111eb
  return z ~ (z >> 31)
end

-- A tiny random generator: a 64-bit linear congruential generator whose
-- output is the high bits (Knuth's MMIX constants). rand(lo, hi) returns an
-- integer in [lo, hi], like Random:NextInteger.
function M.newRandom(seed)
  local state = mix64(seed)
  return function(lo, hi)
    state = state * 6364136223846793005 + 1442695040888963407
    return lo + (state >> 33) % (hi - lo + 1)
  end
end

-- The seed's offset into the noise field: three floats in [0, 256), one per
-- axis (the noise repeats every 256 units). Cached: one entry per seed.
local offsets = {}
local function seedOffset(seed)
  local o = offsets[seed]
  if not o then
    local scale = 256 / 2 ^ 53
    o = {
      (mix64(seed * 3 + 1) >> 11) * scale,
      (mix64(seed * 3 + 2) >> 11) * scale,
      (mix64(seed * 3 + 3) >> 11) * scale,
    }
    offsets[seed] = o
  end
  return o
end

-- Seeds are integers (the guide's is a float from Random:NextNumber()):
-- they feed the integer hashes above. checkSeed converts "42" or 42.0 to 42
-- and rejects anything else.
function M.checkSeed(seed)
  local s = math.tointeger(tonumber(seed))
  if not s then error("the seed must be an integer, got " .. tostring(seed), 2) end
  return s
end

-- From the guide, unchanged but for `local`.
local function makeNdArray(numDim, size, elemValue)
  if numDim == 0 then
    return elemValue
  end
  local result = {}
  for i = 1, size do
    result[i] = makeNdArray(numDim - 1, size, elemValue)
  end
  return result
end
M.makeNdArray = makeNdArray

-- From the guide: 4x4x4 voxels of one chunk. occupancy[x][y][z] is the noise
-- at (xd + 0.25 x, yd + 0.25 y, zd + 0.25 z) (plus the seed's offset),
-- mapped from [-1, 1] to Roblox's occupancy range [0, 1]; materials[x][y][z]
-- is one of three material names.
function M.generateVoxelsWithSeed(xd, yd, zd, seed)
  local matEnums = M.materialNames
  local materials = makeNdArray(3, 4, "CrackedLava")
  local occupancy = makeNdArray(3, 4, 1)
  local rand = M.newRandom(((xd * 73856093) ~ (yd * 19349663) ~ (zd * 83492791)) + seed)
  local o = seedOffset(seed)
  local ox, oy, oz = xd + o[1], yd + o[2], zd + o[3]
  for x = 0, 3 do
    local occX, matX = occupancy[x + 1], materials[x + 1]
    for y = 0, 3 do
      local occXY, matXY = occX[y + 1], matX[y + 1]
      for z = 0, 3 do
        occXY[z + 1] = 0.5 + 0.5 * noise(ox + 0.25 * x, oy + 0.25 * y, oz + 0.25 * z)
        matXY[z + 1] = matEnums[rand(1, #matEnums)]
      end
    end
  end
  return { materials = materials, occupancy = occupancy }
end

-- A chunk's checksum: a 64-bit integer hash (wrapping around) of its
-- occupancy quantised to millionths and of its material indices, in voxel
-- order. Chunk checksums are added up (again wrapping around), so the total
-- does not depend on the order in which chunks are finished.
function M.checksum(voxels)
  local occupancy, materials = voxels.occupancy, voxels.materials
  local h = 0
  for x = 1, 4 do
    for y = 1, 4 do
      for z = 1, 4 do
        local q = floor(occupancy[x][y][z] * 1e6)
        h = h * 1099511628211 + q * 4 + materialIndex[materials[x][y][z]]
      end
    end
  end
  return mix64(h)
end

-- The serial path: every chunk of the cube -size..size on each axis, one
-- after the other. Returns the number of chunks and the sum of checksums.
function M.generateAll(size, seed)
  local sum, count = 0, 0
  for x = -size, size do
    for y = -size, size do
      for z = -size, size do
        sum = sum + M.checksum(M.generateVoxelsWithSeed(x, y, z, seed))
        count = count + 1
      end
    end
  end
  return count, sum
end

return M
