-- clone and cloneAndFreeze (SPEC 4, 12): a clone is independent of its
-- source from then on; a shallow clone shares nested SharedTables with its
-- source, a deep clone copies them (a table reached twice is copied once,
-- cycles keep their shape); cloneAndFreeze freezes the new table, and with
-- deep every table it copies; a clone of a frozen table is not frozen;
-- isFrozen; clear. (Cloning is O(1) per table; bench/sharedtable.lua
-- measures it on 1,000,000 keys.)
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local st = SharedTable.new({ a = 1, list = { 1, 2, 3 }, nested = { inner = { v = "deep" } } })
st.again = st.nested -- reached twice
st.self = st         -- a cycle

-- shallow
local c = SharedTable.clone(st)
assert(c ~= st and not SharedTable.isFrozen(c))
assert(c.a == 1 and c.list == st.list and c.nested == st.nested, "a shallow clone shares nested tables")
assert(c.self == st, "shallow: the cycle still points at the source")
st.a = 2
c.b = "only in the clone"
assert(c.a == 1 and st.a == 2 and st.b == nil, "clone and source are independent")
st.list[4] = 4
assert(c.list[4] == 4, "...but share nested tables")

-- deep
local d = SharedTable.clone(st, true)
assert(d.list ~= st.list and d.nested ~= st.nested and d.nested.inner ~= st.nested.inner)
assert(d.list[4] == 4 and d.nested.inner.v == "deep")
assert(d.again == d.nested, "a table reached twice is copied once")
assert(d.self == d, "a cycle points at the copy")
st.nested.inner.v = "changed"
assert(d.nested.inner.v == "deep")
assert(not SharedTable.isFrozen(d) and not SharedTable.isFrozen(d.nested))

-- cloneAndFreeze, shallow: only the new table is frozen
local f = SharedTable.cloneAndFreeze(st)
assert(SharedTable.isFrozen(f) and f.a == 2)
assert(f.list == st.list and not SharedTable.isFrozen(f.list))
f.list[5] = 5 -- the shared nested table is still writable
U.raises("attempt to modify a frozen SharedTable", function() f.a = 3 end)

-- cloneAndFreeze, deep: every copied table is frozen
local fd = SharedTable.cloneAndFreeze(st, true)
assert(SharedTable.isFrozen(fd) and SharedTable.isFrozen(fd.list))
assert(SharedTable.isFrozen(fd.nested) and SharedTable.isFrozen(fd.nested.inner))
assert(fd.self == fd and fd.nested.inner.v == "changed")
U.raises("attempt to modify a frozen SharedTable", function() fd.nested.inner.v = 1 end)

-- a clone of a frozen table is not frozen
local thawed = SharedTable.clone(fd)
assert(not SharedTable.isFrozen(thawed))
thawed.a = 10
assert(thawed.a == 10 and fd.a == 2)
local thawed_deep = SharedTable.clone(fd, true)
assert(not SharedTable.isFrozen(thawed_deep.nested))

-- clear and size
local big = SharedTable.new()
for i = 1, 10000 do big[i] = i end
local before = SharedTable.clone(big)
SharedTable.clear(big)
assert(SharedTable.size(big) == 0 and big[1] == nil)
assert(SharedTable.size(before) == 10000 and before[10000] == 10000, "a clone kept its version")
SharedTable.clear(big) -- clearing an empty table is fine
print("OK")
