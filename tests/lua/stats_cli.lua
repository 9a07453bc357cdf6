-- --stats (SPEC 9) prints a summary on stderr at exit, after the program's
-- own output, and leaves stdout alone: frames, wall time, the time of each
-- phase, each worker's utilisation, messages sent and delivered, lthreads,
-- the VMs that ran longest (by name) and peak memory per VM type.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")
local lib = arg[0]:match("^(.*)/") or "."

local code, out, err = C.run({ "--stats", "--workers", "2", lib .. "/lib/obs_workload.lua", "3", "0.005" })
assert(code == 0, "status " .. tostring(code) .. ": " .. err)
assert(out == "", "stdout: " .. out)
local function has(pattern)
  assert(err:find(pattern), "no line matching " .. pattern .. " in:\n" .. err)
end
has("^parlua %-%-stats\n")
has("\n  wall time +[%d.]+ s +%d+ frames, %d+ with a parallel phase\n")
has("\n  serial phases +[%d.]+ s +[%d.]+%%\n")
has("\n  parallel phases +[%d.]+ s +[%d.]+%%\n")
has("\n    worker 1 +[%d.]+ s +[%d.]+%% of parallel phases +%d+\n")
has("\n    worker 2 +[%d.]+ s +[%d.]+%% of parallel phases +%d+\n")
-- 6 "work" messages from main, 3 "from_a" from A: all delivered
has("\n  messages +9 sent, 9 delivered\n")
has("\n  lthreads run +0 %(0 on a reused state; 0 full collections at resets%)\n")
has("\n  long runs +0 parallel runs over the 100 ms budget\n")
has("\n    Workspace%.A +[%d.]+ +[%d.]+ +[%d.]+ +%d+ +3 +3 ")
has("\n    Workspace%.B +[%d.]+ +[%d.]+ +[%d.]+ +%d+ +0 +6 ")
has("\n    main +[%d.]+ +[%d.]+ +[%d.]+ +%d+ +6 +0 ")
has("\n    main +1 VM +largest peak [%d.]+ [KM]?B")
has("\n    actor +2 VMs +largest peak [%d.]+ [KM]?B, sum of peaks")
has("\n    lthread +0 VMs")

-- without --stats: nothing on stderr
code, out, err = C.run({ "--workers", "2", lib .. "/lib/obs_workload.lua", "1", "0" })
assert(code == 0 and err == "", "without --stats: " .. err)
print("OK")
