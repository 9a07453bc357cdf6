-- Reading SharedTables from finalizers (__gc) that run while another read
-- is pushing its value: a push may allocate, the allocation may run the GC,
-- and the GC runs finalizers, which here read tables, long strings and
-- clones of the same SharedTable again. Every value keeps its reference
-- count right (checked by AddressSanitizer in `make asan`), and every read
-- sees the right value.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
collectgarbage("incremental", 20, 400) -- collect often: many finalizers run inside pushes

local LONG = string.rep("y", 500)
local st = SharedTable.new({ child = { x = 1 }, long = LONG, list = { 1, 2, 3 } })
local in_finalizer = 0
local mt = {
    __gc = function()
        in_finalizer = in_finalizer + 1
        local c, l = st.child, st.long
        assert(c.x == 1 and l == LONG)
        assert(SharedTable.clone(st).list[3] == 3)
    end,
}
for i = 1, 20000 do
    setmetatable({}, mt) -- garbage with a finalizer
    local c = SharedTable.clone(st) -- a new proxy: allocates
    assert(st.child.x == 1 and st.long == LONG and c.list[2] == 2)
    if i % 100 == 0 then st.child = { x = 1 } end -- drop old children now and then
end
collectgarbage()
assert(in_finalizer > 1000, "too few finalizers ran: " .. in_finalizer)
print("OK")
