-- options: --workers 4
-- update and transaction (SPEC 4, 12). In the main VM: a transaction's view
-- reads its own writes, returns the function's results, removes with nil,
-- converts plain tables; update replaces st[k] with fn(st[k]) (nil removes).
-- Under contention, from four actors in one parallel phase: updates of one
-- counter are all kept; transactions that move amounts between two keys
-- keep their sum, and a checker actor reading in parallel (through
-- transactions and through pairs snapshots) never sees half of one.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local st = SharedTable.new({ a = 1, b = 2 })
local r1, r2, r3 = SharedTable.transaction(st, function(view)
    assert(view.a == 1)
    view.a = 10
    assert(view.a == 10, "the view reads its own writes")
    view.b = nil
    assert(view.b == nil)
    view.c = { nested = true }
    assert(tostring(view.c):match("^SharedTable: ") and view.c.nested == true)
    assert(st.a == 1, "nothing is visible before the commit")
    return "r1", 2, nil
end)
assert(r1 == "r1" and r2 == 2 and r3 == nil)
assert(st.a == 10 and st.b == nil and st.c.nested == true and SharedTable.size(st) == 2)
assert(select("#", SharedTable.transaction(st, function() end)) == 0)

SharedTable.update(st, "a", function(v) return v + 1 end)
assert(st.a == 11)
SharedTable.update(st, "missing", function(v) assert(v == nil); return "made" end)
assert(st.missing == "made")
SharedTable.update(st, "missing", function(v) return nil end)
assert(st.missing == nil)
SharedTable.update(st, 5, function(v) return { 1, 2 } end)
assert(st[5][2] == 2)
assert(select("#", SharedTable.update(st, "a", function(v) return v end)) == 0)
-- keys holding nil, booleans and numbers (update's fast path): removal,
-- a nil key left nil, a boolean flipped, a number turned into a string
SharedTable.update(st, "a", function(v) assert(v == 11); return nil end)
assert(st.a == nil)
SharedTable.update(st, "never", function(v) assert(v == nil); return nil end)
assert(st.never == nil)
st.flag = false
SharedTable.update(st, "flag", function(v) return not v end)
assert(st.flag == true)
st.num = 1.5
SharedTable.update(st, "num", function(v) assert(math.type(v) == "float"); return "x" .. v end)
assert(st.num == "x1.5")

-- contention
local ACTORS, N, TOTAL = 4, 2000, 1000000
local shared = SharedTable.new({ counter = 0, a = TOTAL, b = 0, done = 0, runs = 0, checks = 0 })
local worker = [[
    script:GetActor():BindToMessageParallel("go", function(st, n, seed)
        local runs = 0
        for i = 1, n do
            SharedTable.update(st, "counter", function(v) runs = runs + 1; return v + 1 end)
            local amount = (i * seed) % 100 - 50
            SharedTable.transaction(st, function(view)
                view.a = view.a - amount
                view.b = view.b + amount
            end)
        end
        SharedTable.increment(st, "runs", runs)
        SharedTable.increment(st, "done", 1)
    end)
]]
for i = 1, ACTORS do U.actor("Worker" .. i, worker) end
U.actor("Checker", string.format("local ACTORS, TOTAL = %d, %d", ACTORS, TOTAL) .. [[
    script:GetActor():BindToMessageParallel("go", function(st)
        local checks = 0
        repeat
            local a, b = SharedTable.transaction(st, function(view) return view.a, view.b end)
            assert(a + b == TOTAL, "a transaction was seen half done: " .. a .. " + " .. b)
            local seen = {}
            for k, v in pairs(st) do seen[k] = v end
            assert(seen.a + seen.b == TOTAL, "a pairs snapshot saw half a transaction")
            checks = checks + 1
            -- never spin a whole phase away: the workers may start in a later frame
            if checks % 100 == 0 then task.wait() end
        until st.done == ACTORS
        SharedTable.increment(st, "checks", checks)
        SharedTable.increment(st, "done", 1)
    end)
]])
workspace.Checker:SendMessage("go", shared)
for i = 1, ACTORS do workspace["Worker" .. i]:SendMessage("go", shared, N, 7 + i * 13) end
local deadline = time() + 120
while shared.done < ACTORS + 1 do
    assert(time() < deadline, "the actors did not finish")
    task.wait()
end
print(string.format("counter %d of %d; update functions ran %d times; checker ran %d checks",
    shared.counter, ACTORS * N, shared.runs, shared.checks))
assert(shared.counter == ACTORS * N, "an update was lost")
assert(shared.runs >= ACTORS * N)
assert(shared.a + shared.b == TOTAL)
assert(shared.checks >= 1)
print("OK")
