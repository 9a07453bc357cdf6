-- ranks: 3
-- Replies through a sent Actor (SPEC 13): rank 0 sends its Asker actor to
-- rank 1, which forwards the RemoteActor it received (and its own actor) to
-- rank 2; rank 2 answers rank 0 through the forwarded reference and rank 1
-- through the other. A RemoteActor also crosses between VMs of one rank
-- as a reference (rank 1's main VM hands one to its actor).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/lib/?.lua;" .. package.path
local U = require("util")
local r = parlua.rank()
if r == 0 then
  U.actor("Asker", [[
    local me = script:GetActor()
    me:BindToMessage("answer", function(x, via)
      assert(x == 42, tostring(x))
      assert(via.Rank == 1 and via.Path == "Workspace.Relay", tostring(via))
      print("OK")
    end)
    parlua.remote(1, "Workspace.Relay"):SendMessage("ask", me, 21)
  ]])
elseif r == 1 then
  U.actor("Relay", [[
    local me = script:GetActor()
    local answerer
    me:BindToMessage("answerer", function(a) answerer = a end)
    me:BindToMessage("ask", function(asker, x)
      assert(asker.Rank == 0 and asker.Path == "Workspace.Asker")
      answerer:SendMessage("compute", asker, me, x)
    end)
    me:BindToMessage("done", function(n) assert(n == 1) end)
  ]])
  -- a RemoteActor made in the main VM crosses to the actor as a reference
  workspace.Relay:SendMessage("answerer", parlua.remote(2, "Workspace.Answerer"))
else
  U.actor("Answerer", [[
    script:GetActor():BindToMessage("compute", function(asker, relay, x)
      asker:SendMessage("answer", x * 2, relay)
      relay:SendMessage("done", 1)
    end)
  ]])
end
