-- options: --workers 4
-- SharedTable.increment adds in place to a counter that no clone or
-- snapshot shares (src/core/stable.c). Three actors each add 1 to a, then
-- 1 to b, and 0.5 to f, in the same parallel phase as a fourth that takes
-- clones, snapshots (pairs) and transactions of the table: every version it
-- sees has a >= b (a consistent moment), a clone never changes afterwards,
-- and a transaction adding 1000 to a commits without losing any add. At the
-- end the counters hold exactly what was added, with their types.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local ADDERS, N = 3, 20000

local st = SharedTable.new({ a = 0, b = 0, f = 0.25, other = "x" })
local res = SharedTable.new({ done = 0, bad = 0, commits = 0, seen = 0 })
for i = 1, ADDERS do
    U.actor("Adder" .. i, [[
        script:GetActor():BindToMessageParallel("go", function(st, res, n)
            local inc = SharedTable.increment
            for _ = 1, n do
                inc(st, "a", 1)
                inc(st, "b", 1)
                inc(st, "f", 0.5)
            end
            inc(res, "done", 1)
        end)
    ]])
end
U.actor("Observer", [[
    script:GetActor():BindToMessageParallel("go", function(st, res, adders)
        local inc, last = SharedTable.increment, 0
        local round = 0
        repeat
            round = round + 1
            local c = SharedTable.clone(st)
            local a, b = c.a, c.b
            if a < b or a < last then inc(res, "bad", 1) end
            last = a
            local seen = {}
            for k, v in pairs(st) do seen[k] = v end
            if seen.a < seen.b then inc(res, "bad", 1) end
            if c.a ~= a or c.b ~= b then inc(res, "bad", 1) end
            if round % 4 == 0 then
                SharedTable.transaction(st, function(view)
                    if view.a < view.b then inc(res, "bad", 1) end
                    view.a = view.a + 1000
                end)
                inc(res, "commits", 1)
            end
            inc(res, "seen", 1)
        until res.done >= adders
    end)
]])
for i = 1, ADDERS do workspace["Adder" .. i]:SendMessage("go", st, res, N) end
workspace.Observer:SendMessage("go", st, res, ADDERS)
local deadline = time() + 120
while res.done < ADDERS or res.seen == 0 do -- the observer's handler ends in that phase
    assert(time() < deadline, "the actors did not finish")
    task.wait()
end
print(string.format("rounds observed: %d, transactions: %d", res.seen, res.commits))
assert(res.bad == 0, "an inconsistent version was seen " .. res.bad .. " times")
assert(math.type(st.a) == "integer" and math.type(st.b) == "integer")
assert(st.b == ADDERS * N)
assert(st.a == ADDERS * N + 1000 * res.commits, "an increment was lost")
assert(math.type(st.f) == "float" and st.f == 0.25 + 0.5 * ADDERS * N)
print("OK")
