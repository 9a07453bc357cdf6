-- ranks: 2
-- An uncaught error on rank 1 fails the job (SPEC 13): rank 1 exits 1 and
-- its report names the rank; rank 0 still finishes its work (it prints OK
-- after rank 1's message), and mpirun's status is 1.
-- expect-status: 1
-- expect-stdout: ^OK$
-- expect-stderr: ^parlua\[rank 1\]: uncaught error in main: .*error_on_rank1.lua:[0-9]+: boom on rank 1
package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/lib/?.lua;" .. package.path
local U = require("util")
if parlua.rank() == 0 then
  U.actor("Waiter", [[
    script:GetActor():BindToMessage("before", function() print("OK") end)
  ]])
else
  parlua.remote(0, "Workspace.Waiter"):SendMessage("before")
  error("boom on rank 1")
end
