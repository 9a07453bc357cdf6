-- SharedTable basics (SPEC 4), in the main VM: new() empty and from a plain
-- table (nested tables converted deeply; a table met twice becomes one
-- SharedTable), indexing and assignment with every key and value kind
-- (integers 0 and 2^32-1, 2.0 as 2, strings with NULs; nil removes;
-- integers stay integers and floats floats; a plain table assigned is
-- converted), Instances stored by reference, #, size, tostring, identity.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

-- empty
local e = SharedTable.new()
assert(SharedTable.size(e) == 0 and #e == 0 and e.x == nil and e[1] == nil)
assert(SharedTable.size(SharedTable.new(nil)) == 0)
assert(SharedTable.size(SharedTable.new({})) == 0)

-- from a plain table, deeply
local shared = { s = 1 }
local st = SharedTable.new({
    10, 20, 30,
    name = "x",
    nested = { deeper = { deepest = "bottom" }, list = { 1, 2 } },
    left = shared, right = shared,
})
assert(st[1] == 10 and st[2] == 20 and st[3] == 30 and st.name == "x")
assert(tostring(st.nested):match("^SharedTable: 0x%x+$"), tostring(st.nested))
assert(tostring(st.nested.deeper):match("^SharedTable: "))
assert(st.nested.deeper.deepest == "bottom" and st.nested.list[2] == 2)
assert(st.left == st.right, "a table met twice became two SharedTables")
assert(st.nested == st.nested, "one proxy per table in a VM")
assert(SharedTable.size(st) == 7 and #st == 3)

-- keys
local k = SharedTable.new()
k[0] = "zero"
k[2 ^ 32 - 1] = "max"
k[2.0] = "two"
k[""] = "empty string"
k["a\0b"] = "with a NUL"
assert(k[0] == "zero" and k[4294967295] == "max" and k[2] == "two" and k[2.0] == "two")
assert(k[""] == "empty string" and k["a\0b"] == "with a NUL" and k["a"] == nil)
assert(SharedTable.size(k) == 5)

-- values
local v = SharedTable.new()
v.t, v.f = true, false
v.i, v.fl, v.big = 42, 42.0, math.maxinteger
v.nan, v.neg0 = 0 / 0, -0.0
v.str = string.rep("\0\1\255", 1000) -- binary-safe, long (not copied through a buffer)
v.short = "short"
assert(v.t == true and v.f == false)
assert(math.type(v.i) == "integer" and math.type(v.fl) == "float" and v.i == 42 and v.fl == 42.0)
assert(v.big == math.maxinteger and math.type(v.big) == "integer")
assert(v.nan ~= v.nan and 1 / v.neg0 == -math.huge)
assert(v.str == string.rep("\0\1\255", 1000) and v.short == "short")
assert(SharedTable.size(v) == 9)
v.t = nil
assert(v.t == nil and SharedTable.size(v) == 8, "assigning nil removes the key")
v.missing = nil -- removing an absent key is fine
assert(SharedTable.size(v) == 8)

-- a plain table assigned is converted, deeply; a SharedTable is stored by reference
v.plain = { a = { b = 1 } }
assert(tostring(v.plain):match("^SharedTable: ") and v.plain.a.b == 1)
local inner = SharedTable.new({ x = 1 })
v.inner = inner
assert(v.inner == inner)
inner.x = 2
assert(v.inner.x == 2, "stored by reference, not copied")

-- Instances are stored by reference
local folder = Instance.new("Folder")
folder.Name = "Stored"
v.inst = folder
assert(v.inst == folder and v.inst.Name == "Stored")
v.nested_inst = { it = folder }
assert(v.nested_inst.it == folder)

-- # is a border, the length of a sequence
local seq = SharedTable.new({ "a", "b", "c", "d" })
assert(#seq == 4)
seq[5] = "e"
assert(#seq == 5)
seq[5] = nil
assert(#seq == 4)
local big = SharedTable.new()
for i = 1, 1000 do big[i] = i end
assert(#big == 1000 and SharedTable.size(big) == 1000)
big[1] = nil
assert(#big == 0)

-- identity: two distinct tables are never equal, even with the same content
local a, b = SharedTable.new({ 1 }), SharedTable.new({ 1 })
assert(a ~= b and a == a)
assert(rawequal(st.nested, st.nested))

-- isFrozen
assert(SharedTable.isFrozen(st) == false)
print("OK")
