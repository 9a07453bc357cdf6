-- ranks: 3
-- The job ends only when every rank is idle and no message is in flight
-- (SPEC 13): a token goes round the ring 0 -> 1 -> 2 -> 0 twenty times,
-- each hop after a short wait, so every rank is idle, its main script
-- over, while the token travels; a burst of 500 messages rides along each
-- lap. Rank 0 prints OK after the last lap; all ranks then exit 0.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/lib/?.lua;" .. package.path
local U = require("util")
U.actor("Hop", [[
  local me = script:GetActor()
  local r, n = parlua.rank(), parlua.ranks()
  local next_hop = parlua.remote((r + 1) % n, "Workspace.Hop")
  local burst = 0
  me:BindToMessage("burst", function() burst = burst + 1 end)
  me:BindToMessage("token", function(lap)
    task.wait(0.01) -- idle with the token in hand: no message in flight
    if r == 0 then
      if lap == 20 then
        assert(burst == 59 * 500, "burst " .. burst) -- 3 hops a lap, 2 in the last
        print("OK")
        return
      end
      lap = lap + 1
    end
    for _ = 1, 500 do parlua.remote(0, "Workspace.Hop"):SendMessage("burst") end
    next_hop:SendMessage("token", lap)
  end)
  if r == 0 then next_hop:SendMessage("token", 1) end
]])
