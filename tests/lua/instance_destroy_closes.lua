-- expect-stdout: ^closed by Destroy$
-- Destroy cancels the threads of the Scripts it stops as task.cancel does
-- (SPEC 2.1): their pending to-be-closed variables run, so a lock a
-- destroyed script held with <close> is released, not held forever.
local m = sync.Mutex()
SharedTableRegistry:GetSharedTable("destroy_closes").m = m
local folder = Instance.new("Folder")
local s = Instance.new("Script")
s.Source = [[
    local m = SharedTableRegistry:GetSharedTable("destroy_closes").m
    task.spawn(function()
        local _ <close> = m:lock()
        task.wait(100)
    end)
    local _ <close> = setmetatable({}, {__close = function() print("closed by Destroy") end})
    while true do task.wait(0.01) end
]]
s.Parent = folder
folder.Parent = workspace
for _ = 1, 100 do
    if m:locked() then break end
    task.wait()
end
assert(m:locked(), "the script took the lock")
folder:Destroy()
assert(not m:locked(), "Destroy ran the script's <close>: the lock is free")
assert(m:trylock())
m:unlock()
print("OK")
