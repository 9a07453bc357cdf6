-- expect-status: 2
-- expect-stderr: ^deadlock: 2 threads wait and nothing else can run:$
-- expect-stderr: actor Workspace.A waits at Workspace.A.AScript:[0-9]+ on Mutex#[0-9]+, held by actor Workspace.B \(itself waiting at Workspace.B.BScript:[0-9]+\)
-- expect-stderr: actor Workspace.B waits at Workspace.B.BScript:[0-9]+ on Mutex#[0-9]+, held by actor Workspace.A \(itself waiting at Workspace.A.AScript:[0-9]+\)
-- The classic lock-order inversion between two actors in the parallel phase
-- (SPEC 1.7): each holds one Mutex and waits for the other's. Nothing else
-- can run, so the runtime reports the wait-for chain and exits with 2
-- instead of hanging.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local a, b, ready = sync.Mutex(), sync.Mutex(), sync.Barrier(2)
for _, name in ipairs { "A", "B" } do
    U.actor(name, [[
        script:GetActor():BindToMessageParallel("go", function(first, second, ready)
            first:lock()
            ready:wait()
            second:lock()
        end)
    ]])
end
workspace.A:SendMessage("go", a, b, ready)
workspace.B:SendMessage("go", b, a, ready)
