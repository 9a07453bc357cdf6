-- options: --workers 2
-- Destroying an Actor stops it and frees its VM (SPEC 2.1): thousands of
-- actors that each ran a script, bound a message, connected Heartbeat and
-- parked in task.wait are created and destroyed, and the memory in use
-- stays flat (it used to grow by a whole VM per actor: every Actor that ever
-- ran code lived until exit). A destroyed actor runs nothing: its Heartbeat
-- handler stops, messages sent to it later are dropped.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local function rss_kb()
    local f = assert(io.open("/proc/self/statm"))
    local _, resident = f:read("n", "n")
    f:close()
    return resident * 4 -- pages of 4 KB: only the ratio matters
end

local st = SharedTable.new({ got = 0, beats = 0 })
local SOURCE = [[
    local actor = script:GetActor()
    actor:BindToMessage("m", function(st)
        SharedTable.increment(st, "got", 1)
        game:GetService("RunService").Heartbeat:Connect(function()
            SharedTable.increment(st, "beats", 1)
        end)
    end)
    actor:BindToMessageParallel("p", function() end)
    task.wait(1e6)
]]

local BATCH = 100
local function round(beat_first)
    local actors = {}
    for i = 1, BATCH do actors[i] = U.actor("Churn", SOURCE) end
    task.wait() -- their scripts start
    local before = st.got
    for _, a in ipairs(actors) do a:SendMessage("m", st) end
    task.wait()
    assert(st.got == before + BATCH, "delivered " .. (st.got - before) .. " of " .. BATCH)
    if beat_first then
        task.wait()
        task.wait()
        assert(st.beats > 0, "the Heartbeat handlers never ran")
    end
    for _, a in ipairs(actors) do
        a:SendMessage("p") -- waits in the mailbox: dropped with it
        a:Destroy()
        a:SendMessage("m", st) -- dropped: the actor is destroyed
    end
end

-- a destroyed actor's Heartbeat handler no longer runs
round(true)
local beats = st.beats
for _ = 1, 5 do task.wait() end
assert(st.beats == beats, "Heartbeat ran in destroyed actors: " .. beats .. " -> " .. st.beats)

-- Actor VMs alive and the bytes their Lua states use (parlua.stats), and
-- the process's resident memory (not under a sanitizer: ASan keeps freed
-- memory in quarantine).
local sanitized = os.getenv("ASAN_OPTIONS") or os.getenv("TSAN_OPTIONS")
local function measure()
    collectgarbage()
    task.wait() -- the runtime frees destroyed VMs between phases
    local mem = parlua.stats().memory.actor
    return mem.vms, mem.current, rss_kb()
end

-- Garbage is collected after every round, so the resident memory measured
-- is what stays, not how much garbage the main VM made between collections
-- (which grows with the number of rounds run without one).
local ROUNDS = 6
for _ = 1, ROUNDS do round() collectgarbage() end
local vms1, bytes1, rss1 = measure()
for _ = 1, 2 * ROUNDS do round() collectgarbage() end
local vms2, bytes2, rss2 = measure()
print(string.format("after %d actors: %d VMs, %d bytes, %d KB rss; after %d more: %d, %d, %d",
    ROUNDS * BATCH, vms1, bytes1, rss1, 2 * ROUNDS * BATCH, vms2, bytes2, rss2))
assert(vms2 <= vms1 and vms2 < BATCH, "destroyed actors' VMs stay alive: " .. vms2)
assert(bytes2 <= bytes1 * 1.25 + 65536, "actor VM memory grows with destroyed actors")
-- Resident memory: a VM kept alive per destroyed actor would add well over
-- 12 KB each (an idle actor's heap alone is about 16 KB); what glibc's
-- arenas keep from one round to the next stays far below that. Smaller C
-- leaks are ASan's job (this test runs under it too).
local per_actor = (rss2 - rss1) / (2 * ROUNDS * BATCH)
assert(sanitized or per_actor < 12,
    string.format("memory grows with destroyed actors: %.1f KB each", per_actor))
assert(st.got == (1 + 3 * ROUNDS) * BATCH, "messages after Destroy were delivered: " .. st.got)
print("OK")
