-- Uncaught errors are described by lua5.4's rules (strings and numbers as
-- they are, __tostring, else "(error object is a T value)") with the VM's
-- name and a traceback. A __tostring that raises or yields kills only its
-- own thread, even in actors running in parallel, and the report still
-- names the VM (issue 8 items 3 and 20; used to abort with status 134).
-- A script that cannot start gets no empty "stack traceback:" (item 23).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local function script(src)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(src)
    f:close()
    return path
end

local function check(src, want_lines, opts)
    local path = script(src)
    local code, out, err = C.run({ path })
    os.remove(path)
    local where = "script:\n" .. src .. "\nstderr:\n" .. err
    assert(code == 1, "exit status " .. tostring(code) .. "\n" .. where)
    for _, want in ipairs(want_lines) do
        assert(err:find(want), "no stderr match for " .. want .. "\n" .. where)
    end
    if opts and opts.no_traceback then
        assert(not err:find("stack traceback"), "unexpected traceback\n" .. where)
    end
    return out, err
end

check("error(42)", { "^parlua: uncaught error in main: 42\nstack traceback:\n" })
check("error(4.5)", { "uncaught error in main: 4%.5\n" })
check("error(setmetatable({}, {__tostring = function() return 'custom' end}))",
    { "uncaught error in main: custom\nstack traceback:\n" })
check("error({})", { "uncaught error in main: %(error object is a table value%)\n" })
check("error(setmetatable({}, {__tostring = function() error('ts boom') end}))",
    { "uncaught error in main: %(error object is a table value; converting it to a string "
        .. "failed: .*ts boom%)\nstack traceback:\n" })

-- in actors, in parallel: only the failing threads die; the others finish
local out = check([[
local function actor(name, body)
    local a = Instance.new("Actor")
    a.Name = name
    local s = Instance.new("Script")
    s.Source = "task.desynchronize() " .. body
    s.Parent = a
    a.Parent = workspace
end
actor("Raises", "error(setmetatable({}, {__tostring = function() error('ts boom') end}))")
actor("Yields", "error(setmetatable({}, {__tostring = function() coroutine.yield() end}))")
actor("Number", "error(42)")
actor("Fine", "task.synchronize() print('fine ran')")
task.wait() task.wait()
print("main ran")
]], {
    "uncaught error in actor Workspace%.Raises: %(error object is a table value; converting "
        .. "it to a string failed: [^\n]*ts boom%)\nstack traceback:\n",
    "uncaught error in actor Workspace%.Yields: %(error object is a table value; converting "
        .. "it to a string failed: attempt to yield",
    "uncaught error in actor Workspace%.Number: 42\n",
})
assert(out:find("fine ran") and out:find("main ran"), out)

-- a script that cannot start: its message, and no empty traceback
check([[
local a = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = "this is not Lua"
s.Parent = a
a.Parent = workspace
task.wait()
]], { "cannot start script in actor Workspace%.Actor: [^\n]*syntax error" }, { no_traceback = true })
print("OK")
