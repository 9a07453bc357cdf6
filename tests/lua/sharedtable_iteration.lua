-- pairs(st) (SPEC 4): integer keys ascending (from 0 to 2^32-1, whatever
-- the insertion order), then string keys; each key once; on a snapshot
-- taken when pairs is called, so writes during the loop (even clearing the
-- table) are not seen by it, and it still sees what they removed. String
-- keys come in an order that depends only on the set of keys.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local st = SharedTable.new()
local ints = { 4294967295, 0, 7, 1, 1000000, 31, 32, 33, 1023, 1024, 65536, 2 ^ 31 }
local strs = { "b", "a", "", "zeta", "10", "1", "long key " .. string.rep("x", 200) }
-- insert in a scrambled order, mixing kinds
for i = #ints, 1, -1 do
    st[strs[i % #strs + 1]] = "s" .. i
    st[ints[i]] = i
end
for i = 1, 500 do st[i * 977 % 100003] = i end -- many more, in scattered order

local seen, order = {}, {}
local last_int, in_strings = -1, false
for k, v in pairs(st) do
    assert(not seen[k], "key seen twice: " .. tostring(k))
    seen[k] = true
    order[#order + 1] = k
    if math.type(k) == "integer" then
        assert(not in_strings, "an integer key after a string key: " .. k)
        assert(k > last_int, string.format("integer keys not ascending: %d after %d", k, last_int))
        last_int = k
    else
        assert(type(k) == "string", "key of type " .. type(k))
        in_strings = true
    end
    assert(st[k] == v)
end
assert(#order == SharedTable.size(st), #order .. " keys iterated, size " .. SharedTable.size(st))
for _, k in ipairs(ints) do assert(seen[math.tointeger(k)], "missing " .. k) end
for _, k in ipairs(strs) do assert(seen[k], "missing " .. k) end

-- the same set of string keys, inserted in another order, iterates the same way
local other = SharedTable.new()
for i = #strs, 1, -1 do other[strs[i]] = true end
local o2 = SharedTable.new()
for i = 1, #strs do o2[strs[i]] = true end
local a, b = {}, {}
for k in pairs(other) do a[#a + 1] = k end
for k in pairs(o2) do b[#b + 1] = k end
assert(table.concat(a, "|") == table.concat(b, "|"))

-- snapshot: writes during the loop are not seen by it
local snap = SharedTable.new({ 1, 2, 3, x = "x" })
local n, saw = 0, {}
for k, v in pairs(snap) do
    n = n + 1
    saw[k] = v
    if n == 1 then
        snap[4] = 4       -- added: not seen
        snap.x = nil      -- removed: still seen
        snap[2] = "two"   -- changed: old value seen
    end
    if n == 2 then SharedTable.clear(snap) end
end
assert(n == 4 and saw[1] == 1 and saw[2] == 2 and saw[3] == 3 and saw.x == "x" and saw[4] == nil)
assert(SharedTable.size(snap) == 0, "the table itself was cleared")

-- empty table, and a loop broken early (the snapshot is freed by the GC)
for _ in pairs(SharedTable.new()) do error("an empty table has no keys") end
for k in pairs(st) do break end
collectgarbage()

-- the same through a transaction view: the snapshot with the view's writes
SharedTable.transaction(SharedTable.new({ 3, 1, 2, k = "v" }), function(view)
    view[2] = nil
    view[10] = "ten"
    view.z = "z"
    local keys = {}
    for k, v in pairs(view) do keys[#keys + 1] = tostring(k) .. "=" .. tostring(v) end
    local got = table.concat(keys, ",")
    assert(got:match("^1=3,3=2,10=ten,") and got:find("k=v") and got:find("z=z"), got)
    assert(#view == 1)
end)
print("OK")
