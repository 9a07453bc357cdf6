-- 1,000 actors x 100 messages each, nothing lost or duplicated: every actor
-- counts what it got (parallel binding, order checked) and reports to a
-- collector actor (serial binding), which checks every report.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local ACTORS, MSGS = 1000, 100

U.actor("Collector", string.format("local ACTORS, MSGS = %d, %d", ACTORS, MSGS) .. [[
    local reported, n = {}, 0
    script:GetActor():BindToMessage("done", function(id, count, sum)
        assert(not reported[id], "actor " .. id .. " reported twice")
        assert(count == MSGS, "actor " .. id .. " got " .. count .. " messages")
        assert(sum == MSGS * (MSGS + 1) // 2 + id * MSGS, "actor " .. id .. " bad sum " .. sum)
        reported[id] = true
        n = n + 1
        if n == ACTORS then print("OK") end
    end)
]])

local worker_source = string.format("local MSGS = %d", MSGS) .. [[
    local me = script:GetActor()
    local id = tonumber(me.Name:match("%d+"))
    local count, sum = 0, 0
    me:BindToMessageParallel("m", function(i, tag)
        assert(tag == id, "message for " .. tostring(tag) .. " delivered to " .. id)
        count = count + 1
        assert(i == count, "actor " .. id .. ": message " .. i .. " arrived as #" .. count)
        sum = sum + i + tag
        if count == MSGS then workspace.Collector:SendMessage("done", id, count, sum) end
    end)
]]
local actors = {}
local folder = Instance.new("Folder")
folder.Name = "Workers"
for id = 1, ACTORS do
    actors[id] = U.actor("W" .. id, worker_source, folder)
end
folder.Parent = workspace -- all 1,000 start in the next serial phase
for i = 1, MSGS do
    for id = 1, ACTORS do actors[id]:SendMessage("m", i, id) end
end
