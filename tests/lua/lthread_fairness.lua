-- options: --workers 2
-- Lthreads share the workers fairly (docs/design.md, "Lthreads"): busy
-- lthreads that never yield, as many as there are workers, do not hold the
-- parallel phase up (they give way after their time slice), and three busy
-- lthreads on two workers all make progress.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local st = SharedTable.new({stop = false, a = 0, b = 0, c = 0})
local function spinner(key)
    return function()
        local n = 0
        while not st.stop do
            n = n + 1
            if n % 1000 == 0 then SharedTable.increment(st, key, 1) end
        end
    end
end
local g = LThreadGroup()
go(spinner("a"), {group = g})
go(spinner("b"), {group = g})
task.wait(0.05)

-- an actor's parallel work still runs, frame after frame
local done = SharedTable.new({runs = 0})
U.actor("Parallel", [[
    script.Parent:BindToMessage("go", function(d)
        task.desynchronize()
        for _ = 1, 20 do
            SharedTable.increment(d, "runs", 1)
            task.wait()
        end
    end)
]])
task.wait()
workspace.Parallel:SendMessage("go", done)
local t0 = time()
while done.runs < 20 do
    assert(time() - t0 < 60, "the parallel phase is held up by busy lthreads")
    task.wait()
end

-- a third busy lthread on two workers gets its turns
go(spinner("c"), {group = g})
t0 = time()
while st.c < 5 or st.a < 5 do
    assert(time() - t0 < 60, "an lthread never got a worker")
    task.wait(0.01)
end
local a, b = st.a, st.b
t0 = time()
while st.a == a or st.b == b do -- the first two keep running too
    assert(time() - t0 < 60, "an lthread stopped getting its turns")
    task.wait(0.01)
end
st.stop = true
g:wait_results()
print("OK")
