-- Shared by parallel_speedup.lua and parallel_one_worker.lua: two actors run
-- the same CPU-bound loop (about 0.2 s of work, calibrated in the main VM)
-- in one parallel phase; each reports its own busy interval [start, end]
-- (time() is one monotonic clock for every VM) to a collector, which calls
-- check(spans) with spans[1..2] = {start, finish}.
local U = require("util")
local P = {}

function P.work(n)
    local x = 0
    for i = 1, n do x = x + (i * i) % 7 end
    return x
end

-- Iterations that take about `seconds` in this VM.
function P.calibrate(seconds)
    local n, t0 = 0, time()
    repeat
        P.work(20000)
        n = n + 20000
    until time() - t0 >= seconds
    return n
end

-- check_source: Lua source of a function(spans) run in the collector.
function P.run(check_source)
    U.actor("Collector", [[
        local check = ]] .. check_source .. [[

        local spans = {}
        script:GetActor():BindToMessage("span", function(id, t0, t1)
            spans[id] = { t0, t1 }
            if spans[1] and spans[2] then check(spans) end
        end)
    ]])
    local src = [[
        local P = require("spin_pair")
        local id = tonumber(script:GetActor().Name:match("%d+"))
        script:GetActor():BindToMessageParallel("go", function(n)
            local t0 = time()
            P.work(n)
            local t1 = time()
            workspace.Collector:SendMessage("span", id, t0, t1)
        end)
    ]]
    local a1 = U.actor("Spinner1", src)
    local a2 = U.actor("Spinner2", src)
    local n = P.calibrate(0.2)
    -- both wait until bound, then run in the same parallel phase
    a1:SendMessage("go", n)
    a2:SendMessage("go", n)
end

return P
