-- perlin.lua: Ken Perlin's improved noise (2002) in pure Lua 5.4.
--
--   local perlin = require("perlin")
--   local n = perlin.noise(x, y, z)   -- a float in [-1, 1]; 0 at every
--                                     -- integer lattice point
--
-- It plays the part of Roblox's math.noise in examples/terrain.lua. The
-- result depends only on the arguments (a fixed permutation, no state), so
-- every VM that requires this module computes exactly the same values.
-- The noise repeats every 256 units along each axis.
--
-- The hot path uses only locals and upvalues: no global lookups, no
-- allocation, no function calls except math.floor.

local floor = math.floor

-- Ken Perlin's reference permutation of 0..255.
local permutation = {
  151, 160, 137, 91, 90, 15, 131, 13, 201, 95, 96, 53, 194, 233, 7, 225,
  140, 36, 103, 30, 69, 142, 8, 99, 37, 240, 21, 10, 23, 190, 6, 148,
  247, 120, 234, 75, 0, 26, 197, 62, 94, 252, 219, 203, 117, 35, 11, 32,
  57, 177, 33, 88, 237, 149, 56, 87, 174, 20, 125, 136, 171, 168, 68, 175,
  74, 165, 71, 134, 139, 48, 27, 166, 77, 146, 158, 231, 83, 111, 229, 122,
  60, 211, 133, 230, 220, 105, 92, 41, 55, 46, 245, 40, 244, 102, 143, 54,
  65, 25, 63, 161, 1, 216, 80, 73, 209, 76, 132, 187, 208, 89, 18, 169,
  200, 196, 135, 130, 116, 188, 159, 86, 164, 100, 109, 198, 173, 186, 3, 64,
  52, 217, 226, 250, 124, 123, 5, 202, 38, 147, 118, 126, 255, 82, 85, 212,
  207, 206, 59, 227, 47, 16, 58, 17, 182, 189, 28, 42, 223, 183, 170, 213,
  119, 248, 152, 2, 44, 154, 163, 70, 221, 153, 101, 155, 167, 43, 172, 9,
  129, 22, 39, 253, 19, 98, 108, 110, 79, 113, 224, 232, 178, 185, 112, 104,
  218, 246, 97, 228, 251, 34, 242, 193, 238, 210, 144, 12, 191, 179, 162, 241,
  81, 51, 145, 235, 249, 14, 239, 107, 49, 192, 214, 31, 181, 199, 106, 157,
  184, 84, 204, 176, 115, 121, 50, 45, 127, 4, 150, 254, 138, 236, 205, 93,
  222, 114, 67, 29, 24, 72, 243, 141, 128, 195, 78, 66, 215, 61, 156, 180,
}

-- p[0..511]: the permutation twice, so p[i + 1] never needs wrapping.
local p = {}
for i = 0, 511 do p[i] = permutation[(i & 255) + 1] end

-- The improved noise picks one of 12 gradient directions (edges of a cube,
-- four of them repeated to make 16) from the low 4 bits of a hash. gx, gy
-- and gz hold each hash's gradient, indexed by the hash itself (0..255), so
-- the gradient dot product is three lookups and no branches.
local gx, gy, gz = {}, {}, {}
do
  local dirs = {
    { 1, 1, 0 }, { -1, 1, 0 }, { 1, -1, 0 }, { -1, -1, 0 },
    { 1, 0, 1 }, { -1, 0, 1 }, { 1, 0, -1 }, { -1, 0, -1 },
    { 0, 1, 1 }, { 0, -1, 1 }, { 0, 1, -1 }, { 0, -1, -1 },
    { 1, 1, 0 }, { 0, -1, 1 }, { -1, 1, 0 }, { 0, -1, -1 },
  }
  for h = 0, 255 do
    local d = dirs[(h & 15) + 1]
    gx[h], gy[h], gz[h] = d[1] + 0.0, d[2] + 0.0, d[3] + 0.0
  end
end

-- noise(x, y, z): improved Perlin noise at a point.
local function noise(x, y, z)
  local fx, fy, fz = floor(x), floor(y), floor(z)
  local X, Y, Z = fx & 255, fy & 255, fz & 255
  x, y, z = x - fx, y - fy, z - fz -- position inside the unit cube
  local x1, y1, z1 = x - 1, y - 1, z - 1
  -- fade curves 6t^5 - 15t^4 + 10t^3
  local u = x * x * x * (x * (x * 6 - 15) + 10)
  local v = y * y * y * (y * (y * 6 - 15) + 10)
  local w = z * z * z * (z * (z * 6 - 15) + 10)
  -- hash the 8 cube corners
  local A, B = p[X] + Y, p[X + 1] + Y
  local AA, AB, BA, BB = p[A] + Z, p[A + 1] + Z, p[B] + Z, p[B + 1] + Z
  local h
  -- gradient dot products at the corners, blended along x
  h = p[AA];     local g000 = gx[h] * x + gy[h] * y + gz[h] * z
  h = p[BA];     local g100 = gx[h] * x1 + gy[h] * y + gz[h] * z
  h = p[AB];     local g010 = gx[h] * x + gy[h] * y1 + gz[h] * z
  h = p[BB];     local g110 = gx[h] * x1 + gy[h] * y1 + gz[h] * z
  h = p[AA + 1]; local g001 = gx[h] * x + gy[h] * y + gz[h] * z1
  h = p[BA + 1]; local g101 = gx[h] * x1 + gy[h] * y + gz[h] * z1
  h = p[AB + 1]; local g011 = gx[h] * x + gy[h] * y1 + gz[h] * z1
  h = p[BB + 1]; local g111 = gx[h] * x1 + gy[h] * y1 + gz[h] * z1
  local a = g000 + u * (g100 - g000)
  local b = g010 + u * (g110 - g010)
  local c = g001 + u * (g101 - g001)
  local d = g011 + u * (g111 - g011)
  a = a + v * (b - a)
  c = c + v * (d - c)
  return a + w * (c - a)
end

return { noise = noise }
