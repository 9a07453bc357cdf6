-- options: --workers 1
-- An lthread's Lua state is reused by the next lthread (docs/lthreads.md,
-- "Start-up cost"), and nothing of the previous one shows: its globals,
-- its modules in package.loaded, the libraries it changed, the string
-- metatable, package.path, registry references, the collector's mode. A
-- state whose program set a finalizer or opened the debug library is
-- closed instead, so a finalizer never runs in another lthread's time.
-- One worker: consecutive lthreads run on it one after another, so each
-- takes the state the one before left (when it could be kept).
local function run(fn, opts) return go(fn, opts):result() end

-- 1. a program that changes everything it can reach without debug
run(function()
    leaked_global = "from the first lthread"
    math.leaked = 1
    string.leaked = function() return "leak" end
    table.insert = nil
    package.loaded.leaked_module = { secret = 42 }
    package.preload.leaked_preload = function() return "leak" end
    package.path = "/leaked/?.lua"
    package.searchers[#package.searchers + 1] = function() return "leak" end
    setmetatable(package.loaded, { __index = function() return "leak" end })
    collectgarbage("stop")
    coroutine.wrap(function() coroutine.yield() end)() -- a suspended coroutine left behind
    _G.print = function() error("leaked print") end
    _G.assert, package.config = nil, nil -- removed keys come back too
    getmetatable("").__index = { upper = function() return "leak" end }
end)

-- 2. the next one sees a state as new
local seen = run(function()
    local out = {}
    local function check(name, ok) if not ok then out[#out + 1] = name end end
    check("global", rawget(_G, "leaked_global") == nil)
    check("math", math.leaked == nil)
    check("string", string.leaked == nil and ("ab"):upper() == "AB")
    check("table.insert", type(table.insert) == "function")
    check("package.loaded", package.loaded.leaked_module == nil)
    check("package.preload", package.preload.leaked_preload == nil)
    check("package.path", not package.path:find("/leaked/", 1, true))
    check("searchers", #package.searchers == 4)
    check("loaded metatable", getmetatable(package.loaded) == nil or
        getmetatable(package.loaded).__index ~= nil and package.loaded.nothing_here == nil)
    check("collector", collectgarbage("isrunning"))
    check("print", not pcall(string.dump, print))
    check("assert", type(assert) == "function" and type(package.config) == "string")
    return table.concat(out, ", ")
end)
assert(seen == "", "the second lthread saw the first one's: " .. seen)

-- 3. states are reused at all (one worker: the same state each time), and
--    a state that was kept still runs a full program
local firsts = {}
for i = 1, 20 do
    firsts[i] = run(function() return tostring(_G) end)
end
local distinct = {}
for _, s in ipairs(firsts) do distinct[s] = true end
local n = 0
for _ in pairs(distinct) do n = n + 1 end
assert(n < 20, "no state was reused: " .. n .. " different _G for 20 lthreads")

-- 4. a finalizer of a program's never runs in the next lthread: its state
--    is closed (the finalizer runs then, in its own time)
local log = SharedTable.new({ n = 0 })
local marks = {}
for i = 1, 5 do
    marks[i] = run(function()
        local me = args_i
        setmetatable({}, { __gc = function()
            SharedTable.increment(log, "n", 1)
            log["in" .. me] = rawget(_G, "running_lthread")
        end })
        running_lthread = me
        return me
    end, { globals = { args_i = i, log = log } })
end
-- an lthread's result is out before its state closes: wait for the last
for _ = 1, 500 do
    if log.n == 5 then break end
    task.wait(0.01)
end
assert(log.n == 5, "finalizers ran " .. tostring(log.n) .. " times, expected 5")
for i = 1, 5 do
    local v = log["in" .. i]
    assert(v == nil or v == i, "lthread " .. i .. "'s finalizer ran in lthread " .. tostring(v))
end

-- 4b. a finalizer given through a metatable made in C (getmetatable of a
--     file, of a SharedTable): the state is not kept, so the finalizer
--     never runs in a later lthread (a reset's collection ran it there,
--     after _G was put back)
run(function()
    local G = _G
    getmetatable(io.stdout).__gc = function() rawset(G, "leaked", true) end
    local _ = io.tmpfile() -- garbage with that finalizer
end)
for _ = 1, 5 do
    task.wait(0.02) -- the state is back in the pool (when it was kept)
    local leaked = run(function() return rawget(_G, "leaked") end)
    assert(leaked == nil, "a finalizer of an earlier lthread ran here: leaked = " .. tostring(leaked))
end

-- 4c. files an lthread left open are closed (and flushed) when it ends
local path = os.tmpname()
run(function() local f = io.open(path, "w") f:write("written") end, { globals = { path = path } })
for _ = 1, 100 do
    local f = io.open(path)
    local got = f:read("a")
    f:close()
    if got == "written" then break end
    task.wait(0.01)
end
local f = io.open(path)
assert(f:read("a") == "written", "a file left open by an lthread was not flushed")
f:close()
os.remove(path)

-- 4d. the collector's settings do not carry over
run(function() collectgarbage("generational", 50, 300) end)
assert(run(function() return collectgarbage("incremental") end) == "incremental",
    "the collector's mode carried over into the next lthread")

-- 5. after debug was opened, the state is not kept either: a hook set on
--    the state's main thread (which new coroutines inherit) does not reach
--    the next lthread's body (under ThreadSanitizer the runtime's own hook
--    shows as "external hook": not a function)
run(function() debug.sethook(debug.getregistry()[1], function() end, "l") end)
assert(type(run(function() return debug.gethook() end)) ~= "function",
    "a hook survived into the next lthread")
-- 6. a program that could not reach the library tables (no globals, no
--    library function, no shared object in its start, no file, no
--    library made on first use) gets a reset that walks the registry
--    only; each of these ways in makes the reset walk every table
local function left_behind(fn, opts)
    run(fn, opts)
    for _ = 1, 3 do
        task.wait(0.02) -- the state is back in the pool
        local seen = run(function()
            return rawget(_G, "leaked") or rawget(package.loaded, "leaked") or rawget(_G, "string")
                or rawget(package.loaded, "string")
        end)
        if seen ~= nil then return seen end
    end
end
local ld, G = load, _G
local function set_global() leaked = "by a function with _ENV" end
local chunk = os.tmpname()
local cf = assert(io.open(chunk, "w"))
cf:write("leaked = 'by a file'\n")
cf:close()
local ways = {
    ["a library function"] = { function() ld("leaked = 'by load'")() end },
    ["a library function (module)"] = { function() ld("package.loaded.leaked = 1")() end },
    ["the globals table"] = { function() G.leaked = "through _G" end },
    ["a function with _ENV"] = { function() set_global() end },
    ["globals"] = { function() end, { globals = { leaked = "by globals" } } },
    ["a file"] = { chunk },
    ["a string method"] = { function() return ("x"):upper() end },
    ["string arithmetic"] = { function() return "1" + 1 end },
}
local leaks = {}
for name, way in pairs(ways) do
    local seen = left_behind(way[1], way[2])
    if seen ~= nil then leaks[#leaks + 1] = name .. ": " .. tostring(seen) end
end
assert(#leaks == 0, "the next lthread saw what was left after " .. table.concat(leaks, "; "))
os.remove(chunk)
-- a body stopped in the middle is dropped with its registry reference,
-- which that reset must take out too: else each such lthread would leave
-- its thread in the state (here a run of them, then what the state holds)
local fresh = run(function() return collectgarbage("count") end)
for _ = 1, 30 do
    local h = go(function() while true do end end)
    task.wait(0.005) -- running: it is stopped, not just never started
    h:cancel()
    h:wait_result()
end
task.wait(0.02)
local held = run(function() return collectgarbage("count") end)
assert(held < fresh + 8, "stopped lthreads left " .. (held - fresh) .. " KB in their state")
-- and one that cannot reach them still runs (its state reused) as new
for i = 1, 20 do
    local t = { n = i }
    assert(run(function() local s = 0 for k = 1, t.n do s = s + k end return s end) == i * (i + 1) // 2)
end
assert(run(function() return rawget(_G, "string") == nil and getmetatable("").__index ~= nil end))

print("OK")
