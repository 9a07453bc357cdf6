-- Permissions of lthreads (SPEC 8, 12): an lthread gets its parent's set
-- minus spawn, or exactly what `allow` lists; allow may only narrow (a
-- wider one raises at go, nothing starts); go needs spawn; go(path) loads
-- with the lthread's rights; an lthread cannot start a child (no spawn)
-- nor reach its parent's unrestricted functions through a transferred
-- closure.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local P = require("perm")
local T = P.fixture()
local DATA, SECRET = T .. "/data", T .. "/secret.txt"

local function denial(f, ...)
    local ok, err = pcall(f, ...)
    assert(not ok, "expected a denial")
    return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

-- inherit minus spawn: the main VM reads anything, so does the lthread; it
-- cannot go() itself
local r = go(function()
    local f = assert(io.open(SECRET))
    local s = f:read("a")
    f:close()
    local ok, err = pcall(go, function() end)
    return s, ok, err, parlua.permissions().spawn
end, {globals = {SECRET = SECRET}})
local text, ok, err, spawn = r:result()
assert(text == "secret")
assert(not ok and tostring(err):find("permission denied: spawn lthread (spawn not granted)", 1, true),
    tostring(err))
assert(not spawn)

-- allow narrows: read only under DATA; nothing else
local narrow = go(function()
    local f = assert(io.open(DATA .. "/f.txt"))
    local inside = f:read("a")
    f:close()
    local ok1, e1 = pcall(io.open, SECRET)
    local ok2, e2 = pcall(io.open, DATA .. "/../secret.txt")
    local ok3, e3 = pcall(io.open, DATA .. "/link")
    local ok4, e4 = pcall(os.getenv, "HOME")
    return inside, tostring(e1), tostring(e2), tostring(e3), tostring(e4), ok1 or ok2 or ok3 or ok4
end, {allow = {read = {DATA}}, globals = {DATA = DATA, SECRET = SECRET}})
local inside, e1, e2, e3, e4, any = narrow:result()
assert(inside == "data")
assert(not any, "a denied call succeeded")
assert(e1:find("permission denied: read " .. SECRET .. " (allowed: read under " .. DATA .. ")",
    1, true), e1)
assert(e2:find("permission denied: read " .. SECRET, 1, true), e2)
assert(e3:find("permission denied: read ", 1, true), e3)
assert(e4:find("permission denied: env HOME", 1, true), e4)

-- a closure of the main VM's io.open, sent along, is the lthread's own
local open = io.open
local leaked = go(function() return pcall(open, SECRET) end,
    {allow = {}, globals = {SECRET = SECRET}})
local lok, lerr = leaked:result()
assert(not lok and tostring(lerr):find("permission denied: read", 1, true), tostring(lerr))

-- go(path) loads with the lthread's rights
local mod = DATA .. "/inside.lua"
assert(go(mod, {allow = {read = {DATA}}}):result() == "inside")
local _, perr = go(T .. "/lib/outside.lua", {allow = {read = {DATA}}}):wait_result()
assert(tostring(perr):find("permission denied: read", 1, true), tostring(perr))

-- a sandboxed program: no spawn, no go; allow cannot widen
local status, stdout = P.C.run({"--sandbox", "--allow-read=" .. T, "-e",
    "local ok, e = pcall(go, function() end) print(ok, e)"})
assert(stdout:find("permission denied: spawn lthread (spawn not granted)", 1, true), stdout)
status, stdout = P.C.run({"--sandbox", "--allow-spawn", "--allow-read=" .. DATA, "-e",
    "local ok, e = pcall(go, function() end, {allow = {read = true}}) print(ok, e)"})
assert(stdout:find("false\tgo: allow grants read everywhere, which this VM does not have", 1, true),
    stdout)
print("OK")
