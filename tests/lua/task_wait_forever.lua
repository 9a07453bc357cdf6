-- task.wait(math.huge), the park-forever idiom, and any delay too far to
-- ever come (1e300 s, task.delay included) park the thread for good: the
-- runtime does not spin meanwhile (it sleeps while a real timer is due),
-- such a thread is never resumed, and it does not keep the runtime alive:
-- once nothing else can happen the program ends by itself, status 0, with
-- nothing on stderr (it asked to wait forever: not a stuck thread).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write([[
task.spawn(function() task.wait(math.huge) print("resumed!") end)
task.spawn(function() task.wait(1e300) print("resumed!") end)
task.delay(math.huge, function() print("delayed!") end)
task.delay(1e300, function() print("delayed!") end)
local a = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = "task.desynchronize() task.wait(math.huge) print('resumed!')"
s.Parent = a
a.Parent = workspace
task.wait()
local cpu0, wall0 = os.clock(), time()
task.wait(0.3)
local cpu, wall = os.clock() - cpu0, time() - wall0
print(string.format("cpu %.3f wall %.3f", cpu, wall))
assert(cpu < 0.25 * wall, "the runtime spun while threads were parked forever")
print("done")
]])
f:close()

local t0 = os.time()
local code, out, err = C.run({ "--frame-budget", "0", script })
os.remove(script)
assert(code == 0, "exit status " .. tostring(code) .. "\n" .. err)
assert(err == "", "stderr: " .. err)
assert(out:find("done\n$"), out)
assert(not out:find("resumed") and not out:find("delayed"), out)
assert(os.time() - t0 < 10, "the program did not end by itself")
print("OK")
