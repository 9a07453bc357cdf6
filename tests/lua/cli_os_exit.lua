-- os.exit as in lua5.4 (SPEC 1.2): data written to files opened with
-- io.open and not closed reaches them (exit() flushes C streams);
-- os.exit(code, true) on the serial thread also closes the VMs, so
-- finalizers run; from an actor in the parallel phase the data is still
-- written and the status kept (the VMs are not closed there: one line on
-- stderr says so). A finalizer calling os.exit(code, true) meanwhile ends
-- the process with its code, without closing anything twice.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local function script_file(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
end

local function contents(path)
    local f = io.open(path, "rb")
    local s = f and f:read("a")
    if f then f:close() end
    os.remove(path)
    return s
end

local data = os.tmpname()
local body = string.format([[
local f = assert(io.open(%q, "w"))
f:write("buffered data")
setmetatable({}, { __gc = function() print("finalizer ran") end })
os.exit(tonumber(arg[1]), arg[2] == "close")
print("NOT REACHED")
]], data)
local main = script_file(body)

local code, out = C.run({ main, "3" })
assert(code == 3, "status " .. tostring(code))
assert(contents(data) == "buffered data", "os.exit lost the buffered file data")
assert(out == "", "stdout: " .. out)

code, out = C.run({ main, "0", "close" })
assert(code == 0, "status " .. tostring(code))
assert(contents(data) == "buffered data", "os.exit(0, true) lost the buffered file data")
assert(out == "finalizer ran\n", "os.exit(0, true) did not close the state: " .. out)
os.remove(main)

-- a finalizer that calls os.exit(code, true) while the VMs close: no second close
local nested = script_file([[
setmetatable({}, { __gc = function() os.exit(4, true) end })
os.exit(0, true)
]])
code = C.run({ nested })
os.remove(nested)
assert(code == 4, "os.exit from a finalizer during os.exit: status " .. tostring(code))

-- from an actor in the parallel phase
local actor = script_file(string.format([[
local a = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = %q
s.Parent = a
a.Parent = workspace
]], "task.desynchronize() assert(parlua.phase() == 'parallel') " .. body:gsub("arg%[%d%]", {
    ["arg[1]"] = "5", ["arg[2]"] = "'close'" })))
local err
code, out, err = C.run({ actor })
os.remove(actor)
assert(code == 5, "parallel os.exit: status " .. tostring(code) .. " " .. err)
assert(contents(data) == "buffered data", "os.exit in parallel lost the buffered file data")
assert(err:find("VMs are not closed", 1, true), "stderr: " .. err)
print("OK")
