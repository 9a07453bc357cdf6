-- options: --workers 2
-- Libraries open on first use (docs/guide.md, "Libraries open on first
-- use"): a new VM makes string, math, task, Instance... only when code
-- names them, and no program can tell except by rawget/next on _G before
-- the first use. Each check runs in a fresh VM (an lthread) where it
-- matters that nothing was used yet.
local function fresh(fn, ...) return go(fn, { globals = { args = table.pack(...) } }):result() end

-- nothing but the base functions exists raw in a new VM...
assert(fresh(function()
    return rawget(_G, "math") == nil and rawget(_G, "string") == nil and rawget(_G, "task") == nil
        and rawget(_G, "print") ~= nil and rawget(_G, "go") ~= nil
end))
-- ...and every library is there when named
assert(fresh(function()
    return math.floor(2.5) == 2 and table.concat({ "a", "b" }) == "ab" and utf8.char(72) == "H"
        and type(os.time()) == "number" and type(io.write) == "function"
        and type(coroutine.isyieldable) == "function" and type(task.wait) == "function"
        and type(Instance.new) == "function" and type(SharedTable.new) == "function"
        and type(SharedTableRegistry.GetSharedTable) == "function" and type(sync.Mutex) == "function"
        and type(parallel.map) == "function" and type(parlua.stats) == "function"
        and type(game) == "userdata" and type(workspace) == "userdata"
        and rawget(_G, "math") ~= nil
end))

-- package too: require works before package is named, and makes it; a
-- require the program set itself is not replaced when package is made;
-- the search path an lthread was given is package.path once it is made
assert(fresh(function() return rawget(_G, "package") == nil end))
assert(fresh(function()
    local ok = pcall(require, "no.such.module")
    return not ok and rawget(_G, "package") ~= nil and package.loaded.package == package
        and package.loaded._G == _G and type(package.searchers[1]) == "function"
end))
assert(fresh(function()
    local mine = function() return "mine" end
    require = mine
    return package.path ~= nil and require == mine and require("x") == "mine"
end))
package.path = "/first/use/?.lua;" .. package.path
assert(fresh(function() return package.path end) == package.path)
assert(fresh(function() local r = require; local ok, e = pcall(r, "zz_absent") return e end)
    :find("/first/use/zz_absent.lua", 1, true), "the lthread's require searched its given path")

-- methods on strings work before `string` was named; getmetatable("") is
-- the real string metatable
assert(fresh(function() return ("ab"):upper() end) == "AB")
assert(fresh(function() return getmetatable("").__index == string end))

-- require finds a library not opened yet; the global is the same table
assert(fresh(function() return require("math") == math and package.loaded.table == table end))

-- assigning a library's global cancels it: it does not come back
assert(fresh(function()
    math = nil
    local again = math
    string = "mine"
    return again == nil and string == "mine" and require("math").pi > 3
end))

-- pairs(_G) lists every library, whether it was used or not
local names = fresh(function()
    local seen = {}
    for k in pairs(_G) do seen[#seen + 1] = k end
    return table.concat(seen, " ")
end)
for _, lib in ipairs({ "string", "math", "table", "io", "os", "coroutine", "utf8", "task",
    "Instance", "game", "workspace", "SharedTable", "SharedTableRegistry", "sync", "parallel",
    "parlua", "print", "go" }) do
    assert((" " .. names .. " "):find(" " .. lib .. " ", 1, true), lib .. " missing from pairs(_G)")
end

-- a program that keeps reading absent globals (`if DEBUG then` in a loop)
-- gets every library made and a plain _G, so those reads cost what they
-- cost in lua5.4
assert(fresh(function()
    local before = rawget(_G, "utf8") == nil
    for _ = 1, 1000 do if NOT_DEFINED_ANYWHERE then error("defined?") end end
    return before and rawget(_G, "utf8") ~= nil and rawget(_G, "sync") ~= nil
end))

-- pairs(_G) hands out base's next, as in lua5.4
assert(fresh(function() return pairs(_G) == next and pairs(package.loaded) == next end))

-- _G shows no metatable, and a program's own (strict mode) replaces nothing
assert(fresh(function() return getmetatable(_G) == nil end))
assert(fresh(function()
    setmetatable(_G, {
        __index = function(_, k) error("undeclared global '" .. tostring(k) .. "'", 2) end,
        __newindex = function(_, k) error("assignment to undeclared global '" .. k .. "'", 2) end,
    })
    local ok, err = pcall(function() return undeclared_thing end)
    return not ok and err:find("undeclared global 'undeclared_thing'") and math.max(1, 2) == 2
        and task ~= nil and getmetatable(_G).__index ~= nil
end))

-- package.loaded shows no metatable either, and a program's own keeps
-- require finding every library
assert(fresh(function()
    local hidden = getmetatable(package.loaded) == nil
    setmetatable(package.loaded, { __index = function() return nil end })
    return hidden and require("utf8").char(65) == "A" and require("sync") == sync
end))

-- strings convert in arithmetic before `string` was named (Lua 5.4 does it
-- through the string metatable)
assert(fresh(function() return "10" + 1 == 11 and -"3" == -3 and 7 // "2" == 3 end))

-- a global the program set raw is not replaced by the library
assert(fresh(function() rawset(_G, "math", 5) for _ in pairs(_G) do end return math end) == 5)
assert(go(function() for _ in pairs(_G) do end return math end, { globals = { math = 5 } }):result() == 5)

-- `package.loaded.math = nil` forgets math, as in lua5.4
assert(fresh(function() package.loaded.math = nil return not pcall(require, "math") end))

-- a C function sent to a VM that has not opened its library yet
local fmt, floor = string.format, math.floor
assert(fresh(function() return fmt("%03d", floor(7.9)) end) == "007")

-- an Instance and a SharedTable arriving in a VM that never named Instance
-- or SharedTable
local st = SharedTable.new({ n = 41 })
local w, n = fresh(function()
    local w, t = args[1], args[2]
    return w, t.n + 1
end, workspace, st)
assert(w == workspace and n == 42)

-- the same in an actor: its script uses only what it names
local a = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = [[
    local before = rawget(_G, "math") == nil
    script:GetActor():BindToMessage("ask", function(reply)
        reply:Fire(before, ("x"):rep(3), math.abs(-2))
    end)
]]
s.Parent = a
a.Parent = workspace
task.wait()
local ev = Instance.new("BindableEvent")
local got
ev.Event:Connect(function(...) got = table.pack(...) end)
a:SendMessage("ask", ev)
for _ = 1, 5 do task.wait() if got then break end end
assert(got and got[1] == true and got[2] == "xxx" and got[3] == 2, "actor's answer")
print("OK")
