-- Without mpirun a program is rank 0 of 1 (SPEC 13): parlua.remote(0, path)
-- works as on any rank (a loopback, the same encoding: a SharedTable
-- arrives as a frozen copy, an Actor as a RemoteActor), a rank past 0 is
-- refused, and a path with no Actor is reported at exit.
-- expect-stderr: ^parlua: 1 message sent with parlua.remote was never delivered: no Actor at the path on this rank \(e.g. topic "nobody" from rank 0 to "Workspace.Missing": no instance has that path\)
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
assert(parlua.rank() == 0 and parlua.ranks() == 1)
U.raises_with("parlua.remote: rank 1 is out of range: this job has 1 rank (0 to 0",
  parlua.remote, 1, "Workspace.A")
U.actor("Echo", [[
  script:GetActor():BindToMessage("echo", function(reply, st, phase)
    assert(SharedTable.isFrozen(st) and st.v == 1, "a frozen copy")
    assert(phase == parlua.phase())
    reply:SendMessage("back", st.v + 1)
  end)
]])
U.actor("Asker", [[
  local me = script:GetActor()
  me:BindToMessage("back", function(v) assert(v == 2); print("OK") end)
  local st = SharedTable.new({v = 1})
  local echo = parlua.remote(0, "Workspace.Echo")
  assert(echo == parlua.remote(0, "Workspace.Echo"), "== by rank and path")
  echo:SendMessage("echo", me, st, "serial")
  st.v = 5
]])
parlua.remote(0, "Workspace.Missing"):SendMessage("nobody")
