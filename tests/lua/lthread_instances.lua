-- An lthread runs beside both phases, so of an Instance it may use only
-- SendMessage (and compare and pass Instances on): every other member,
-- read, write or call, raises an error saying so (SPEC 7).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local got = SharedTable.new()
local actor = U.actor("Sink", [[
    script.Parent:BindToMessage("put", function(st, v) st.v = v end)
]])
task.wait()
local rule = "cannot be used from an lthread (an lthread runs beside the frames and may only " ..
    "use SendMessage of an Instance): send a message to an actor instead"
local results = {go(function()
    actor:SendMessage("put", got, "sent")
    local out = {}
    local function try(fn)
        local ok, e = pcall(fn)
        out[#out + 1] = ok and "allowed" or tostring(e):gsub("^[^:]*:%d+: ", "")
    end
    try(function() return actor.Name end)
    try(function() actor.Name = "Other" end)
    try(function() return workspace:GetChildren() end)
    try(function() return actor:GetAttribute("x") end)
    try(function() return actor.Parent end)
    return out, actor == actor, rawequal(actor, actor)
end):result()}
local out, eq, raweq = results[1], results[2], results[3]
assert(eq and raweq, "Instances compare in an lthread")
local members = {"Instance.Name", "Instance.Name", "Instance.GetChildren", "Instance.GetAttribute",
    "Instance.Parent"}
for i, member in ipairs(members) do
    assert(out[i] == member .. " " .. rule, out[i])
end
for _ = 1, 100 do
    if got.v then break end
    task.wait()
end
assert(got.v == "sent", "SendMessage works from an lthread")
assert(actor.Name == "Sink")
print("OK")
