-- expect-status: 1
-- expect-stderr: ^parlua: lthread 'w1' failed and nobody joined it .*: same lthread failure$
-- expect-stderr: ^parlua: lthread 'w3' failed and nobody joined it .*: same lthread failure$
-- expect-stderr: ^parlua: 17 more reports of the same failure of an lthread nobody joined were not shown \(the last from lthread 'w20'\): same lthread failure$
-- Failures of lthreads nobody joined are summed up like uncaught errors
-- (guide.md §9): three in full, then one line for the rest. The handles
-- are kept, so every failure is reported at the end, in start order.
local handles = {}
for i = 1, 20 do
    handles[i] = go(function() error("same lthread failure", 0) end, { name = "w" .. i })
end
for _, h in ipairs(handles) do
    while not h:done() do task.wait() end
end
print("OK")
