-- options: --workers 2
-- 10,000 lthreads: every one runs once and returns its result, nothing
-- lost or duplicated; every lthread starts in a fresh VM (no globals or
-- package.loaded of a previous one).
local counter = sync.Atomic(0)
local handles = {}
for i = 1, 10000 do
    handles[i] = go(function()
        counter:add(1)
        assert(MARK == nil and package.loaded.marked == nil, "a VM kept an earlier lthread's state")
        MARK = i
        package.loaded.marked = true
        return i
    end)
end
local sum = 0
for i = 1, 10000 do
    local r, err = handles[i]:wait_result()
    assert(err == nil, tostring(err))
    assert(r == i)
    sum = sum + r
end
assert(counter:get() == 10000, counter:get())
assert(sum == 10000 * 10001 // 2)
print("OK")
