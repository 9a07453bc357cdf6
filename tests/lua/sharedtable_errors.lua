-- SharedTable errors (SPEC 4): a bad key (read or written) or value type, any write to a
-- frozen table, increment of a non-number or of nil, update or transaction
-- whose function raises, a cycle or too deep nesting in a converted table,
-- a direct write to a table inside its own transaction, a view used after
-- its transaction: each raises a clear error, and the table is exactly as
-- it was (checked against a copy taken before).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local function copy(st)
    local t = {}
    for k, v in pairs(st) do t[k] = v end
    return t
end

local st = SharedTable.new({ 1, 2, n = 5, s = "text", child = { x = 1 } })
local before = copy(st)
local function unchanged(what)
    assert(U.equal(copy(st), before), what .. " changed the table")
    assert(st.child.x == 1, what .. " changed the child")
end

-- keys
local KEYS = "(keys are strings and integers from 0 to 2^32-1)"
U.raises("invalid SharedTable key of type 'boolean' " .. KEYS, function() st[true] = 1 end)
U.raises("invalid SharedTable key of type 'table' " .. KEYS, function() st[{}] = 1 end)
U.raises("invalid SharedTable key of type 'function' " .. KEYS, function() st[print] = 1 end)
U.raises("invalid SharedTable key -1 (integer keys go from 0 to 2^32-1)", function() st[-1] = 1 end)
U.raises("invalid SharedTable key 4294967296 (integer keys go from 0 to 2^32-1)",
    function() st[2 ^ 32] = 1 end)
U.raises("invalid SharedTable key 1.5 (a number key must be an integer from 0 to 2^32-1)",
    function() st[1.5] = 1 end)
U.raises_with("(a number key must be an integer from 0 to 2^32-1)", function() st[0 / 0] = 1 end)
U.raises("invalid SharedTable key -1 (integer keys go from 0 to 2^32-1)", function() return st[-1] end)
U.raises("invalid SharedTable key of type 'boolean' " .. KEYS, function() return st[true] end)
unchanged("a bad key")

-- values
local co = coroutine.create(function() end)
U.raises("cannot store a value of type 'function' in a SharedTable", function() st.f = print end)
U.raises("cannot store a value of type 'thread' in a SharedTable", function() st.f = co end)
U.raises("cannot store a value of type 'FILE*' in a SharedTable", function() st.f = io.stdout end)
U.raises("cannot store a value of type 'function' in a SharedTable (at key a.b[2])",
    function() st.f = { a = { b = { 1, function() end } } } end)
U.raises("cannot store a value of type 'function' in a SharedTable", function() st.s = print end)
unchanged("a bad value")

-- conversions
local cyc = { a = {} }
cyc.a.back = cyc
U.raises("cannot convert a table that contains itself to a SharedTable (a cycle) (at key a.back)",
    function() st.c = cyc end)
U.raises_with("SharedTable.new: cannot convert a table that contains itself",
    function() SharedTable.new(cyc) end)
local deep = {}
local cur = deep
for _ = 1, 300 do cur.d = {}; cur = cur.d end
U.raises_with("tables nested deeper than 200 levels", function() st.deep = deep end)
U.raises_with("invalid SharedTable key of type 'boolean'", function() SharedTable.new({ [true] = 1 }) end)
U.raises_with("bad argument #1 to 'new' (table expected, got number)", function() SharedTable.new(5) end)
unchanged("a failed conversion")

-- increment
U.raises("SharedTable.increment: key 's' does not hold a number",
    function() SharedTable.increment(st, "s", 1) end)
U.raises("SharedTable.increment: key 'missing' holds nil, not a number",
    function() SharedTable.increment(st, "missing", 1) end)
U.raises_with("bad argument #3 to 'increment' (number expected, got string)",
    function() SharedTable.increment(st, "n", "1") end)
U.raises_with("bad argument #3 to 'increment' (number expected, got no value)",
    function() SharedTable.increment(st, "n") end)
unchanged("a failed increment")

-- update and transaction: the function's own error propagates, nothing changes
local err = { code = 7 }
local ok, got = pcall(SharedTable.update, st, "n", function(v) error(err) end)
assert(not ok and got == err, "update: the original error object did not propagate")
U.raises("boom", function() SharedTable.update(st, "n", function(v) error("boom", 0) end) end)
U.raises("SharedTable.update: cannot store a value of type 'function' in a SharedTable",
    function() SharedTable.update(st, "n", function(v) return print end) end)
U.raises("SharedTable.update: cannot store a value of type 'function' in a SharedTable (at key x[1])",
    function() SharedTable.update(st, "n", function(v) return { x = { print } } end) end)
