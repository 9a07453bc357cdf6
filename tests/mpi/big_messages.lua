-- ranks: 2
-- Big messages both ways at once: each rank's actor sends 16 messages of
-- 1 MiB (a string and a table of 10,000 entries) to the other's, from an
-- lthread too; MPI's rendezvous transfers meet in the two communication
-- threads and nobody waits for the other. Each side checks every byte.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/lib/?.lua;" .. package.path
local U = require("util")
U.actor("Big", [[
  local me = script:GetActor()
  local r = parlua.rank()
  local other = parlua.remote(1 - r, "Workspace.Big")
  local got = 0
  me:BindToMessageParallel("big", function(i, s, t, from)
    assert(s == string.format("%08d", i) .. string.rep(string.char(65 + i % 26), 1048576 - 8),
      "string " .. i)
    assert(#t == 10000 and t[1] == i and t[10000] == i + 9999, "table " .. i)
    assert(from == 1 - r)
    got = got + 1
    if got == 16 then
      task.synchronize()
      if r == 0 then print("OK") end
    end
  end)
  local function payload(i)
    local t = {}
    for k = 1, 10000 do t[k] = i + k - 1 end
    return string.format("%08d", i) .. string.rep(string.char(65 + i % 26), 1048576 - 8), t
  end
  for i = 1, 12 do
    local s, t = payload(i)
    other:SendMessage("big", i, s, t, r)
  end
  -- the last four from an lthread: the reference crosses to it as an upvalue
  local ref, rank = other, r
  local lt = go(function()
    for i = 13, 16 do
      local t = {}
      for k = 1, 10000 do t[k] = i + k - 1 end
      ref:SendMessage("big", i,
        string.format("%08d", i) .. string.rep(string.char(65 + i % 26), 1048576 - 8), t, rank)
    end
    return true
  end)
  assert(lt:result())
]])
