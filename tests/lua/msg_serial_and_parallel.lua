-- A topic bound both serial (BindToMessage) and parallel
-- (BindToMessageParallel): both callbacks get every message, each in its
-- own phase, with the same arguments (SPEC 3). Messages come from the main
-- VM and from another actor's serial and parallel code.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local N = 300

U.actor("Both", string.format("local N = %d", N) .. [[
    local me = script:GetActor()
    local seen = { serial = {}, parallel = {} }
    local counts = { serial = 0, parallel = 0 }
    local function handler(phase)
        return function(id, payload)
            assert(parlua.phase() == phase, phase .. " callback ran in " .. parlua.phase())
            assert(payload == id .. "!", "payload " .. tostring(payload))
            assert(not seen[phase][id], phase .. " callback got " .. id .. " twice")
            seen[phase][id] = true
            counts[phase] = counts[phase] + 1
            if counts.serial == 3 * N and counts.parallel == 3 * N then
                for _, p in ipairs({ "serial", "parallel" }) do
                    for _, who in ipairs({ "main", "aser", "apar" }) do
                        for i = 1, N do assert(seen[p][who .. i], p .. " missed " .. who .. i) end
                    end
                end
                print("OK")
            end
        end
    end
    me:BindToMessage("t", handler("serial"))
    me:BindToMessageParallel("t", handler("parallel"))
    U.signal("bound")
]])

U.actor("Sender", string.format("local N = %d", N) .. [[
    U.wait_signal("bound")
    local both = workspace.Both
    for i = 1, N do both:SendMessage("t", "aser" .. i, "aser" .. i .. "!") end
    task.desynchronize()
    for i = 1, N do both:SendMessage("t", "apar" .. i, "apar" .. i .. "!") end
]])

U.wait_signal("bound")
for i = 1, N do workspace.Both:SendMessage("t", "main" .. i, "main" .. i .. "!") end
