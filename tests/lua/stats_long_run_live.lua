-- An actor stuck in an endless parallel loop gets its long-run warning
-- while it is still running (with --fps), not only when the run ends (it
-- never does). A first SIGINT then says which actor keeps the frame from
-- ending; the second ends the process at once.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local script, err = os.tmpname(), os.tmpname()
local f = assert(io.open(script, "w"))
f:write([[
local a = Instance.new("Actor")
a.Name = "Stuck"
local s = Instance.new("Script")
s.Source = "task.desynchronize() while true do end"
s.Parent = a
a.Parent = workspace
]])
f:close()
local sh = table.concat({
    C.quote(C.exe) .. " --fps 100 --frame-budget 50 " .. script .. " >/dev/null 2>" .. err ..
        " </dev/null & p=$!",
    -- up to 10 s for the warning (about 50 ms are enough)
    "i=0; while ! grep -q warning " .. err .. " && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done",
    "kill -INT $p",
    "i=0; while ! grep -q interrupted " .. err .. " && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done",
    "kill -INT $p; wait $p; echo status $?",
}, "\n")
local p = io.popen("sh -c " .. C.quote(sh))
local out = p:read("a")
p:close()
f = assert(io.open(err, "rb"))
local text = f:read("a")
f:close()
os.remove(err)
os.remove(script)
assert(text:find("parlua: warning: actor Workspace.Stuck has run %d+ ms in one parallel run " ..
    "%(budget 50 ms%)"), "no warning while the run goes on:\n" .. text)
assert(text:find("parlua: interrupted: waiting for actor Workspace.Stuck to end its parallel run",
    1, false), "the interrupt does not name the actor:\n" .. text)
assert(out:find("status 130"), out)
print("OK")
