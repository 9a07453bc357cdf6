-- expect-status: 2
-- expect-stderr: ^deadlock: 2 threads wait and nothing else can run:$
-- expect-stderr: main waits at .*sync_deadlock_main.lua:11 on Event#[0-9]+$
-- expect-stderr: main waits at .*sync_deadlock_main.lua:9 on Queue#[0-9]+$
-- A thread of the main VM waiting for an Event nobody will set, while
-- another waits on an empty Queue: reported, exit 2, not a hang. The
-- report counts both (a user coroutine parked by a blocking call counts).
local q, e = sync.Queue(), sync.Event()
local co = coroutine.create(function() q:get() end)
coroutine.resume(co) -- parks it: resume returns as for a yield (SPEC 1.2)
e:wait()
