-- parlua.stats() (docs/observability.md) returns the --stats figures as a
-- table, in the serial phase of any VM; in the parallel phase it raises
-- (the counters belong to the workers then). Without --stats or --trace the
-- times come from the coarse clock (precise_times is false).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local s = parlua.stats()
assert(s.frames == 0, "frames before the first frame: " .. tostring(s.frames))
assert(#s.workers == parlua.workers())
assert(s.lthreads == 0 and s.long_run_budget == 0.1 and s.precise_times == false)

local a = U.actor("Counter", [[
    local n = 0
    script:GetActor():BindToMessageParallel("add", function(k)
        n = n + k
        if n == 15 then
            local ok, err = pcall(parlua.stats)
            assert(not ok and err:find("Function parlua.stats is not safe to call in parallel", 1, true), err)
            task.synchronize()
            local s = parlua.stats() -- fine in the serial phase, from an actor too
            assert(s.messages_delivered >= 5)
            U.signal("counted")
        end
    end)
]])
for k = 1, 5 do a:SendMessage("add", k) end
U.wait_signal("counted")

s = parlua.stats()
for _, k in ipairs({ "wall_time", "serial_time", "parallel_time", "sleep_time", "serial_busy", "long_run_budget" }) do
    assert(math.type(s[k]) == "float" and s[k] >= 0, k)
end
for _, k in ipairs({ "frames", "parallel_phases", "messages_sent", "messages_delivered", "lthreads", "long_runs", "rss_peak" }) do
    assert(math.type(s[k]) == "integer" and s[k] >= 0, k)
end
assert(s.frames >= 2 and s.parallel_phases >= 1)
-- (no wall_time >= serial_time + parallel_time here: with the coarse clock
-- a phase shorter than a tick may count a whole tick)
assert(s.wall_time > 0)
assert(s.messages_sent == 5 and s.messages_delivered == 5, s.messages_sent .. " " .. s.messages_delivered)
for i, w in ipairs(s.workers) do
    assert(w.busy >= 0 and w.utilisation >= 0 and w.utilisation <= 1 and math.type(w.runs) == "integer", "worker " .. i)
end
local by_name = {}
for i, vm in ipairs(s.vms) do
    by_name[vm.name] = vm
    if i > 1 then assert(vm.time <= s.vms[i - 1].time, "vms not sorted by time") end
    for _, k in ipairs({ "time", "serial_time", "parallel_time", "longest_run" }) do assert(type(vm[k]) == "number") end
    for _, k in ipairs({ "runs", "sent", "delivered", "peak_memory", "memory" }) do assert(math.type(vm[k]) == "integer") end
    assert(vm.peak_memory >= vm.memory and vm.memory > 0)
end
local c, m = by_name["Workspace.Counter"], by_name.main
assert(c and c.kind == "actor" and c.delivered == 5 and c.sent == 0 and c.parallel_time >= 0)
assert(m and m.kind == "main" and m.sent == 5 and m.delivered == 0)
assert(s.memory.main.vms == 1 and s.memory.actor.vms == 1 and s.memory.lthread.vms == 0)
assert(s.memory.actor.peak == c.peak_memory and s.memory.actor.current == c.memory)
assert(s.memory.main.peak_sum == m.peak_memory)
print("OK")
