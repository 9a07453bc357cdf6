-- options: --workers 2
-- parallel.map (SPEC 7): results in order (nil results kept in place), the
-- first error raised with its index, cheap work done serially, expensive
-- work spread over lthreads; bad arguments refused.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local list = {}
for i = 1, 1000 do list[i] = i end
local sq = parallel.map(list, function(x) return x * x end)
assert(#sq == 1000)
for i = 1, 1000 do assert(sq[i] == i * i) end

-- expensive items, forced through lthreads: order kept, holes kept
local res = parallel.map(list, function(x)
    if x % 100 == 0 then return nil end
    local s = 0
    for j = 1, 2000 do s = s + (j % x) end
    return s
end, {probe = false, batch = 64})
for i = 1, 1000 do
    local s = 0
    if i % 100 ~= 0 then for j = 1, 2000 do s = s + (j % i) end else s = nil end
    assert(res[i] == s, i)
end

-- the first error, with its index, from the lthreads and from the probe
local ok, e = pcall(parallel.map, list, function(x)
    if x == 700 or x == 900 then error("bad item " .. x) end
    return x
end, {probe = false, batch = 50})
assert(not ok and e:find("parallel.map: item 700: ", 1, true) and e:find("bad item 700", 1, true), e)
ok, e = pcall(parallel.map, {1, 2, 3}, function(x) if x == 2 then error("two") end end)
assert(not ok and e:find("parallel.map: item 2: ", 1, true), e)

-- fn's upvalues cross as go()'s do
local scale = 3
local scaled = parallel.map({1, 2, 3}, function(x) return x * scale end, {probe = false})
assert(scaled[1] == 3 and scaled[2] == 6 and scaled[3] == 9)

assert(#parallel.map({}, print) == 0)
U.raises("parallel.map: argument 1 must be a list (table), got number", parallel.map, 1, print)
U.raises("parallel.map: argument 2 must be a function, got nil", parallel.map, {})
U.raises("parallel.map: option batch must be an integer >= 1", parallel.map, {1}, print, {batch = 0})
print("OK")
