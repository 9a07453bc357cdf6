-- An actor whose single parallel run takes longer than the frame budget
-- (--frame-budget MS, default 100 ms) gets one warning on stderr with --fps,
-- naming it, the rule and the fix, however often it happens (each time is
-- counted in parlua.stats().long_runs); a quick actor gets none. Without
-- --fps (a batch program, SPEC 9) there is one summary line at exit, even
-- with several slow actors. --frame-budget 0 turns the warning off.
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
local slow, slow2, quick = actor("Slow", 0.06), actor("Slow2", 0.04), actor("Quick", 0.001)
task.wait() -- let them bind: then each message is one run
for _ = 1, 3 do
  slow:SendMessage("go")
  slow2:SendMessage("go")
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

local code, out, err = C.run({ "--fps", "1000", "--frame-budget", "20", script })
assert(code == 0, err)
for _, name in ipairs({ "Slow", "Slow2" }) do
  assert(lines(err, "^parlua: warning: actor Workspace%." .. name .. " [a-z ]*r[au]n %d+ ms in one parallel run " ..
    "%(budget 20 ms%): a long parallel run blocks the frame; split the work") == 1,
    "one warning for " .. name .. ":\n" .. err)
end
assert(lines(err, "Quick") == 0, "no warning for Quick:\n" .. err)
assert(lines(err, "warning") == 2, err)
assert(out:find("long_runs\t[4-6]\n"), out) -- 6 unless two messages shared a run

-- a batch program: one summary line
code, out, err = C.run({ "--frame-budget", "20", script })
assert(code == 0, err)
assert(lines(err, "warning") == 1, "one line:\n" .. err)
assert(err:find("^parlua: warning: 2 actors had parallel runs over the 20 ms budget %([4-6] runs; " ..
  "longest: actor Workspace%.Slow, %d+ ms%)"), err)

-- the default budget (100 ms) is not reached
code, out, err = C.run({ script })
assert(code == 0 and err == "" and out:find("long_runs\t0"), err)
-- 0 turns it off
code, out, err = C.run({ "--frame-budget", "0", script })
assert(code == 0 and err == "" and out:find("long_runs\t0"), err)
os.remove(script)
print("OK")
