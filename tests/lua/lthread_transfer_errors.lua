-- What cannot cross fails at go() with an error naming it, and nothing
-- starts (SPEC 5, 7); bad options are refused the same way; results that
-- cannot cross make the lthread fail with that message.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

-- the message of the error fn(...) raises
local function err_of(fn, ...)
    local ok, e = pcall(fn, ...)
    assert(not ok, "expected an error")
    return tostring(e)
end

local co = coroutine.create(function() end)
local e = err_of(go, function() return co end)
assert(e:find("cannot transfer a value of type 'thread'", 1, true), e)
assert(e:find("upvalue 'co'", 1, true), e)

local f = io.tmpfile()
e = err_of(go, function() return f end)
assert(e:find("cannot transfer a value of type 'userdata'", 1, true), e)
f:close()

e = err_of(go, function() end, {globals = {ok = 1, bad = co}})
assert(e:find("'thread'", 1, true), e)
U.raises("go: the keys of 'globals' must be names (strings), got a number", go,
    function() end, {globals = {1}})
U.raises("go: unknown option grup (the options are globals, allow, group, name)", go,
    function() end, {grup = 1})
U.raises("go: option 'name' must be a string, got number", go, function() end, {name = 3})
e = err_of(go, 42)
assert(e:find("function or path of a Lua file expected, got number", 1, true), e)
e = err_of(go, function() end, {group = {}})
assert(e:find("LThreadGroup expected", 1, true), e)

-- a result that cannot cross: the lthread fails, saying why
local r, err = go(function() return coroutine.create(print) end):wait_result()
assert(r == nil and tostring(err):find("cannot transfer a value of type 'thread'"), tostring(err))
print("OK")
