-- A worker pool: the main script feeds 16 actors through one sync.Queue and
-- waits for them with join; nobody polls. Run: parlua examples/worker_pool.lua
local WORKERS, JOBS = 16, 400
local work, results = sync.Queue { maxsize = 8 }, sync.Queue()
for i = 1, WORKERS do
    local actor = Instance.new("Actor")
    actor.Name = "Worker" .. i
    local s = Instance.new("Script")
    s.Source = [[
        script:GetActor():BindToMessageParallel("start", function(work, results)
            while true do
                local ok, job = pcall(work.get, work)
                if not ok then return end      -- ShutDown: no more jobs
                results:put(job * job)
                work:task_done()
            end
        end)
    ]]
    s.Parent = actor
    actor.Parent = workspace
    actor:SendMessage("start", work, results)
end
for i = 1, JOBS do work:put(i) end  -- waits while 8 are queued
work:join()                         -- every job done
work:shutdown()                     -- the workers' get raises ShutDown: they return
local sum = 0
while not results:empty() do sum = sum + results:get() end
print(sum)                          -- 21413400
