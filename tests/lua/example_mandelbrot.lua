-- examples/mandelbrot.lua on a small image: the rows rendered by
-- parallel.map (in lthreads: --no-probe, else an image this small would be
-- rendered in the main VM) must equal the serial rendering, byte for byte.
-- The PNG it writes is read back here: its pixels are the parallel image
-- (their CRC-32 is the printed checksum), the middle of the main cardioid
-- is in the set (0) and a corner is not.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")
local dir = arg[0]:match("^(.*)/") or "."
local examples = dir .. "/../../examples"
package.path = examples .. "/?.lua;" .. package.path
local png = require("png")

local W, H = 120, 90
local path = os.tmpname()
local code, out, err = C.run({ "--workers", "2", examples .. "/mandelbrot.lua", "--png", path,
  "--no-probe", tostring(W), tostring(H), "100" })
assert(code == 0, err)
assert(out:find("images identical:  yes", 1, true), out)
local serial = out:match("serial checksum:   (%x+)")
local parallel = out:match("parallel checksum: (%x+)")
assert(serial and parallel and serial == parallel, out)
assert(out:find("picture:           " .. path .. " (120x90 pixels)", 1, true), out)
assert(out:find("speedup:           %d+%.%d%d"), out)

-- the PNG: IHDR, PLTE, one IDAT of stored deflate blocks, IEND
local data = assert(io.open(path, "rb")):read("a")
os.remove(path)
assert(data:sub(1, 8) == "\x89PNG\r\n\x1a\n", "signature")
local pos, idat = 9, {}
while pos <= #data do
  local len, kind = string.unpack(">I4 c4", data, pos)
  local body = data:sub(pos + 8, pos + 7 + len)
  assert(png.crc32(kind .. body) == string.unpack(">I4", data, pos + 8 + len), kind)
  if kind == "IHDR" then
    local w, h = string.unpack(">I4 I4", body)
    assert(w == W and h == H, "IHDR size")
  elseif kind == "IDAT" then
    idat[#idat + 1] = body
  end
  pos = pos + 12 + len
end
local z, raw, p = table.concat(idat), {}, 3
repeat
  local head, len = string.unpack("<B I2", z, p)
  raw[#raw + 1] = z:sub(p + 5, p + 4 + len)
  p = p + 5 + len
until head & 1 == 1
raw = table.concat(raw)
assert(#raw == H * (W + 1), "image size")
local rows, pixels = {}, {}
for y = 1, H do
  assert(raw:byte((y - 1) * (W + 1) + 1) == 0, "filter byte")
  rows[y] = raw:sub((y - 1) * (W + 1) + 2, y * (W + 1))
end
pixels = table.concat(rows)
assert(string.format("%08x", png.crc32(pixels)) == parallel, "the PNG holds the parallel image")
-- x = 80, y = 45 is the point (-0.2125, -0.0125): inside the main cardioid
assert(rows[45]:byte(80) == 0, "a point of the set is black")
assert(rows[1]:byte(1) ~= 0, "a far corner escapes")

-- without --no-probe: the same image, whatever parallel.map decided
code, out = C.run({ "--workers", "2", examples .. "/mandelbrot.lua", tostring(W), tostring(H), "100" })
assert(code == 0 and out:find("parallel checksum: " .. parallel, 1, true), out)
assert(not out:find("picture", 1, true), out)
print("OK")
