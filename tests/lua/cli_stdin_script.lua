-- A main script read from standard input (`parlua -`) is read once: a clone
-- of it (script:Clone() into an Actor) runs the same text. Scripts run Lua
-- source text only, the same rule for Script.Source, Script.Path and the
-- main script: a precompiled chunk is refused with a clear error.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local code, out, err = C.run({ "-", "x" }, [[#!/usr/bin/env parlua
if script:GetActor() == nil then
    local a = Instance.new("Actor")
    script:Clone().Parent = a
    a.Parent = workspace
    print("main " .. select(1, ...))
else
    print("clone in " .. script:GetActor().ClassName)
end
]])
assert(code == 0, "status " .. tostring(code) .. ", stderr: " .. err)
assert(out:find("main x\n", 1, true), "stdout: " .. out)
assert(out:find("clone in Actor\n", 1, true), "the clone did not run: " .. out)

-- line numbers of stdin scripts hold after a '#' first line
code, _, err = C.run({ "-" }, "#!/bin/parlua\n\nerror('line three')\n")
assert(code == 1 and err:find("stdin:3: line three", 1, true), err)

-- precompiled chunks: refused everywhere, with the reason
local binary = string.dump(load("print('binary ran')"))
local bin = os.tmpname()
local f = assert(io.open(bin, "wb"))
f:write(binary)
f:close()
code, out, err = C.run({ bin })
assert(code == 1 and out == "", "binary main script: status " .. tostring(code) .. " " .. out)
assert(err:find("precompiled", 1, true), "stderr: " .. err)
code, out, err = C.run({ "-" }, binary)
assert(code == 1 and out == "" and err:find("precompiled", 1, true), "stdin: " .. err)

local main = os.tmpname()
f = assert(io.open(main, "w"))
f:write(string.format([[
local p = Instance.new("Script")
p.Path = %q
p.Parent = workspace
local s = Instance.new("Script")
s.Name = "BinarySource"
s.Source = %q
s.Parent = workspace
]], bin, binary))
f:close()
code, out, err = C.run({ main })
os.remove(main)
os.remove(bin)
assert(out == "", "a binary chunk ran: " .. out)
local _, n = err:gsub("precompiled", "")
assert(n == 2, "stderr: " .. err)
assert(err:find("BinarySource", 1, true) and err:find(bin, 1, true), "names the script: " .. err)
print("OK")
