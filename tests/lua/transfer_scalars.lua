-- Transfer of immutable values (SPEC 5): integers stay integers and floats
-- stay floats (math.type), with every bit kept (extremes, -0.0, NaN, inf,
-- subnormals, 2^53+1), strings are binary-safe (NULs, all 256 bytes, 14 KB),
-- booleans are kept, a nil in the middle of the arguments keeps its place.
-- Sent main -> actor A (serial) and A -> B (from parallel code).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local checker = [[
    local values = require("scalar_values")
    local function same(a, b)
        if type(a) ~= type(b) then return false end
        if type(a) ~= "number" then return a == b end
        if math.type(a) ~= math.type(b) then return false end
        if a ~= a then return b ~= b end -- NaN
        return a == b and 1 / a == 1 / b -- also tells -0.0 from 0.0
    end
    local function check(who, ...)
        assert(select("#", ...) == #values, who .. ": " .. select("#", ...) .. " values")
        for i, v in ipairs(values) do
            local got = select(i, ...)
            assert(same(got, v[1]), string.format("%s: value %d (%s) came as %s %s", who, i,
                v[2], math.type(got) or type(got), tostring(got)):sub(1, 200))
            assert((math.type(got) or type(got)) == v[2])
        end
    end
]]

U.actor("B", checker .. [[
    script:GetActor():BindToMessageParallel("values", function(...)
        check("A -> B", ...)
        print("OK")
    end)
]])

U.actor("A", checker .. [[
    local me = script:GetActor()
    local got = 0
    me:BindToMessage("values", function(...)
        check("main -> A", ...)
        got = got + 1
    end)
    me:BindToMessage("holes", function(...)
        assert(select("#", ...) == 3, "arguments with a nil hole: " .. select("#", ...))
        local a, b, c = ...
        assert(a == 1 and b == nil and c == "three")
        got = got + 1
    end)
    me:BindToMessage("none", function(...)
        assert(select("#", ...) == 0, "no arguments came as " .. select("#", ...))
        got = got + 1
        assert(got == 3, "messages before 'none': " .. got)
        task.desynchronize()
        local vals = {}
        for i, v in ipairs(values) do vals[i] = v[1] end
        workspace.B:SendMessage("values", table.unpack(vals, 1, #values))
    end)
]])

local values = require("scalar_values")
local vals = {}
for i, v in ipairs(values) do vals[i] = v[1] end
workspace.A:SendMessage("values", table.unpack(vals, 1, #values))
workspace.A:SendMessage("holes", 1, nil, "three")
workspace.A:SendMessage("none")
