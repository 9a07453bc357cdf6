-- Permissions on files (SPEC 8, 12): a sandboxed command may read and write
-- only under the folders it was given, after resolving the path (absolute,
-- `..`, symbolic links), with prefixes matching whole components; a denial
-- raises `permission denied: <cap> <path> (<what is allowed>)` and nothing
-- half-happens (no file created, truncated, appended to, removed, renamed).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local P = require("perm")
local T = P.fixture()
local ok, err = pcall(function()
    P.write(T .. "/data/out/gone.txt", "x")
    P.write(T .. "/data/out/moved.txt", "m")
    assert(os.execute("ln -s " .. T .. "/secret.txt " .. T .. "/data/out/link"))
    local opts = { "--sandbox", "--allow-read=" .. T .. "/data", "--allow-write=" .. T .. "/data/out" }
    P.check(opts, [[
local R = "allowed: read under " .. T .. "/data, " .. T .. "/child.lua"
local W = "allowed: write under " .. T .. "/data/out"
local function no_read(path) return "permission denied: read " .. path .. " (" .. R .. ")" end
local function no_write(path) return "permission denied: write " .. path .. " (" .. W .. ")" end
local SECRET = T .. "/secret.txt"

-- reading
assert(io.open(T .. "/data/f.txt"):read("a") == "data")
assert(io.open(T .. "/child.lua"), "the script itself may be read")
denied(no_read(SECRET), io.open, SECRET)
denied(no_read(SECRET), io.open, T .. "/data/../secret.txt")       -- `..`
denied(no_read(SECRET), io.open, T .. "/data/sub/../../secret.txt")
denied(no_read(T .. "/data2/x.txt"), io.open, T .. "/data2/x.txt") -- whole components
denied(no_read(SECRET), io.open, T .. "/data/link")                -- a link out
denied(no_read(SECRET), io.open, T .. "/data/up/secret.txt")       -- a folder link out
denied(no_read("/etc/passwd"), io.open, "/etc/passwd")
denied(no_read("/etc/passwd"), io.open, T .. "/data/up/../../../../../../../../etc/passwd")
-- a missing file inside: the usual failure, not a denial
local f, msg, code = io.open(T .. "/data/missing.txt")
assert(f == nil and msg == T .. "/data/missing.txt: No such file or directory" and code == 2, msg)
local lok, lmsg = pcall(io.lines, T .. "/data/missing.txt")
assert(not lok and lmsg:find("cannot open file '" .. T .. "/data/missing.txt' (No such file or directory)", 1, true), lmsg)
-- io.lines and io.input
local lines = {}
for l in io.lines(T .. "/data/f.txt") do lines[#lines + 1] = l end
assert(#lines == 1 and lines[1] == "data")
denied(no_read(SECRET), io.lines, T .. "/data/up/secret.txt")
denied(no_read(SECRET), io.input, SECRET)
io.input(T .. "/data/f.txt")
assert(io.read("a") == "data")
io.input(io.stdin)
-- loadfile, dofile
assert(loadfile(T .. "/data/inside.lua")() == "inside")
assert(dofile(T .. "/data/inside.lua") == "inside")
denied(no_read(T .. "/lib/outside.lua"), loadfile, T .. "/lib/outside.lua")
denied(no_read(T .. "/lib/outside.lua"), dofile, T .. "/data/../lib/outside.lua")

-- writing: every mode that writes needs write; r+, w+ and a+ need read too
denied(no_write(T .. "/data/new.txt"), io.open, T .. "/data/new.txt", "w")
denied(no_write(T .. "/data/f.txt"), io.open, T .. "/data/f.txt", "a")
denied(no_write(T .. "/data/f.txt"), io.open, T .. "/data/f.txt", "r+")
denied(no_write(T .. "/data/f.txt"), io.open, T .. "/data/f.txt", "wb")
denied(no_write(T .. "/data/new2.txt"), io.output, T .. "/data/new2.txt")
denied(no_write(T .. "/data/new3.txt"), io.open, T .. "/data/out/../new3.txt", "w")
denied(no_write(SECRET), io.open, T .. "/data/out/link", "w")      -- a link out
denied(no_read(SECRET), io.open, T .. "/data/out/link", "a+") -- read is checked first
local w = assert(io.open(T .. "/data/out/new.txt", "w"))
w:write("written")
w:close()
assert(io.open(T .. "/data/out/new.txt", "r+"):read("a") == "written")
io.output(T .. "/data/out/via_output.txt")
io.write("o")
io.close()
io.output(io.stdout)

-- os.remove, os.rename, os.tmpname
denied(no_write(T .. "/data/f.txt"), os.remove, T .. "/data/f.txt")
denied(no_write(SECRET), os.remove, T .. "/data/up/secret.txt")
assert(os.remove(T .. "/data/out/gone.txt"))
assert(os.remove(T .. "/data/out/link"), "removing a link inside removes the link only")
local r, rmsg = os.remove(T .. "/data/out/none.txt")
assert(r == nil and rmsg == T .. "/data/out/none.txt: No such file or directory", rmsg)
denied(no_write(T .. "/data/f.txt"), os.rename, T .. "/data/f.txt", T .. "/data/out/f.txt")
denied(no_write(T .. "/data/stolen.txt"), os.rename, T .. "/data/out/moved.txt", T .. "/data/stolen.txt")
assert(os.rename(T .. "/data/out/moved.txt", T .. "/data/out/renamed.txt"))
denied(no_write("/tmp/lua_XXXXXX"), os.tmpname)
print("OK")
]])
    -- nothing half-happened
    assert(P.read(T .. "/data/f.txt") == "data", "f.txt unchanged")
    assert(P.read(T .. "/secret.txt") == "secret", "secret.txt unchanged")
    for _, name in ipairs({ "data/new.txt", "data/new2.txt", "data/new3.txt", "data/stolen.txt",
        "data/out/f.txt", "data/out/moved.txt" }) do
        assert(not P.exists(T .. "/" .. name), name .. " must not exist")
    end
    -- and what was allowed did happen
    assert(P.read(T .. "/data/out/new.txt") == "written")
    assert(P.read(T .. "/data/out/via_output.txt") == "o")
    assert(P.read(T .. "/data/out/renamed.txt") == "m")
    assert(not P.exists(T .. "/data/out/gone.txt") and not P.exists(T .. "/data/out/link"))

    -- no permission at all: every path is refused, and says so
    P.check({ "--sandbox" }, [[
denied("permission denied: read " .. T .. "/data/f.txt (allowed: read under " .. T .. "/child.lua)",
       io.open, T .. "/data/f.txt")
denied("permission denied: write " .. T .. "/data/out/x (write not granted)", io.open, T .. "/data/out/x", "w")
print("OK")
]])
    -- --allow-read alone: read everywhere, write nowhere
    P.check({ "--sandbox", "--allow-read" }, [[
assert(io.open(T .. "/secret.txt"):read("a") == "secret")
denied("permission denied: write " .. T .. "/secret.txt (write not granted)", io.open, T .. "/secret.txt", "a")
print("OK")
]])
    assert(P.read(T .. "/secret.txt") == "secret")
    -- os.tmpname makes its file under /tmp: allowed with write there
    P.check({ "--sandbox", "--allow-write=/tmp" }, [[
local name = os.tmpname()
assert(name:match("^/tmp/lua_"), name)
assert(os.remove(name))
print("OK")
]])
end)
P.cleanup()
assert(ok, err)
print("OK")
