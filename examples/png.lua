-- png.lua: a tiny PNG writer in plain Lua 5.4, no dependencies.
--
--   local png = require("png")
--   png.write("out.png", width, height, rows [, palette])
--
-- rows[y][x] (1-based) is a byte 0..255: a grey level, or with `palette`
-- (an array of up to 256 {r, g, b} triples, entry 1 for index 0) an index
-- into it. The image data is stored, not compressed (deflate "stored"
-- blocks), which keeps the writer short: one byte per pixel plus one per
-- row. What a PNG needs besides: a CRC-32 over each chunk and an Adler-32
-- over the zlib stream.
local png = {}

local char, byte, pack, concat = string.char, string.byte, string.pack, table.concat

-- CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), byte-wise with a table.
local crc_table = {}
for n = 0, 255 do
  local c = n
  for _ = 1, 8 do
    c = (c & 1) ~= 0 and (0xEDB88320 ~ (c >> 1)) or (c >> 1)
  end
  crc_table[n] = c
end

function png.crc32(s, crc)
  crc = (crc or 0) ~ 0xFFFFFFFF
  for i = 1, #s do
    crc = crc_table[(crc ~ byte(s, i)) & 0xFF] ~ (crc >> 8)
  end
  return crc ~ 0xFFFFFFFF
end

function png.adler32(s)
  local a, b = 1, 0
  for i = 1, #s do
    a = (a + byte(s, i)) % 65521
    b = (b + a) % 65521
  end
  return (b << 16) | a
end

local function chunk(kind, data)
  return pack(">I4", #data) .. kind .. data .. pack(">I4", png.crc32(kind .. data))
end

-- A zlib stream of `raw` in stored deflate blocks (at most 65,535 bytes each).
local function zlib_stored(raw)
  local out = { "\x78\x01" } -- deflate, 32 KB window, no dictionary, fastest
  local n, pos = #raw, 1
  repeat
    local len = math.min(65535, n - pos + 1)
    local last = pos + len > n and 1 or 0
    out[#out + 1] = pack("<B I2 I2", last, len, len ~ 0xFFFF)
    out[#out + 1] = raw:sub(pos, pos + len - 1)
    pos = pos + len
  until pos > n
  out[#out + 1] = pack(">I4", png.adler32(raw))
  return concat(out)
end

-- The PNG file's bytes.
function png.encode(width, height, rows, palette)
  assert(width >= 1 and height >= 1, "png: empty image")
  local lines = {}
  for y = 1, height do
    local row = rows[y]
    local bytes = {}
    for x = 1, width do bytes[x] = char(row[x]) end
    lines[y] = "\0" .. concat(bytes) -- filter type 0 (none)
  end
  local out = {
    "\x89PNG\r\n\x1a\n",
    -- bit depth 8; colour type 3 (palette) or 0 (grey); deflate; no interlace
    chunk("IHDR", pack(">I4 I4 B B B B B", width, height, 8, palette and 3 or 0, 0, 0, 0)),
  }
  if palette then
    assert(#palette >= 1 and #palette <= 256, "png: a palette has 1 to 256 colours")
    local p = {}
    for i, c in ipairs(palette) do p[i] = char(c[1], c[2], c[3]) end
    out[#out + 1] = chunk("PLTE", concat(p))
  end
  out[#out + 1] = chunk("IDAT", zlib_stored(concat(lines)))
  out[#out + 1] = chunk("IEND", "")
  return concat(out)
end

function png.write(path, width, height, rows, palette)
  local f = assert(io.open(path, "wb"))
  f:write(png.encode(width, height, rows, palette))
  f:close()
end

return png
