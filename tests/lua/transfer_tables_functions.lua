-- Transfer of tables and functions (SPEC 5), main -> actor:
-- * plain tables are deep copies taken at the moment of SendMessage (later
--   changes by the sender are not seen); cycles and shared sub-tables keep
--   their shape; metatables are not carried; all key types survive;
-- * Lua functions cross as bytecode with their upvalues transferred by the
--   same rules (a closure over a table, a recursive local function), and
--   _ENV becomes the receiver's globals;
-- * standard library functions become the receiver's function of the same
--   name; Instances cross as references to the same object;
-- * nesting past the documented limit raises instead of overflowing, and a
--   failed transfer sends nothing.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local recv = U.actor("Recv", [[
    who_am_i = "receiver" -- read by a transferred function through _ENV
    local me = script:GetActor()
    local step = 0
    local function next_step(n)
        step = step + 1
        assert(step == n, "message " .. n .. " arrived as #" .. step)
    end

    me:BindToMessage("tables", function(t, s1, s2)
        next_step(1)
        assert(type(t) == "table")
        assert(t.n == 1 and t.name == "snapshot", "the copy is not the state at send time")
        assert(t[1] == "a" and t[2] == "b" and #t == 2)
        assert(math.type(t[3.5]) == nil and t[3.5] == "float key")
        assert(t[true] == "bool key" and t[-7] == "negative key")
        assert(math.type(t.int) == "integer" and math.type(t.float) == "float")
        assert(t.self == t, "a cycle lost its shape")
        assert(t.left == t.right and t.left.shared == true, "a shared sub-table was copied twice")
        assert(t.nested.deeper.deepest == "bottom")
        assert(getmetatable(t) == nil and getmetatable(t.withmt) == nil, "a metatable crossed")
        assert(t.withmt.x == 1)
        -- two arguments that are the same table stay the same table
        assert(s1 == s2 and s1.v == "same")
    end)

    me:BindToMessage("functions", function(add, count, fact, env, lib, tab)
        next_step(2)
        assert(add(1) == 11, "upvalue k not carried")
        assert(count() == 1 and count() == 2, "a closure over a table lost its state")
        assert(fact(10) == 3628800, "a recursive local function")
        assert(env() == "receiver", "_ENV is not the receiver's globals: " .. tostring(env()))
        assert(lib.print == print and lib.sin == math.sin and lib.insert == table.insert,
            "library functions are not the receiver's own")
        assert(lib.sin(0) == 0)
        assert(tab.f(2) == 20 and tab.g == tab.f, "functions in a table, shared")
    end)

    me:BindToMessage("instances", function(folder, actor)
        next_step(3)
        assert(folder == workspace.Shared, "an Instance crossed as a copy")
        assert(actor == script:GetActor())
    end)

    me:BindToMessage("last", function()
        next_step(4)
        print("OK")
    end)
]])

-- tables
local t = { "a", "b", n = 1, name = "snapshot", int = 3, float = 3.0 }
t[3.5] = "float key"
t[true] = "bool key"
t[-7] = "negative key"
t.self = t
local shared = { shared = true }
t.left, t.right = shared, shared
t.nested = { deeper = { deepest = "bottom" } }
t.withmt = setmetatable({ x = 1 }, { __index = function() return "mt" end })
local same = { v = "same" }
recv:SendMessage("tables", t, same, same)
t.n, t.name = 2, "changed after sending" -- must not be seen by the receiver

-- functions
local k = 10
local function add(x) return x + k end
local state = { n = 0 }
local function count() state.n = state.n + 1; return state.n end
local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
who_am_i = "sender"
local function env() return who_am_i end
local lib = { print = print, sin = math.sin, insert = table.insert }
local f = function(x) return x * k end
recv:SendMessage("functions", add, count, fact, env, lib, { f = f, g = f })

-- instances
local folder = Instance.new("Folder")
folder.Name = "Shared"
folder.Parent = workspace
recv:SendMessage("instances", folder, recv)

-- too deep: an error, not a crash, and nothing is sent
local deep = {}
local cur = deep
for _ = 1, 100000 do
    cur.next = {}
    cur = cur.next
end
local ok, err = pcall(recv.SendMessage, recv, "tables", deep)
assert(not ok and type(err) == "string", "a 100,000-level table crossed")
-- a function with a coroutine upvalue fails as a whole
local co = coroutine.create(function() end)
U.raises_with("cannot transfer a value of type 'thread'", function()
    recv:SendMessage("functions", function() return co end)
end)

recv:SendMessage("last")