-- the same for a key holding a string (update's general path: a view)
-- and for nil (its fast path, as for numbers)
ok, got = pcall(SharedTable.update, st, "s", function(v) assert(v == "text"); error(err) end)
assert(not ok and got == err, "update of a string: the original error object did not propagate")
U.raises("SharedTable.update: cannot store a value of type 'function' in a SharedTable",
    function() SharedTable.update(st, "s", function(v) return print end) end)
ok, got = pcall(SharedTable.update, st, "absent", function(v) assert(v == nil); error(err) end)
assert(not ok and got == err, "update of nil: the original error object did not propagate")
U.raises_with("cannot write to a SharedTable directly inside its own transaction or update",
    function() SharedTable.update(st, "n", function(v) SharedTable.update(st, "n", print) end) end)
U.raises_with("cannot write to a SharedTable directly inside its own transaction or update",
    function() SharedTable.update(st, "s", function(v) SharedTable.update(st, "n", print) end) end)
U.raises_with("cannot write to a SharedTable directly inside its own transaction or update",
    function() SharedTable.update(st, "n", function(v) SharedTable.increment(st, "n", 1); return v end) end)
ok, got = pcall(SharedTable.transaction, st, function(view)
    view.n = 100
    view.new = "key"
    view[1] = nil
    error(err)
end)
assert(not ok and got == err, "transaction: the original error object did not propagate")
U.raises("cannot store a value of type 'function' in a SharedTable",
    function() SharedTable.transaction(st, function(view) view.n = 1; view.f = print end) end)
U.raises_with("attempt to yield across a C-call boundary",
    function() SharedTable.transaction(st, function(view) view.n = 1; coroutine.yield() end) end)
unchanged("a failed update or transaction")

-- direct writes to a table inside its own transaction would conflict forever
local IN_TXN = "cannot write to a SharedTable directly inside its own transaction or update " ..
    "(write through the transaction's view)"
U.raises(IN_TXN, function() SharedTable.transaction(st, function(view) st.n = 1 end) end)
U.raises(IN_TXN, function() SharedTable.transaction(st, function(view) SharedTable.increment(st, "n", 1) end) end)
U.raises(IN_TXN, function() SharedTable.update(st, "n", function(v) st.x = 1; return v end) end)
U.raises_with("already running on this table",
    function() SharedTable.transaction(st, function(view) SharedTable.transaction(st, print) end) end)
unchanged("a direct write inside a transaction")
-- ... but other tables may be written, and a transaction may nest on another table
local other = SharedTable.new({ v = 0 })
SharedTable.transaction(st, function(view)
    other.v = 1
    SharedTable.transaction(other, function(ov) ov.w = view.n end)
end)
assert(other.v == 1 and other.w == 5)

-- a view is only valid during its transaction
local kept
SharedTable.transaction(st, function(view) kept = view end)
U.raises("a SharedTable transaction view was used after its transaction ended", function() return kept.n end)
U.raises("a SharedTable transaction view was used after its transaction ended", function() kept.n = 1 end)
assert(tostring(kept):match("^SharedTableView: "))
U.raises("cannot store a value of type 'SharedTableView' in a SharedTable", function()
    SharedTable.transaction(st, function(view) other.v = view end)
end)

-- frozen tables
local frozen = SharedTable.cloneAndFreeze(st)
local FROZEN = "attempt to modify a frozen SharedTable"
U.raises(FROZEN, function() frozen.n = 1 end)
U.raises(FROZEN, function() frozen.n = nil end)
U.raises(FROZEN, function() frozen.brand_new = 1 end)
U.raises(FROZEN, function() SharedTable.increment(frozen, "n", 1) end)
U.raises(FROZEN, function() SharedTable.update(frozen, "n", function(v) return v end) end)
U.raises(FROZEN, function() SharedTable.clear(frozen) end)
U.raises(FROZEN, function() SharedTable.transaction(frozen, function(view) view.n = 1 end) end)
assert(SharedTable.transaction(frozen, function(view) return view.n end) == 5, "reading is fine")
assert(U.equal(copy(frozen), before), "a frozen table changed")

-- wrong arguments
U.raises_with("bad argument #1 to 'size' (SharedTable expected, got table)", function() SharedTable.size({}) end)
U.raises_with("bad argument #1 to 'clone' (SharedTable expected, got Instance)",
    function() SharedTable.clone(Instance.new("Folder")) end)
U.raises_with("bad argument #3 to 'update' (function expected, got no value)",
    function() SharedTable.update(st, "n") end)
U.raises_with("bad argument #2 to 'transaction' (function expected, got no value)",
    function() SharedTable.transaction(st) end)
unchanged("everything above")
print("OK")
