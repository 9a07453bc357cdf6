-- modules.lua: "Actors and Modules", ported to parlua.
--
--   parlua examples/modules.lua
--
-- Three scripts require the same module file. Script1 (this file, in the
-- main VM) sets module.X = 1. Script2 is a second script in the main VM: it
-- gets the same table and sees X = 1. The third script runs under an Actor,
-- in that actor's own VM: require loads the module again there, so it gets
-- a different table and sees X = nil. Modules cannot carry data between
-- actors; send messages instead.
--
-- All three are this file: the original clones itself, as in the guide.

-- Each VM has its own package.path: find mymodule.lua next to this file.
package.path = (script.Path:match("^(.*)/") or ".") .. "/?.lua;" .. package.path

local module = require("mymodule")

if script:GetActor() then -- the clone under an Actor
  task.wait(0.1)
  print("Script under the Actor:", module.X) --> nil
elseif script.Name == "Script2" then -- the clone in the main VM
  task.wait(0.1)
  print("Script2:", module.X) --> 1
else -- Script1, the original
  local script2 = script:Clone()
  script2.Name = "Script2"
  script2.Parent = workspace -- starts in the main VM: no Actor above it

  local actor = Instance.new("Actor")
  script:Clone().Parent = actor
  actor.Parent = workspace -- the clone starts in the actor's VM

  module.X = 1
  print("Script1:", module.X) --> 1
end
