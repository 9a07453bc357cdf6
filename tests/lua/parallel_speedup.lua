-- options: --workers 2
-- Real parallelism (SPEC 1.3): two actors each run ~0.2 s of CPU-bound work
-- in the same parallel phase with two workers. Their busy intervals overlap:
-- the wall time from the first start to the last end is clearly less than
-- the sum of each actor's own busy time (a ratio, not an absolute bound).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
assert(parlua.workers() == 2, "parlua.workers(): " .. parlua.workers())
require("spin_pair").run([[function(spans)
    local a, b = spans[1], spans[2]
    local busy = (a[2] - a[1]) + (b[2] - b[1])
    local wall = math.max(a[2], b[2]) - math.min(a[1], b[1])
    print(string.format("busy %.3f s, wall %.3f s, ratio %.2f", busy, wall, wall / busy))
    assert(wall < 0.8 * busy, "no overlap with 2 workers: wall/busy = " .. wall / busy)
    print("OK")
end]])
