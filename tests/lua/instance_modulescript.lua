-- ModuleScript (SPEC 2.1): require(moduleScript) runs it once per VM and
-- caches its value there (each actor gets its own); inside, `script` is the
-- ModuleScript; Source or Path; errors and wrong returns are named; a
-- module that raised is run again by the next require.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local mod = Instance.new("ModuleScript")
mod.Name = "Counter"
mod.Source = [[
  runs = (runs or 0) + 1 -- a global of the VM: counts runs per VM
  return { runs = runs, me = script, phase = parlua.phase() }
]]
mod.Parent = workspace
local a = require(mod)
local b = require(mod)
assert(a == b and a.runs == 1, "ran twice in one VM")
assert(a.me == mod, "script is not the ModuleScript inside it")
assert(script.ClassName == "Script", "script not restored after require")
assert(require("util") == U, "plain require broke")

local fromfile = Instance.new("ModuleScript")
fromfile.Path = U.LIB .. "/counter_module.lua"
assert(type(require(fromfile)) == "table")

U.actor("User", [[
  local m = require(workspace.Counter)
  assert(m.runs == 1, "the actor's VM did not run its own copy")
  task.desynchronize()
  assert(require(workspace.Counter) == m) -- cached, also in parallel
  task.synchronize()
  U.signal("UserDone")
]])
U.wait_signal("UserDone")
assert(require(mod).runs == 1)

local bad = Instance.new("ModuleScript")
bad.Source = "return 1, 2"
U.raises_with("returned 2 values (module code must return exactly one value)", function() require(bad) end)
local failing = Instance.new("ModuleScript")
failing.Source = "n = (n or 0) + 1; if n == 1 then error('first time fails') end; return n"
U.raises_with("first time fails", function() require(failing) end)
assert(require(failing) == 2, "a module that raised was cached")
local cyc = Instance.new("ModuleScript")
cyc.Name = "Cyc"
cyc.Source = "return require(script)"
U.raises_with("was required while it was still loading", function() require(cyc) end)
U.raises_with("expected a ModuleScript or a module name, got Folder", function() require(Instance.new("Folder")) end)
local syntax = Instance.new("ModuleScript")
syntax.Source = "return +"
U.raises_with("require:", function() require(syntax) end)
print("OK")
