-- Helpers shared by the Lua script tests (tests/lua/*.lua). Not a test itself
-- (the test runner globs tests/lua/*.lua only).
--
-- A test's main script loads it with:
--   package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
--   local U = require("util")
-- Actor scripts made by U.actor get the same package.path and a global U.
local _, path = ...
local U = {}

-- Directory of this file (tests/lua/lib), absolute or relative as given.
U.LIB = path:match("^(.*)/") or "."

-- The Lua prelude put in front of every actor script's Source.
function U.prelude()
    return string.format("package.path = %q .. package.path; local U = require('util'); ",
        U.LIB .. "/?.lua;")
end

-- Makes an Actor named name holding a Script with the given source (the
-- prelude is put on the same first line, so line numbers are kept) and
-- parents it under parent (default workspace; pass false to leave it out of
-- the game). Returns the actor and its script.
function U.actor(name, source, parent)
    local a = Instance.new("Actor")
    a.Name = name
    local s = Instance.new("Script")
    s.Name = name .. "Script"
    s.Source = U.prelude() .. source
    s.Parent = a
    if parent ~= false then a.Parent = parent or workspace end
    return a, s
end

-- Calls fn(...) and checks that it raises an error whose message ends with
-- `suffix` (the position prefix "file:line: " is ignored). Returns the message.
function U.raises(suffix, fn, ...)
    local ok, err = pcall(fn, ...)
    assert(not ok, "expected an error ending with: " .. suffix)
    err = tostring(err)
    assert(err:sub(-#suffix) == suffix,
        string.format("error %q does not end with %q", err, suffix))
    return err
end

-- Like U.raises, but the message must contain the plain text `part`.
function U.raises_with(part, fn, ...)
    local ok, err = pcall(fn, ...)
    assert(not ok, "expected an error containing: " .. part)
    err = tostring(err)
    assert(err:find(part, 1, true), string.format("error %q does not contain %q", err, part))
    return err
end

-- Signals between VMs through the Instance tree, visible in every VM: a
-- Folder named name under workspace. Serial phase only (it sets Parent).
function U.signal(name)
    local f = Instance.new("Folder")
    f.Name = name
    f.Parent = workspace
end

-- Waits (one frame at a time) until U.signal(name) happened; raises after
-- `timeout` seconds (default 60: only a guard against a hang).
function U.wait_signal(name, timeout)
    local deadline = time() + (timeout or 60)
    while not workspace:FindFirstChild(name) do
        assert(time() < deadline, "timed out waiting for signal " .. name)
        task.wait(0.002)
    end
end

-- Deep equality of plain values (for tests that compare tables).
function U.equal(a, b, seen)
    if a == b then return true end
    if type(a) ~= "table" or type(b) ~= "table" then return false end
    seen = seen or {}
    if seen[a] == b then return true end
    seen[a] = b
    for k, v in pairs(a) do
        if not U.equal(v, b[k], seen) then return false end
    end
    for k in pairs(b) do
        if a[k] == nil then return false end
    end
    return true
end

return U
