-- options: --workers 2
-- sync.Queue (SPEC 6, 12; Python 3.13's queue.Queue): FIFO, LIFO and
-- priority order (equal keys keep their order), maxsize blocking with
-- put/get timeouts raising Full/Empty, task_done/join, shutdown (immediate
-- and not), values crossing VMs by the transfer rules; then a worker pool:
-- the main VM feeds 16 actors 400 jobs through one Queue and joins it.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local function drain(q)
    local out = {}
    while not q:empty() do out[#out + 1] = q:get_nowait() end
    return out
end

local fifo = sync.Queue()
for i = 1, 5 do fifo:put(i) end
assert(fifo:qsize() == 5 and not fifo:full())
assert(table.concat(drain(fifo), ",") == "1,2,3,4,5")

local lifo = sync.Queue { order = "lifo" }
for i = 1, 5 do lifo:put(i) end
assert(table.concat(drain(lifo), ",") == "5,4,3,2,1")

local prio = sync.Queue { order = "priority" }
for _, item in ipairs { { 3, "c" }, { 1, "a" }, { 2, "b1" }, { 2, "b2" }, { 0.5, "z" } } do
    prio:put(item)
end
local names = {}
for _, item in ipairs(drain(prio)) do names[#names + 1] = item[2] end
assert(table.concat(names, ",") == "z,a,b1,b2,c", table.concat(names, ","))
local words = sync.Queue { order = "priority" }
for _, w in ipairs { "pear", "apple", "fig" } do words:put(w) end
assert(table.concat(drain(words), ",") == "apple,fig,pear")
U.raises_with("orders items by a number or string key", words.put, words, true)

-- values cross by the transfer rules: tables are copied, shared objects not
local q = sync.Queue()
local t, st = { x = { 1, 2 } }, SharedTable.new()
q:put(t); q:put(st); q:put(q)
local t2 = q:get()
assert(t2 ~= t and t2.x[2] == 2)
assert(q:get() == st and q:get() == q)
U.raises_with("cannot transfer a value of type 'thread'", q.put, q, coroutine.create(print))
assert(q:empty(), "a failed put changed the queue")

-- maxsize: put blocks, nowait and timeouts raise Full; get raises Empty
local small = sync.Queue { maxsize = 2 }
small:put("a"); small:put("b")
assert(small:full())
local ok, err = pcall(small.put_nowait, small, "c")
assert(not ok and err.name == "Full" and err.name == sync.Full, tostring(err))
local t0 = time()
ok, err = pcall(small.put, small, "c", true, 0.05)
assert(not ok and err.name == "Full" and time() - t0 >= 0.04, tostring(err))
local put_done = false
task.spawn(function() small:put("c"); put_done = true end)
assert(not put_done, "put did not block on a full queue")
assert(small:get() == "a")
assert(small:qsize() == 2, "get did not move the blocked put's item in")
task.wait()
assert(put_done, "the blocked put did not return")
assert(table.concat(drain(small), ",") == "b,c")
ok, err = pcall(small.get, small, false)
assert(not ok and err.name == "Empty" and tostring(err):find("^Empty: "), tostring(err))
ok, err = pcall(small.get, small, true, 0.02)
assert(not ok and err.name == "Empty")

-- task_done / join
local jobs = sync.Queue()
jobs:put(1); jobs:put(2)
assert(jobs:join(0) == false)
jobs:get(); jobs:task_done()
assert(jobs:join(0.01) == false)
jobs:get(); jobs:task_done()
assert(jobs:join() == true)
U.raises_with("called more times than items were put", jobs.task_done, jobs)

-- shutdown: put raises ShutDown; get drains what is left, then raises;
-- waiting getters are released with ShutDown
local sq = sync.Queue()
sq:put(1)
local waiter_err
local waiting = sync.Queue()
sq:shutdown()
ok, err = pcall(sq.put, sq, 2)
assert(not ok and err.name == "ShutDown", tostring(err))
assert(sq:get() == 1)
ok, err = pcall(sq.get, sq)
assert(not ok and err.name == sync.ShutDown)
task.spawn(function() waiter_err = select(2, pcall(waiting.get, waiting)) end)
waiting:shutdown(true)
task.wait()
assert(waiter_err and waiter_err.name == "ShutDown", tostring(waiter_err))
local imm = sync.Queue()
imm:put(1); imm:put(2)
imm:shutdown(true)
assert(imm:empty() and imm:join(0) == true, "immediate shutdown drops the items")

-- a put leaves no garbage in the putting VM's heap (each put used to
-- leave a userdata with a finalizer: 40 bytes, and a finalizer run each);
-- a put that raised (a value that cannot cross) loses nothing and the
-- next put works
local nogc = sync.Queue()
collectgarbage("collect")
collectgarbage("stop")
local before = collectgarbage("count")
for i = 1, 10000 do nogc:put(i) end
local grown = (collectgarbage("count") - before) * 1024
collectgarbage("restart")
assert(grown < 4096, string.format("10,000 puts left %.0f bytes of garbage", grown))
for i = 1, 10000 do assert(nogc:get() == i) end
for _ = 1, 3 do
    U.raises_with("cannot transfer a value of type 'thread'", nogc.put, nogc,
        { coroutine.create(print) })
end
nogc:put("after")
assert(nogc:get_nowait() == "after" and nogc:empty())
local full = sync.Queue { maxsize = 1 }
full:put(1)
for _ = 1, 3 do
    local ok, err = pcall(full.put_nowait, full, { "a table", 2 })
    assert(not ok and err.name == "Full", tostring(err))
end
assert(full:get() == 1 and full:empty())

-- a worker pool: 16 actors, 400 jobs, results exact
local WORKERS, JOBS = 16, 400
local work, results = sync.Queue { maxsize = 8 }, sync.Queue()
for i = 1, WORKERS do
    U.actor("Worker" .. i, [[
        script:GetActor():BindToMessageParallel("start", function(work, results)
            while true do
                local ok, job = pcall(work.get, work)
                if not ok then assert(job.name == "ShutDown"); return end
                results:put(job * job)
                work:task_done()
            end
        end)
    ]])
end
for i = 1, WORKERS do workspace["Worker" .. i]:SendMessage("start", work, results) end
for i = 1, JOBS do work:put(i) end -- blocks while 8 wait: the workers drain it
assert(work:join() == true)
work:shutdown()
local sum, count = 0, 0
while not results:empty() do
    sum = sum + results:get()
    count = count + 1
end
assert(count == JOBS and sum == JOBS * (JOBS + 1) * (2 * JOBS + 1) // 6, sum)
print("OK")
