-- The plain lua5.4 counterpart of bench/sharedtable.lua's get and set: the
-- same loops on a plain table with the same keys, in M/s.
--   lua5.4 bench/sharedtable-plain.lua [scale]
local scale = tonumber(arg and arg[1]) or 1
local N = math.floor(2000000 * scale)
local t = {}
for i = 1, 100 do t["key" .. i] = i end
for i = 1, 100 do t[i] = i end
t.x = 1
do
    local s = t
    local t0 = os.clock()
    for _ = 1, N do local v = s.x end
    print(string.format("RESULT plain_get_mps %.2f", N / (os.clock() - t0) / 1e6))
end
do
    local s = t
    local t0 = os.clock()
    for i = 1, N do s.x = i end
    print(string.format("RESULT plain_set_mps %.2f", N / (os.clock() - t0) / 1e6))
end
