-- expect-status: 1
-- expect-stdout: ^First: as compiled from its text$
-- expect-stdout: ^Second: as compiled from its text$
-- expect-stdout: ^long name 1[0-9][0-9]: as compiled from its text$
-- expect-stdout: ^long name [3-9][0-9][0-9]: as compiled from its text$
-- expect-stdout: ^1 compiled, 3 loaded compiled$
-- expect-stderr: ^parlua: uncaught error in actor Workspace\.First: Workspace\.First\.Script:3: boom from First$
-- expect-stderr: ^	Workspace\.First\.Script:3: in local 'inner'$
-- expect-stderr: ^	Workspace\.First\.Script:26: in main chunk$
-- expect-stderr: ^parlua: uncaught error in actor Workspace\.Second: Workspace\.Second\.Script:3: boom from Second$
-- expect-stderr: ^	Workspace\.Second\.Script:3: in local 'inner'$
-- expect-stderr: ^	Workspace\.Second\.Script:26: in main chunk$
-- Compiled scripts (docs/design.md, "Compiled scripts"): a Source text is
-- compiled once and later scripts with the same text load the compiled
-- form, with their own name put in. Four actors run one text: each
-- script's errors, tracebacks and debug information name that script and
-- the lines of the text, exactly as a compile of the text under the
-- script's name gives them (names of every size: a one-byte and a
-- two-byte length field, short and long Lua strings, a name too long for
-- the loader's stack buffer), with local and upvalue names kept; the
-- uncaught errors on stderr name each script. The text is compiled once.
local text = [[
local mode = ...
local function inner()
  error("boom from " .. script.Parent.Name)
end
local t = nil
local function upvalue_index() return t.x end
local function local_index() local v; return v.x end
local function facts()
  local info = debug.getinfo(1, "S")
  local i = debug.getinfo(inner, "Sl")
  local _, e1 = pcall(inner)
  local _, e2 = pcall(upvalue_index)
  local _, e3 = pcall(local_index)
  local tb
  xpcall(inner, function(m) tb = debug.traceback(m) end)
  tb = tb:match("^(.-)%[C%]: in function 'xpcall'")
  return table.concat({info.source, info.short_src, i.source, i.short_src, i.linedefined,
    i.lastlinedefined, e1, e2, e3, tb}, "\n")
end
if mode == "fresh" then return facts() end
local fresh = assert(load(script.Source, "=" .. script:GetFullName()))("fresh")
local mine = facts()
assert(mine == fresh, "loaded:\n" .. mine .. "\ncompiled:\n" .. fresh)
print((#script.Parent.Name > 20 and "long name " .. #script:GetFullName() or script.Parent.Name)
  .. ": as compiled from its text")
inner()
]]
text = text .. "-- " .. os.time() .. "\n" -- a text this process has not compiled yet

local before = parlua.stats().compiled_scripts
for _, name in ipairs({"First", "Second", string.rep("L", 120), string.rep("M", 300)}) do
    local a = Instance.new("Actor")
    a.Name = name
    local s = Instance.new("Script")
    s.Source = text
    s.Parent = a
    a.Parent = workspace -- the script is loaded now (it runs in the next serial phase)
end
local after = parlua.stats().compiled_scripts
print(string.format("%d compiled, %d loaded compiled", after.compiled - before.compiled,
    after.loaded - before.loaded))
task.wait()
task.wait()
