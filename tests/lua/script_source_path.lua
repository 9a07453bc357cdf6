-- Scripts (SPEC 2.2, 12): a Script with Source and Scripts with Path (a file
-- under tests/lua/lib, given absolute and relative to the working directory,
-- as dofile resolves it) run when they join game, in the main VM when no
-- Actor is above them; each sees its own `script`; scripts of one VM share
-- its globals. The main script is itself a Script under game. A Script out
-- of the game does not run until it joins.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

-- the main script is a Script instance under game, named after its file
assert(script ~= nil and script.ClassName == "Script" and script:IsA("Script"))
assert(script.Parent == game, "main script's parent: " .. tostring(script.Parent))
assert(script.Name == "script_source_path", "main script's name: " .. script.Name)
assert(script:GetActor() == nil)

local src = Instance.new("Script")
src.Name = "FromSource"
src.Source = [[
    source_script_seen = { script = script, name = script.Name, phase = parlua.phase() }
]]
assert(src.Source:find("source_script_seen", 1, true), "Source does not read back")

-- an absolute path
local cwd = io.popen("pwd"):read("l")
local abs_lib = U.LIB:sub(1, 1) == "/" and U.LIB or cwd .. "/" .. U.LIB
local file = Instance.new("Script")
file.Name = "FromPath"
file.Path = abs_lib .. "/path_script.lua"
assert(file.Path == abs_lib .. "/path_script.lua")

-- a relative path (relative to the working directory)
local rel_lib = U.LIB:sub(1, 1) ~= "/" and U.LIB
    or (U.LIB:sub(1, #cwd + 1) == cwd .. "/" and U.LIB:sub(#cwd + 2))
assert(rel_lib, "cannot make a relative path from " .. cwd .. " to " .. U.LIB)
local rel = Instance.new("Script")
rel.Name = "FromRelativePath"
rel.Path = rel_lib .. "/path_script.lua"

-- out of the game: nothing runs, even across frames
local holder = Instance.new("Folder")
src.Parent = holder
file.Parent = holder
rel.Parent = holder
task.wait()
task.wait()
assert(source_script_seen == nil and path_script_seen == nil, "a script ran outside the game")

holder.Parent = workspace -- both join the game now and start
assert(script.Name == "script_source_path", "the main script's `script` changed")
local deadline = time() + 30
while not (source_script_seen and path_script_seen and path_script_seen.FromPath
        and path_script_seen.FromRelativePath) do
    assert(time() < deadline, "the scripts never ran")
    task.wait()
end

local s = source_script_seen
assert(s.script == src, "Source script's `script` is not its instance")
assert(s.name == "FromSource" and s.phase == "serial")

local p = path_script_seen.FromPath
assert(p.script == file, "Path script's `script` is not its instance")
assert(p.name == "FromPath" and p.class == "Script" and p.phase == "serial")
assert(p.path == abs_lib .. "/path_script.lua")
assert(p.args == 0, "a started Script got arguments: " .. p.args)
local r = path_script_seen.FromRelativePath
assert(r.script == rel and r.path == rel_lib .. "/path_script.lua")

-- the globals are shared; `script` names the running thread's Script
assert(script.Name == "script_source_path")
assert(rawget(_G, "script") == script, "`script` is not the global of the running script")
print("OK")
