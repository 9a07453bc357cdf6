-- expect-status: 1
-- expect-stdout: ^handled 1,3,4 serial; 1,3,4 parallel$
-- expect-stderr: Handler.*boom in serial handler 2
-- expect-stderr: Handler.*boom in parallel handler 2
-- expect-stderr: ^stack traceback:
-- An uncaught error in a message callback (serial and parallel) is reported
-- with the VM's name, the message and a traceback; the binding stays, the
-- following messages are still delivered; exit status 1.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local h = U.actor("Handler", [[
    local me = script:GetActor()
    local done = { serial = {}, parallel = {} }
    local function finish()
        if #done.serial == 3 and #done.parallel == 3 then
            task.synchronize()
            print("handled " .. table.concat(done.serial, ",") .. " serial; "
                .. table.concat(done.parallel, ",") .. " parallel")
        end
    end
    me:BindToMessage("m", function(i)
        if i == 2 then error("boom in serial handler 2") end
        table.insert(done.serial, i)
        finish()
    end)
    me:BindToMessageParallel("m", function(i)
        if i == 2 then error("boom in parallel handler 2") end
        table.insert(done.parallel, i)
        finish()
    end)
]])
for i = 1, 4 do h:SendMessage("m", i) end
