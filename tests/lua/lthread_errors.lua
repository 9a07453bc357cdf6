-- An lthread's error goes to whoever joins it (SPEC 1.6, 7): wait_result
-- returns it, result raises it with the lthread's traceback; error objects
-- keep their fields; timeouts return or raise a Timeout error.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local function inner() error("deep failure") end
local h = go(function() inner() end, {name = "worker"})
local r, err = h:wait_result()
assert(r == nil and err:match("lthread_errors.lua:%d+: deep failure$"), err)
local ok, e = pcall(h.result, h)
assert(not ok)
assert(e:find("deep failure\n[lthread 'worker'] stack traceback:", 1, true), e)
assert(e:find("in upvalue 'inner'", 1, true) or e:find("inner", 1, true), e)

-- a table error crosses as a table
local _, terr = go(function() error({code = 7, name = "MyError"}) end):wait_result()
assert(type(terr) == "table" and terr.code == 7 and terr.name == "MyError")
ok, e = pcall(function() return go(function() error({code = 8}) end):result() end)
assert(not ok and type(e) == "table" and e.code == 8)

-- error(42) keeps its number
_, terr = go(function() error(42) end):wait_result()
assert(terr == 42, tostring(terr))

-- timeouts
local slow = go(function() task.wait(0.3) return "late" end)
local v, terr2 = slow:wait_result(0.01)
assert(v == nil and terr2.name == "Timeout", tostring(terr2))
ok, e = pcall(slow.result, slow, 0)
assert(not ok and e.name == "Timeout")
assert(slow:done() == false)
assert(slow:result() == "late")
U.raises("LThread:wait_result: the timeout must be a number of seconds >= 0 (or nil to wait forever)",
    slow.wait_result, slow, -1)
print("OK")
