-- options: --workers 2
-- go() (SPEC 7): results (several values kept), globals, upvalues by the
-- transfer rules of SPEC 5 (plain tables copied, SharedTables and sync
-- objects shared), the VM's isolation, parlua.phase() and the task
-- functions that work inside, and what an lthread cannot do.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

-- results: wait_result gives the first value and nil; result gives them all
local h = go(function() return 1, "two", nil, 4 end)
local r, err = h:wait_result()
assert(r == 1 and err == nil)
local a, b, c, d = h:result()
assert(a == 1 and b == "two" and c == nil and d == 4)
assert(h:done() == true)
assert(select("#", go(function() end):result()) == 0)

-- upvalues: numbers, strings, copied tables, shared objects
local n, s, t = 21, "x", {1, 2, {3}}
local st = SharedTable.new({count = 0})
local ev = sync.Event()
local h2 = go(function()
    t[1] = 100 -- the lthread's copy
    st.count = st.count + 1
    ev:set()
    return n * 2, s .. "y", t[3][1], #t
end)
assert(select("#", h2:result()) == 4)
local x, y, z, w = h2:result()
assert(x == 42 and y == "xy" and z == 3 and w == 3)
assert(t[1] == 1, "a plain table crosses as a copy")
assert(st.count == 1 and ev:is_set(), "SharedTables and sync objects are shared")

-- globals, and isolation: nothing of the caller's globals, nothing back
CALLER_GLOBAL = "mine"
local h3 = go(function()
    assert(CALLER_GLOBAL == nil)
    LEAKED = true
    return G1 + G2.v, type(string.format), require("string") == string
end, {globals = {G1 = 1, G2 = {v = 2}}})
local sum, ty, same = h3:result()
assert(sum == 3 and ty == "function" and same == true)
assert(LEAKED == nil)

-- parlua.phase(), task.wait/spawn inside, task.synchronize refused
local h4 = go(function()
    local order = {}
    task.spawn(function() order[#order + 1] = "spawned" end)
    local waited = task.wait(0.01)
    order[#order + 1] = "waited"
    local ok, e = pcall(task.synchronize)
    local ok2, e2 = pcall(task.desynchronize)
    return parlua.phase(), table.concat(order, ","), waited >= 0.01, ok, e, ok2, e2
end)
local phase, order, waited, ok, e, ok2, e2 = h4:result()
assert(phase == "lthread", phase)
assert(order == "spawned,waited", order)
assert(waited)
assert(not ok and e:find("cannot be called from an lthread"), e)
assert(not ok2 and e2:find("cannot be called from an lthread"), e2)
assert(parlua.phase() == "serial")

-- names and tostring
local named = go(function() return 1 end, {name = "loader"})
named:result()
assert(named:name() == "loader")
assert(tostring(named) == "LThread 'loader' (done)", tostring(named))
assert(go(function() end):name():match("^#%d+ at .*lthread_basic.lua:%d+$"))

-- a message from an lthread reaches an actor's handler
local got = SharedTable.new()
local actor = U.actor("Sink", [[
    script.Parent:BindToMessage("put", function(st, v) st.v = v end)
]])
task.wait()
local sent_before = parlua.stats().messages_sent
go(function() actor:SendMessage("put", got, "from lthread") end):result()
-- counted in the stats' message totals (they used to count actors' and
-- the main VM's sends only); the run is counted just after the result
for _ = 1, 100 do
    if parlua.stats().messages_sent == sent_before + 1 then break end
    task.wait()
end
assert(parlua.stats().messages_sent == sent_before + 1, "an lthread's message is counted")
for _ = 1, 100 do
    if got.v then break end
    task.wait()
end
assert(got.v == "from lthread")
print("OK")
