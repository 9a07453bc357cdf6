-- ranks: 2
-- Ping-pong across ranks (SPEC 13): rank 0's Pinger sends "ping" with a
-- reply address (its own Actor, which arrives on rank 1 as a RemoteActor);
-- rank 1's Ponger answers through it. 200 round trips, then the job ends
-- by itself (the termination waves), every rank exiting 0.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/lib/?.lua;" .. package.path
local U = require("util")
local N = 200
assert(parlua.ranks() == 2, "run with 2 ranks")
if parlua.rank() == 1 then
  U.actor("Ponger", [[
    local me = script:GetActor()
    me:BindToMessage("ping", function(from, i)
      assert(tostring(from):match("^RemoteActor Workspace.Pinger on rank 0"), tostring(from))
      assert(from.Rank == 0 and from.Path == "Workspace.Pinger")
      from:SendMessage("pong", i, parlua.rank())
    end)
  ]])
else
  U.actor("Pinger", string.format("local N = %d", N) .. [[
    local me = script:GetActor()
    local ponger = parlua.remote(1, "Workspace.Ponger")
    local got = 0
    me:BindToMessage("pong", function(i, rank)
      assert(i == got + 1 and rank == 1)
      got = i
      if i < N then ponger:SendMessage("ping", me, i + 1) else print("OK") end
    end)
    ponger:SendMessage("ping", me, 1)
  ]])
end
