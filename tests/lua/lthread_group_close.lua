-- LThreadGroup (SPEC 7, 12): wait_results in start order (entry i is the
-- first value of the i-th member), one error listing every failure,
-- cancel_all; a handle declared <close> joins at the end of its scope.
local g = LThreadGroup()
for i = 1, 6 do
    go(function()
        task.wait((7 - i) * 0.005) -- later members end first
        return i * 10, "second value dropped"
    end, {group = g})
end
assert(g:size() == 6 and #g == 6)
local res = g:wait_results()
for i = 1, 6 do assert(res[i] == i * 10, tostring(res[i])) end

local bad = LThreadGroup()
go(function() return 1 end, {group = bad})
go(function() error("first bad") end, {group = bad, name = "b2"})
go(function() return 3 end, {group = bad})
go(function() error("second bad") end, {group = bad, name = "b4"})
local ok, e = pcall(bad.wait_results, bad)
assert(not ok)
assert(e:find("2 of 4 lthreads failed:", 1, true), e)
assert(e:find("[2] lthread 'b2': ", 1, true) and e:find("first bad", 1, true), e)
assert(e:find("[4] lthread 'b4': ", 1, true) and e:find("second bad", 1, true), e)

local spin = LThreadGroup()
for _ = 1, 3 do go(function() while true do end end, {group = spin}) end
assert(spin:cancel_all() == 3)
ok, e = pcall(spin.wait_results, spin)
assert(not ok and e:find("3 of 3 lthreads failed", 1, true), e)

-- <close>: joined at the end of the scope
local st = SharedTable.new({done = false})
do
    local h <close> = go(function()
        task.wait(0.02)
        st.done = true
    end)
end
assert(st.done == true, "the scope's end waited for the lthread")
-- a failure surfaces at the scope's end
ok, e = pcall(function()
    local h <close> = go(function() error("at close") end)
end)
assert(not ok and tostring(e):find("at close", 1, true), tostring(e))
print("OK")
