-- terrain-serial.lua: the terrain workload of examples/terrain.lua, serial,
-- for plain lua5.4 (the baseline for benchmarks); also runs under parlua.
--
--   lua5.4 examples/terrain-serial.lua [seed [size]]
--
-- Generates every chunk of the cube -size..size (default 10: 9,261 chunks)
-- and prints the chunk count, the checksum (the same one terrain.lua
-- prints) and the time taken.
local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
package.path = dir .. "/?.lua;" .. package.path

local terraingen = require("terraingen")

local seed = terraingen.checkSeed(arg and arg[1] or 12345)
local size = math.tointeger(tonumber(arg and arg[2] or 10))
assert(size and size >= 0, "size must be a non-negative integer")

-- wall-clock time: parlua's time() when there is one, else os.clock()
-- (CPU time, the same thing for this single-threaded loop)
local clock = rawget(_G, "time") or os.clock
local t0 = clock()
local count, sum = terraingen.generateAll(size, seed)
local elapsed = clock() - t0
print(string.format("chunks %d", count))
print(string.format("checksum %016x", sum))
print(string.format("time %.3f s", elapsed))
