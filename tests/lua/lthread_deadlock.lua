-- expect-status: 2
-- expect-stderr: ^deadlock: 2 threads wait and nothing else can run:
-- expect-stderr: lthread 'stuck' waits at .*lthread_deadlock.lua:7 on Event
-- expect-stderr: main waits at .*lthread_deadlock.lua:9 on LThread#[0-9]+, which waits for lthread 'stuck' to end
-- An lthread parked forever and its joiner: reported as a deadlock (SPEC 1.7).
local never = sync.Event()
local h = go(function() never:wait() end, {name = "stuck"})
task.wait(0.01)
h:result()
