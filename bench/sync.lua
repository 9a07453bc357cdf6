-- The sync primitives (docs/sync.md). Prints "RESULT name value" lines:
--   lock_mps          uncontended Mutex lock+unlock pairs per second (main VM)
--   sema_mps          uncontended Semaphore acquire+release pairs per second
--   atomic_add_mps    Atomic:add calls per second, one thread
--   increment_mps     SharedTable.increment calls per second, for comparison
--   handoff_us        a Mutex passed back and forth between two actors: one
--                     round trip (two hand-overs), in microseconds
--   queue_1x1_mps     Queue put+get pairs per second, 1 producer, 1 consumer actor
--   queue_4x4_mps     the same with 4 producer and 4 consumer actors
--   event_wake_us     100 actors parked on one Event: from set() until the
--                     last has resumed, in microseconds
local N = tonumber(arg and arg[1]) or 1000000

local function rate(n, fn)
    local t0 = os.clock()
    fn(n)
    return n / (os.clock() - t0) / 1e6
end

local m = sync.Mutex()
print(string.format("RESULT lock_mps %.2f", rate(N, function(n)
    for _ = 1, n do m:lock(); m:unlock() end
end)))
local s = sync.Semaphore(1)
print(string.format("RESULT sema_mps %.2f", rate(N, function(n)
    for _ = 1, n do s:acquire(); s:release() end
end)))
local a = sync.Atomic(0)
print(string.format("RESULT atomic_add_mps %.2f", rate(N, function(n)
    for _ = 1, n do a:add(1) end
end)))
local st = SharedTable.new({ n = 0 })
print(string.format("RESULT increment_mps %.2f", rate(N, function(n)
    for _ = 1, n do SharedTable.increment(st, "n", 1) end
end)))

local function actor(name, source)
    local act = Instance.new("Actor")
    act.Name = name
    local sc = Instance.new("Script")
    sc.Source = source
    sc.Parent = act
    act.Parent = workspace
    return act
end

-- Mutex hand-over: each side locks, flips the turn, unlocks; waits its turn
-- on an Event pair, so every lock is a hand-over between the two actors.
local ROUNDS = 20000
local src_handoff = [[
    script:GetActor():BindToMessageParallel("go", function(m, mine, theirs, rounds, done)
        for _ = 1, rounds do
            mine:wait(); mine:clear()
            m:lock(); m:unlock()
            theirs:set()
        end
        done:put(true)
    end)
]]
local e1, e2, done = sync.Event(), sync.Event(), sync.Queue()
local p1, p2 = actor("H1", src_handoff), actor("H2", src_handoff)
p1:SendMessage("go", m, e1, e2, ROUNDS, done)
p2:SendMessage("go", m, e2, e1, ROUNDS, done)
task.wait()
local t0 = time()
e1:set()
done:get(); done:get()
print(string.format("RESULT handoff_us %.2f", (time() - t0) / ROUNDS * 1e6))

local function queue_rate(producers, consumers, items)
    local q, finished = sync.Queue { maxsize = 1024 }, sync.Queue()
    local per_p, per_c = items // producers, items // consumers
    for i = 1, producers do
        actor("P" .. producers .. "_" .. i, [[
            script:GetActor():BindToMessageParallel("go", function(q, n, finished)
                for k = 1, n do q:put(k) end
                finished:put(true)
            end)
        ]]):SendMessage("go", q, per_p, finished)
    end
    for i = 1, consumers do
        actor("C" .. consumers .. "_" .. i, [[
            script:GetActor():BindToMessageParallel("go", function(q, n, finished)
                for _ = 1, n do q:get() end
                finished:put(true)
            end)
        ]]):SendMessage("go", q, per_c, finished)
    end
    local t = time()
    for _ = 1, producers + consumers do finished:get() end
    return items / (time() - t) / 1e6
end
print(string.format("RESULT queue_1x1_mps %.2f", queue_rate(1, 1, 400000)))
print(string.format("RESULT queue_4x4_mps %.2f", queue_rate(4, 4, 400000)))

local WAITERS = 100
local go, parked, woken = sync.Event(), sync.Atomic(0), sync.Queue()
for i = 1, WAITERS do
    actor("W" .. i, [[
        script:GetActor():BindToMessageParallel("go", function(go, parked, woken)
            parked:add(1)
            go:wait()
            woken:put(time())
        end)
    ]]):SendMessage("go", go, parked, woken)
end
while parked:get() < WAITERS do task.wait() end
task.wait()
local t1 = time()
go:set()
local last = 0
for _ = 1, WAITERS do last = math.max(last, woken:get()) end
print(string.format("RESULT event_wake_us %.1f", (last - t1) * 1e6))
