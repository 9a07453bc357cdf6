-- options: --workers 4
-- The data race of Parallel Luau's docs (SPEC 4), demonstrated: four actors
-- each add 1 to st.Value 20,000 times in the same parallel phase with
-- `st.Value = st.Value + 1` (read, then write: two atomic steps, not one),
-- and with SharedTable.increment (one atomic step). The read-then-write total
-- may fall short (updates are lost when two actors interleave; how many
-- depends on the machine, and it can be exact by luck); increment's total is
-- always exact. Nothing crashes either way.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local ACTORS, N = 4, 20000

local st = SharedTable.new({ Value = 0, Exact = 0, done = 0 })
for i = 1, ACTORS do
    U.actor("Adder" .. i, [[
        script:GetActor():BindToMessageParallel("go", function(st, n)
            for _ = 1, n do
                st.Value = st.Value + 1               -- racy: may lose updates
                SharedTable.increment(st, "Exact", 1) -- atomic: never does
            end
            SharedTable.increment(st, "done", 1)
        end)
    ]])
end
for i = 1, ACTORS do workspace["Adder" .. i]:SendMessage("go", st, N) end
local deadline = time() + 60
while st.done < ACTORS do
    assert(time() < deadline, "the actors did not finish")
    task.wait()
end
print(string.format("st.Value = st.Value + 1: %d of %d (%d lost)", st.Value, ACTORS * N,
    ACTORS * N - st.Value))
print(string.format("SharedTable.increment:  %d of %d", st.Exact, ACTORS * N))
assert(st.Exact == ACTORS * N, "increment lost updates")
assert(math.type(st.Value) == "integer" and st.Value >= N and st.Value <= ACTORS * N)
print("OK")
