-- expect-stdout: ^closed in the actor$
-- Destroying an Actor cancels its threads as task.cancel does (SPEC 2.1),
-- before its VM goes: the pending <close> variables of its waiting threads
-- run, so locks they held with <close> are released, whether the thread
-- waited on a timer or on a sync object.
local st = SharedTableRegistry:GetSharedTable("actor_destroy_closes")
local m1, m2, never = sync.Mutex(), sync.Mutex(), sync.Event()
st.m1, st.m2, st.never = m1, m2, never
local actor = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = [[
    local st = SharedTableRegistry:GetSharedTable("actor_destroy_closes")
    task.spawn(function()
        local _ <close> = st.m1:lock()
        task.wait(100)
    end)
    task.spawn(function()
        local _ <close> = st.m2:lock()
        local _ <close> = setmetatable({}, {__close = function() print("closed in the actor") end})
        st.never:wait()
    end)
]]
s.Parent = actor
actor.Parent = workspace
for _ = 1, 100 do
    if m1:locked() and m2:locked() then break end
    task.wait()
end
assert(m1:locked() and m2:locked(), "the actor took both locks")
actor:Destroy()
assert(not m1:locked(), "the timer-waiting thread's <close> ran")
assert(not m2:locked(), "the Event-waiting thread's <close> ran")
print("OK")
