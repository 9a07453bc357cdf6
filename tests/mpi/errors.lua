-- ranks: 2
-- What cannot cross ranks raises at SendMessage, naming the value, the rule
-- and the fix (SPEC 13): sync objects, lthread handles, Instances that are
-- not Actors, an Actor out of the game; nothing is sent then. A rank out
-- of range raises at parlua.remote. A message to a path with no Actor on
-- the target rank is reported at exit like an undelivered message.
-- expect-stderr: ^parlua\[rank 1\]: 2 messages sent with parlua.remote were never delivered: no Actor at the path on this rank \(e.g. topic "lost" from rank 0 to "Workspace.Nobody": no instance has that path\)
package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/lib/?.lua;" .. package.path
local U = require("util")
if parlua.rank() == 1 then
  U.actor("Target", [[
    script:GetActor():BindToMessage("ok", function(n) assert(n == 1) end)
  ]])
  local f = Instance.new("Folder")
  f.Name = "NotAnActor"
  f.Parent = workspace
  return
end
local to = parlua.remote(1, "Workspace.Target")
local function refused(part, ...)
  U.raises_with('SendMessage to actor "Workspace.Target" on rank 1: ' .. part,
    to.SendMessage, to, "x", ...)
end
refused("cannot send a Mutex to another rank: sync objects and lthread handles live in one process",
  sync.Mutex())
refused("cannot send a Queue to another rank", {q = sync.Queue()})
local lt = go(function() return 1 end)
refused("cannot send a LThread to another rank", lt)
lt:result()
local folder = Instance.new("Folder")
folder.Name = "F"
folder.Parent = workspace
refused('cannot send the Instance "F" to another rank: only Actors cross ranks', folder)
local loose = Instance.new("Actor")
loose.Name = "Loose"
refused('cannot send the Actor "Loose" to another rank: it is not in the game', loose)
U.raises_with("cannot transfer a value of type 'thread' (argument 2 to SendMessage)",
  to.SendMessage, to, "x", coroutine.create(print))
U.raises_with("parlua.remote: rank 2 is out of range: this job has 2 ranks (0 to 1",
  parlua.remote, 2, "Workspace.Target")
U.raises_with("parlua.remote: rank -1 is out of range", parlua.remote, -1, "Workspace.Target")
U.raises_with("'BindToMessage' is not a member of RemoteActor", function()
  return to.BindToMessage
end)
to:SendMessage("ok", 1)
parlua.remote(1, "Workspace.Nobody"):SendMessage("lost", 1)
parlua.remote(1, "Workspace.NotAnActor"):SendMessage("lost too", 2)
print("OK")
