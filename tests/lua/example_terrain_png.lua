-- examples/terrain.lua --png FILE draws what the workers computed as a PNG
-- (examples/png.lua, a writer in plain Lua). The file is checked here
-- without trusting the writer: CRC-32 and Adler-32 against published test
-- vectors, then every chunk's CRC, the stored deflate blocks (LEN/NLEN),
-- the zlib Adler-32, the size in IHDR and the filter byte of each row. The
-- program's usual output is unchanged apart from one line.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")
local dir = arg[0]:match("^(.*)/") or "."
local examples = dir .. "/../../examples"
package.path = examples .. "/?.lua;" .. package.path
local png = require("png")

assert(png.crc32("123456789") == 0xCBF43926, "crc32 test vector")
assert(png.adler32("Wikipedia") == 0x11E60398, "adler32 test vector")

local path = os.tmpname()
local code, out, err = C.run({ "--workers", "2", examples .. "/terrain.lua", "--png", path, "7", "1", "3" })
assert(code == 0, err)
assert(out:find("checksums match:   yes", 1, true), out)
assert(out:find("picture:           " .. path .. " (264x264 pixels)", 1, true), out)
local data = assert(io.open(path, "rb")):read("a")
os.remove(path)

assert(data:sub(1, 8) == "\x89PNG\r\n\x1a\n", "signature")
local pos, chunks, idat = 9, {}, {}
while pos <= #data do
  local len, kind = string.unpack(">I4 c4", data, pos)
  local body = data:sub(pos + 8, pos + 7 + len)
  local crc = string.unpack(">I4", data, pos + 8 + len)
  assert(png.crc32(kind .. body) == crc, "CRC of chunk " .. kind)
  chunks[#chunks + 1] = kind
  if kind == "IHDR" then
    local w, h, depth, ctype = string.unpack(">I4 I4 B B", body)
    assert(w == 264 and h == 264 and depth == 8 and ctype == 3, "IHDR")
  elseif kind == "PLTE" then
    assert(#body == 768, "a 256-colour palette")
  elseif kind == "IDAT" then
    idat[#idat + 1] = body
  end
  pos = pos + 12 + len
end
assert(table.concat(chunks, " ") == "IHDR PLTE IDAT IEND", table.concat(chunks, " "))

-- the zlib stream: header, stored blocks, Adler-32 of the raw data
local z = table.concat(idat)
local cmf, flg = z:byte(1, 2)
assert(cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0, "zlib header")
local raw, p, last = {}, 3, false
repeat
  local bfinal_btype, len, nlen = string.unpack("<B I2 I2", z, p)
  assert(bfinal_btype >> 1 == 0, "a stored block")
  assert(len ~ 0xFFFF == nlen, "NLEN")
  raw[#raw + 1] = z:sub(p + 5, p + 4 + len)
  p = p + 5 + len
  last = bfinal_btype & 1 == 1
until last
raw = table.concat(raw)
assert(string.unpack(">I4", z, p) == png.adler32(raw), "Adler-32")
assert(p + 4 == #z + 1, "bytes after the zlib stream")
assert(#raw == 264 * (264 + 1), "image size")
for y = 0, 263 do assert(raw:byte(y * 265 + 1) == 0, "filter byte of row " .. y) end

-- without --png: no picture line
code, out = C.run({ "--workers", "2", examples .. "/terrain.lua", "7", "1", "3" })
assert(code == 0 and not out:find("picture", 1, true), out)
print("OK")
