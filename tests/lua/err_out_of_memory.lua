-- An actor that runs out of memory (under `ulimit -v`) dies of an uncaught
-- "not enough memory" error reported with its name; the main script goes on
-- and the command exits with status 1 (issue 8 item 3). Skipped (prints
-- OK) when parlua cannot even start under the limit, as in sanitizer builds,
-- whose shadow memory needs far more address space.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local LIMIT_KB = 100000
local function run_limited(args)
    local out, err = os.tmpname(), os.tmpname()
    local parts = { C.quote(C.exe) }
    for _, a in ipairs(args) do parts[#parts + 1] = C.quote(a) end
    local cmd = string.format("ulimit -v %d && exec %s >%s 2>%s </dev/null", LIMIT_KB,
        table.concat(parts, " "), out, err)
    local _, _, code = os.execute("sh -c " .. C.quote(cmd))
    local function slurp(p)
        local f = assert(io.open(p))
        local s = f:read("a")
        f:close()
        os.remove(p)
        return s
    end
    return code, slurp(out), slurp(err)
end

local code, out = run_limited({ "-e", "print('probe')" })
if code ~= 0 or out ~= "probe\n" then
    print("skipped: parlua cannot start under ulimit -v " .. LIMIT_KB .. " (sanitizer build?)")
    print("OK")
    return
end

local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write([=[
local a = Instance.new("Actor")
a.Name = "Hog"
local s = Instance.new("Script")
s.Source = [[
task.desynchronize()
local keep, size = {}, 1 << 20
local function add() keep[#keep + 1] = string.rep("x", size) end
while true do
    if not pcall(add) then
        if size <= 16 then add() end -- out of memory for good: uncaught
        size = size // 2
    end
end
]]
s.Parent = a
a.Parent = workspace
task.wait() task.wait() task.wait()
print("main still ran")
]=])
f:close()
local code2, out2, err2 = run_limited({ "--workers", "1", "--frame-budget", "0", script })
os.remove(script)
local where = "stdout:\n" .. out2 .. "\nstderr:\n" .. err2
assert(code2 == 1, "exit status " .. tostring(code2) .. "\n" .. where)
assert(err2:find("parlua: uncaught error in actor [%w.]*Hog: not enough memory"), where)
assert(out2 == "main still ran\n", where)
print("OK")
