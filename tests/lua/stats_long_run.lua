-- An actor whose single parallel run takes longer than the frame budget
-- (--frame-budget MS, default 100 ms) gets one warning on stderr, naming it,
-- the rule and the fix, however often it happens (each time is counted in
-- parlua.stats().long_runs); a quick actor gets none; --frame-budget 0 turns
-- the warning off.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write([[
local function actor(name, spin)
  local a = Instance.new("Actor")
  a.Name = name
  local s = Instance.new("Script")
  s.Source = "script:GetActor():BindToMessageParallel('go', function() " ..
    "local t = time() while time() - t < " .. spin .. " do end end)"
  s.Parent = a
  a.Parent = workspace
  return a
end
local slow, quick = actor("Slow", 0.06), actor("Quick", 0.001)
task.wait() -- let them bind: then each message is one run
for _ = 1, 3 do
  slow:SendMessage("go")
  quick:SendMessage("go")
  task.wait()
end
task.wait()
print("long_runs", parlua.stats().long_runs)
]])
f:close()

local function lines(s, pattern)
  local n = 0
  for line in s:gmatch("[^\n]+") do if line:find(pattern) then n = n + 1 end end
  return n
end

local code, out, err = C.run({ "--frame-budget", "20", script })
assert(code == 0, err)
assert(lines(err, "^parlua: warning: actor Workspace%.Slow ran %d+ ms in one parallel run %(budget 20 ms%): " ..
  "a long parallel run blocks the frame; split the work") == 1, "one warning for Slow:\n" .. err)
assert(lines(err, "Quick") == 0, "no warning for Quick:\n" .. err)
assert(lines(err, "warning") == 1, err)
assert(out:find("long_runs\t[23]\n"), out) -- 3 unless two messages shared a run

-- the default budget (100 ms) is not reached
code, out, err = C.run({ script })
assert(code == 0 and err == "" and out:find("long_runs\t0"), err)
-- 0 turns it off
code, out, err = C.run({ "--frame-budget", "0", script })
assert(code == 0 and err == "" and out:find("long_runs\t0"), err)
os.remove(script)
print("OK")
