-- task.wait() and task.wait(0) resume at the next frame (SPEC 1.4), not in
-- the same one: a Heartbeat handler (one call per frame) runs between the
-- call and the resume, and a thread deferred before the wait runs before the
-- waiting thread resumes.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local RunService = game:GetService("RunService")
local beats = 0
local conn = RunService.Heartbeat:Connect(function() beats = beats + 1 end)

local log = {}
task.defer(function() log[#log + 1] = "deferred" end)
task.wait()
log[#log + 1] = "resumed"
assert(table.concat(log, ",") == "deferred,resumed", table.concat(log, ","))

-- every wait spans a frame boundary: the Heartbeat fires (once per frame)
-- between each call and its resume
local b0 = beats
for i = 1, 20 do
    local before = beats
    if i % 2 == 0 then task.wait() else task.wait(0) end
    assert(beats > before, "task.wait() resumed in the same frame (wait " .. i .. ")")
end
assert(beats - b0 >= 20, "heartbeats during 20 waits: " .. beats - b0)
conn:Disconnect()
print("OK")
