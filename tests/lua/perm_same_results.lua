-- Where a sandboxed call is allowed, it behaves as Lua's own: the same
-- results and the same error messages (bad arguments name the function,
-- missing files say so the same way), so a program moved into a sandbox
-- that has what it needs does not change. The same script runs once with
-- every permission (Lua's functions) and once sandboxed with read and write
-- on its folder only (parlua's checking functions); the outputs must match.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local P = require("perm")
local T = P.fixture()
local ok, err = pcall(function()
    local code = [[
local D = T .. "/data"
local function show(...)
    local t = table.pack(...)
    for i = 1, t.n do
        local v = t[i]
        t[i] = io.type(v) or (type(v) == "function" and "function") or tostring(v)
    end
    print((table.concat(t, " | "):gsub(T, "T")))
end
show(io.open(D .. "/missing"))
show(io.open(D, "w"))
show(pcall(io.open, D .. "/f.txt", "rw"))
show(pcall(io.open, D .. "/f.txt", ""))
show(pcall(io.open))
show(pcall(io.lines, D .. "/missing"))
show(pcall(io.input, D .. "/missing"))
show(pcall(io.output, D .. "/nodir/x"))
show(os.remove(D .. "/missing"))
show(os.rename(D .. "/missing", D .. "/missing2"))
show(pcall(os.remove))
show(os.remove(""))
show(os.rename("", D .. "/x"))
show(os.rename(D .. "/missing", ""))
show(loadfile(""))
show(pcall(dofile, ""))
show(io.open(""))
show(io.open("", "w"))
show(pcall(io.lines, ""))
show(os.remove(D .. "/sub/."))
show(os.remove(D .. "/sub/.."))
show(os.rename(D .. "/sub/..", D .. "/x"))
show(os.remove(D .. "/f.txt/"))
show(os.rename(D .. "/f.txt/", D .. "/g.txt"))
show(os.rename(D .. "/f.txt", D .. "/g.txt/"))
show(io.open(D .. "/f.txt"):read("a"))
show(loadfile(D .. "/missing"))
show(pcall(dofile, D .. "/missing"))
show(load("return 1 +"))
show(load(function() return nil end))
show(load(function() return {} end))
show(pcall(load, 5))
show(load("return ...", "=chunk", "t", {})(7))
local f = assert(io.open(D .. "/f.txt"))
show(f:read("a"), f:seek("set", 1), f:read(2), f:close())
show(pcall(f.read, f))
for l in io.lines(D .. "/f.txt", "n") do show(l) end
local w = assert(io.open(D .. "/out/w.txt", "w+"))
show(w:write("abc"), w:seek("set"), w:read("a"), w:close())
local a = assert(io.open(D .. "/out/w.txt", "a"))
show(a:write("d"), a:close())
for l in io.lines(D .. "/out/w.txt") do show(l) end
show(loadfile(D .. "/inside.lua")())
show(dofile(D .. "/inside.lua"))
package.path = D .. "/?.lua"
show(require("inside"))
show(package.searchpath("inside", package.path))
show(package.searchpath("nothere", package.path))
show(select("#", io.lines(D .. "/f.txt")))
show(os.remove(D .. "/out/w.txt"))
print("OK")
]]
    local full = P.check({}, code)
    local sandboxed = P.check({ "--sandbox", "--allow-read=" .. T, "--allow-write=" .. T }, code)
    assert(full == sandboxed, "\n--- with every permission\n" .. full .. "--- sandboxed\n" .. sandboxed)
end)
P.cleanup()
assert(ok, err)
print("OK")
