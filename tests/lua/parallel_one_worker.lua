-- options: --workers 1
-- With one worker, two actors with CPU-bound work in the same parallel phase
-- run one after the other: their busy intervals do not overlap (wall time
-- about the sum of the busy times). The counterpart of parallel_speedup.lua.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
assert(parlua.workers() == 1, "parlua.workers(): " .. parlua.workers())
require("spin_pair").run([[function(spans)
    local a, b = spans[1], spans[2]
    local busy = (a[2] - a[1]) + (b[2] - b[1])
    local wall = math.max(a[2], b[2]) - math.min(a[1], b[1])
    print(string.format("busy %.3f s, wall %.3f s, ratio %.2f", busy, wall, wall / busy))
    assert(a[2] <= b[1] or b[2] <= a[1], "the two actors overlapped with one worker")
    assert(wall >= 0.95 * busy, "wall/busy = " .. wall / busy)
    print("OK")
end]])
