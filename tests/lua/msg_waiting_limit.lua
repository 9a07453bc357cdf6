-- options: --mailbox-limit 0.25
-- Past the memory bound on waiting messages (here --mailbox-limit 0.25 MiB),
-- SendMessage raises an error naming the actor, the topic (quoted safely),
-- the limit and the fix; messages under the limit still arrive once bound.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local a = U.actor("Sink", [[
    U.wait_signal("full")
    local n = 0
    script:GetActor():BindToMessage("big\0topic", function() n = n + 1 end)
    task.wait()
    assert(n > 100, "only " .. n .. " delivered")
    print("OK")
]])
local sent, err = 0, nil
while true do
    local ok, e = pcall(a.SendMessage, a, "big\0topic", string.rep("x", 100))
    if not ok then err = e; break end
    sent = sent + 1
    assert(sent < 1e6, "never refused")
end
assert(err:find('actor "Sink"', 1, true), err)
assert(err:find('topic "big\\0topic"', 1, true), err)
assert(err:find("limit 0.2 MiB", 1, true), err)
assert(err:find("BindToMessage", 1, true) and err:find("--mailbox-limit", 1, true), err)
assert(sent > 500 and sent < 3000, "refused after " .. sent)
U.signal("full")
