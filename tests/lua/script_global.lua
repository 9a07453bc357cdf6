-- `script` and the globals (SPEC 1.2, 2.2): every chunk's _ENV is the VM's
-- globals table, as in lua5.4 (_ENV == _G, _G has no metatable), and
-- `script` is a plain global naming the Script of the running thread: seen
-- as `script`, `_G.script`, through load() and in module code; spawned
-- threads and handlers keep their own Script while several Scripts of one
-- VM interleave; a strict-mode metatable on _G still sees it.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

assert(_ENV == _G, "the main script's _ENV is not _G")
assert(getmetatable(_G) == nil, "_G has a metatable")
assert(script.Name == "script_global")
assert(_G.script == script and rawget(_G, "script") == script)
assert(load("return script")() == script, "load() does not see script")
local m = require("script_module")
assert(m.script == script and m.env_is_G, "module code does not see script or _G")

-- Two Scripts in one actor: their handlers and spawned threads interleave
-- (each waits a frame in the middle) and each keeps seeing its own Script.
local N = 20
local body = string.format("local N = %d\n", N) .. [[
    assert(_ENV == _G and getmetatable(_G) == nil, "an actor script's _ENV is not _G")
    local me = script
    assert(require("script_module").env_is_G)
    local handled = 0
    script:GetActor():BindToMessage("ping", function()
        assert(script == me, "a handler sees " .. tostring(script) .. ", not " .. me.Name)
        task.wait()
        assert(script == me, "a resumed handler sees " .. tostring(script))
        handled = handled + 1
        if handled == N then U.signal(me.Name .. " handled") end
    end)
    task.spawn(function()
        for _ = 1, 5 do
            assert(script == me and load("return script")() == me)
            task.wait()
        end
        U.signal(me.Name .. " spawned")
    end)
    U.signal(me.Name .. " bound")
]]
local actor = U.actor("Pair", body, false)
local second = Instance.new("Script")
second.Name = "Second"
second.Source = U.prelude() .. body
second.Parent = actor
actor.Parent = workspace
for _, name in ipairs({ "PairScript", "Second" }) do U.wait_signal(name .. " bound") end
for i = 1, N do actor:SendMessage("ping", i) end
for _, name in ipairs({ "PairScript", "Second" }) do
    U.wait_signal(name .. " spawned")
    U.wait_signal(name .. " handled")
end

-- A thread spawned by the main script is the main script's.
local seen
task.spawn(function() seen = script end)
assert(seen == script)

-- Strict mode (a metatable on _G that rejects undeclared globals) still
-- sees `script`: it is a real global.
setmetatable(_G, {
    __index = function(_, k) error("undeclared global " .. tostring(k), 2) end,
})
assert(script.Name == "script_global")
local ok, err = pcall(function() return undeclared_global end)
assert(not ok and err:find("undeclared global undeclared_global", 1, true))
task.wait()
assert(script.Name == "script_global", "script lost after a wait under strict mode")
print("OK")
