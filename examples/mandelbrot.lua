-- mandelbrot.lua: a Mandelbrot image rendered by parallel.map, one item
-- per row, and written as a PNG (docs/lthreads.md).
--
--   parlua examples/mandelbrot.lua [--png FILE] [--no-probe] [width [height [iterations]]]
--
-- Renders the image twice: first serially, one row after the other in the
-- main VM, then with parallel.map over the row numbers, which spreads the
-- rows over the worker pool in lthreads. Prints both times, the speedup
-- and a checksum (CRC-32) of each image: they must be identical, since a
-- row depends on nothing but its number. Defaults: 800x600 pixels, at
-- most 256 iterations per pixel (about a second serially on one core).
-- With --png FILE, writes the image (examples/png.lua, 256 colours).
-- With --no-probe, parallel.map spreads the rows even when its probe would
-- find the work too small to pay for it (a small image): probe = false.
local here = arg and arg[0] and arg[0]:match("^(.*)[/\\]") or "."
package.path = here .. "/?.lua;" .. package.path
local png = require("png")

local args, pngPath, probe = {}, nil, true
do
  local i = 1
  while arg[i] do
    if arg[i] == "--png" then
      pngPath = assert(arg[i + 1], "--png needs a file name")
      i = i + 2
    elseif arg[i] == "--no-probe" then
      probe = false
      i = i + 1
    else
      args[#args + 1] = arg[i]
      i = i + 1
    end
  end
end
local width = math.tointeger(tonumber(args[1] or 800))
local height = math.tointeger(tonumber(args[2] or 600))
local maxIter = math.tointeger(tonumber(args[3] or 256))
assert(width and width >= 1, "width must be a whole number from 1 up")
assert(height and height >= 1, "height must be a whole number from 1 up")
assert(maxIter and maxIter >= 1 and maxIter <= 100000, "iterations must be from 1 to 100000")

-- The view: the whole set, x in [-2.2, 0.8], y centred, square pixels.
local x0, scale = -2.2, 3.0 / width
local y0 = -scale * height / 2

-- One row of pixels as a string of bytes: 0 for points in the set, else
-- 1..255 from how fast the point escapes. It reads only its upvalues
-- (numbers, copied into each lthread) and its argument, and changes
-- nothing: parallel.map may call it in the main VM or in any lthread.
local function renderRow(y)
  local ci = y0 + (y - 0.5) * scale
  local bytes = {}
  for x = 1, width do
    local cr = x0 + (x - 0.5) * scale
    local zr, zi, n = 0.0, 0.0, 0
    local zr2, zi2 = 0.0, 0.0
    while n < maxIter and zr2 + zi2 <= 4.0 do
      zi = 2.0 * zr * zi + ci
      zr = zr2 - zi2 + cr
      zr2, zi2 = zr * zr, zi * zi
      n = n + 1
    end
    bytes[x] = n == maxIter and 0 or 1 + (n * 7) % 255
  end
  return string.char(table.unpack(bytes))
end

local rowNumbers = {}
for y = 1, height do rowNumbers[y] = y end

-- 1. Serially, in this VM: the baseline.
local t0 = time()
local serialRows = {}
for y = 1, height do serialRows[y] = renderRow(y) end
local serialTime = time() - t0

-- 2. In parallel: the same function over the same rows; results in order.
t0 = time()
local parallelRows = parallel.map(rowNumbers, renderRow, { probe = probe })
local parallelTime = time() - t0

local serialSum = png.crc32(table.concat(serialRows))
local parallelSum = png.crc32(table.concat(parallelRows))
print(string.format("image:             %dx%d pixels, up to %d iterations", width, height, maxIter))
print(string.format("workers:           %d", parlua.workers()))
print(string.format("serial time:       %.3f s", serialTime))
print(string.format("parallel time:     %.3f s", parallelTime))
print(string.format("speedup:           %.2f", serialTime / parallelTime))
print(string.format("serial checksum:   %08x", serialSum))
print(string.format("parallel checksum: %08x", parallelSum))
print("images identical:  " .. (table.concat(serialRows) == table.concat(parallelRows) and "yes" or "NO"))

if pngPath then
  -- 0 is black (the set); 1..255 run through a cosine palette.
  local palette = { { 0, 0, 0 } }
  for i = 1, 255 do
    local t = i / 255
    local function c(phase)
      return math.floor(255 * (0.5 + 0.5 * math.cos(2 * math.pi * (t + phase))) + 0.5)
    end
    palette[i + 1] = { c(0.0), c(0.10), c(0.20) }
  end
  local rows = {}
  for y = 1, height do rows[y] = { parallelRows[y]:byte(1, -1) } end
  png.write(pngPath, width, height, rows, palette)
  print(string.format("picture:           %s (%dx%d pixels)", pngPath, width, height))
end
