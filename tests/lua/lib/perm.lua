-- Helpers for the permission tests (tests/lua/perm_*.lua): a fixture
-- folder with files inside and outside an allowed folder, symbolic links
-- that lead out of it, and runs of sandboxed child scripts.
--
--   T/data/f.txt        "data"         T/secret.txt   "secret"
--   T/data/sub/         (empty)        T/data2/x.txt  "x" (a prefix look-alike)
--   T/data/out/         (writable in most tests)
--   T/data/link         -> T/secret.txt (a link out of data)
--   T/data/up           -> T            (a folder link out of data)
--   T/lib/outside.lua   a module outside data;  T/data/inside.lua one inside
local C = require("cli")
local P = { C = C }

local function sh(cmd)
    assert(os.execute(cmd), "command failed: " .. cmd)
end

local function write(path, text)
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
end
P.write = write

function P.read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
end

function P.exists(path)
    return os.rename(path, path) ~= nil
end

-- Makes the fixture; returns T, resolved (no symbolic link in it).
function P.fixture()
    local p = io.popen("mktemp -d && true")
    local t = p:read("l")
    p:close()
    p = io.popen("cd " .. C.quote(t) .. " && pwd -P")
    t = p:read("l")
    p:close()
    P.T = t
    sh("mkdir -p " .. t .. "/data/sub " .. t .. "/data/out " .. t .. "/data2 " .. t .. "/lib")
    write(t .. "/data/f.txt", "data")
    write(t .. "/secret.txt", "secret")
    write(t .. "/data2/x.txt", "x")
    write(t .. "/lib/outside.lua", "return 'outside'")
    write(t .. "/data/inside.lua", "return 'inside'")
    sh("ln -s " .. t .. "/secret.txt " .. t .. "/data/link")
    sh("ln -s " .. t .. " " .. t .. "/data/up")
    return t
end

function P.cleanup()
    if P.T and P.T:match("^/tmp/") then sh("rm -rf " .. C.quote(P.T)) end
end

-- The lines a child script starts with: `denied(msg, f, ...)` checks that
-- f(...) raises exactly msg (after the "file:line: " position).
P.PRELUDE = [[
local function denied(msg, f, ...)
    local ok, err = pcall(f, ...)
    assert(not ok, "expected a denial: " .. msg)
    err = tostring(err):gsub("^[^:]*:%d+: ", "")
    assert(err == msg, string.format("\nerror    %q\nexpected %q", err, msg))
end
local T = ...
]]

-- Runs a child script (the prelude, then code) with the options; T is its
-- first argument. Returns the exit status, stdout and stderr. The script
-- itself is written to T/child.lua.
function P.run(options, code)
    local script = P.T .. "/child.lua"
    write(script, P.PRELUDE .. code)
    local args = {}
    for _, o in ipairs(options) do args[#args + 1] = o end
    args[#args + 1] = script
    args[#args + 1] = P.T
    return C.run(args)
end

-- P.run, then checks the child ended well (status 0, last line OK).
function P.check(options, code)
    local status, out, err = P.run(options, code)
    if status ~= 0 or not out:match("OK\n$") then
        error(string.format("child failed (status %s)\n--- stdout\n%s--- stderr\n%s",
            tostring(status), out, err), 2)
    end
    return out, err
end

return P
