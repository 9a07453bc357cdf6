-- go(path) runs the Lua file at path in a new VM, with the globals given
-- (SPEC 7); a missing file fails the lthread, saying so.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local dir = arg[0]:match("^(.*)/") or "."
local path = os.tmpname()
local f = assert(io.open(path, "w"))
f:write("return INPUT * 2, parlua.phase()\n")
f:close()
local v, phase = go(path, {globals = {INPUT = 21}}):result()
os.remove(path)
assert(v == 42 and phase == "lthread")
local r, err = go(dir .. "/no/such/file.lua"):wait_result()
assert(r == nil and err:find("cannot start the lthread: cannot open", 1, true), tostring(err))
print("OK")
