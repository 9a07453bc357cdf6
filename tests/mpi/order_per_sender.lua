-- ranks: 3
-- Order per sender across ranks (SPEC 13): ranks 1 and 2 each run two
-- senders (the main VM, serial, and an actor, parallel) that send 2,000
-- numbered messages each to rank 0's Receiver, on a serial and a parallel
-- topic; every sender's messages arrive in the order sent.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/lib/?.lua;" .. package.path
local U = require("util")
local N = 2000
assert(parlua.ranks() == 3, "run with 3 ranks")
local src = string.format("local N = %d ", N)
if parlua.rank() == 0 then
  U.actor("Receiver", src .. [[
    local me = script:GetActor()
    local next_seq, total = {}, 0
    local function handler(topic, phase)
      return function(sender, seq)
        assert(parlua.phase() == phase)
        local key = topic .. "/" .. sender
        local want = next_seq[key] or 1
        assert(seq == want, string.format("%s: got #%d, expected #%d", key, seq, want))
        next_seq[key] = want + 1
        total = total + 1
        if total == 2 * 4 * N then
          task.synchronize()
          print("OK")
        end
      end
    end
    me:BindToMessage("s", handler("s", "serial"))
    me:BindToMessageParallel("p", handler("p", "parallel"))
  ]])
else
  U.actor("Sender", src .. [[
    local to = parlua.remote(0, "Workspace.Receiver")
    local name = "actor" .. parlua.rank()
    task.desynchronize()
    for i = 1, N do
      to:SendMessage("s", name, i)
      to:SendMessage("p", name, i)
    end
  ]])
  local to = parlua.remote(0, "Workspace.Receiver")
  local name = "main" .. parlua.rank()
  for i = 1, N do
    to:SendMessage("p", name, i)
    to:SendMessage("s", name, i)
  end
end
