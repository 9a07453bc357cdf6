-- args: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121 122 123 124 125 126 127 128 129 130 131 132 133 134 135 136 137 138 139 140 141 142 143 144 145 146 147 148 149 150
-- expect-stdout: ^handlers OK$
-- expect-stdout: ^main OK$
-- Many values given to a new runtime thread (more than a fresh coroutine's
-- stack holds) arrive intact: script arguments, task.spawn/defer/delay with a
-- function or a coroutine, and message handlers (fresh and reused handler
-- threads, serial and parallel). Used to corrupt the heap (issue 8 item 1).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local N = 300
local function check(what, n, ...)
    assert(select("#", ...) == n, what .. ": got " .. select("#", ...) .. " values")
    for i = 1, n do
        assert(select(i, ...) == i, what .. ": value " .. i .. " is " .. tostring(select(i, ...)))
    end
end

-- the main script's arguments (strings "1".."150")
local a = { ... }
assert(#a == 150, "script got " .. #a .. " arguments")
for i = 1, 150 do assert(a[i] == tostring(i)) end

local t = {}
for i = 1, N do t[i] = i end
local pending = 0
local function expect(what)
    pending = pending + 1
    return function(...)
        check(what, N, ...)
        pending = pending - 1
    end
end
task.spawn(expect("spawn"), table.unpack(t))
task.defer(expect("defer"), table.unpack(t))
task.delay(0, expect("delay"), table.unpack(t))
task.spawn(coroutine.create(expect("spawn coroutine")), table.unpack(t))
task.defer(coroutine.create(expect("defer coroutine")), table.unpack(t))

local h = U.actor("Many", [[
    local me = script:GetActor()
    local got = 0
    local function handler(...)
        local n = select("#", ...)
        assert(n == 200, "handler got " .. n .. " values")
        for i = 1, n do assert(select(i, ...) == i) end
        got = got + 1
        if got == 6 then
            task.synchronize()
            print("handlers OK")
        end
    end
    me:BindToMessage("x", handler)
    me:BindToMessageParallel("x", handler)
]])
local m = {}
for i = 1, 200 do m[i] = i end
for _ = 1, 3 do h:SendMessage("x", table.unpack(m)) end

task.wait()
task.wait()
assert(pending == 0, pending .. " threads did not run")
print("main OK")
