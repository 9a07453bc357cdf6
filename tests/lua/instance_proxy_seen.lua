-- The instance check of __index and of a method remembers the proxies it
-- checked last (pl_vm.proxy_seen, src/engine/vm.h): the next check of the
-- same proxy reads no metatable. Whatever is remembered, a value that is
-- no live Instance proxy still raises as before: another proxy type or a
-- file at an address a collected Instance proxy had, a proxy whose
-- finalizer was called by hand. Many instances in turn (more than the VM
-- remembers) each give their own results. (A proxy freed without its
-- finalizer, its metatable's __gc taken out, leaks its instance: the
-- entries' check of the first word is tested in tests/c/test_proxy_seen.c.)
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local mt = getmetatable(workspace)
local index = mt.__index
local get_children = workspace.GetChildren
local send = Instance.new("Actor").SendMessage

local function not_instance(f, ...)
    local ok, err = pcall(f, ...)
    assert(not ok and err:find("Instance expected", 1, true), err)
end

-- other userdata, made while collected proxies' addresses are free:
-- proxies of other types (the same size as an Instance proxy), tables of
-- shared data, files
local function others(n)
    local t = {}
    for i = 1, n do
        t[#t + 1] = i % 2 == 0 and sync.Mutex() or sync.Atomic(i)
    end
    t[#t + 1] = io.tmpfile()
    t[#t + 1] = SharedTable.new()
    return t
end

local function check_others(t)
    for _, v in ipairs(t) do
        not_instance(get_children, v)
        not_instance(send, v, "t")
        not_instance(index, v, "Name")
        not_instance(index, v, "GetChildren")
    end
end

-- 1. proxies checked (by a method and by __index), dropped and collected
-- as usual: other userdata at their addresses are not Instances
for _ = 1, 3 do
    for _ = 1, 200 do
        local f = Instance.new("Folder")
        assert(#f:GetChildren() == 0 and f.Name == "Folder")
    end
    collectgarbage()
    collectgarbage()
    check_others(others(200))
end

-- 2. a finalizer called by hand: the proxy stands for nothing any more
local f = Instance.new("Folder")
assert(f.Name == "Folder" and #f:GetChildren() == 0)
mt.__gc(f)
not_instance(index, f, "Name")
not_instance(get_children, f)
U.raises_with("Instance expected", function() return f.Name end)

-- 3. many instances in turn, each with its own results
local list = {}
for i = 1, 20 do
    local g = Instance.new("Folder")
    g.Name = "f" .. i
    g.Parent = workspace
    list[i] = g
end
for _ = 1, 5 do
    for i, g in ipairs(list) do
        assert(g:GetFullName() == "Workspace.f" .. i and g.Name == "f" .. i)
        assert(workspace:FindFirstChild("f" .. i) == g)
    end
end
print("OK")
