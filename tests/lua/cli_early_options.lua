-- -e and -l as in lua5.4 (SPEC 9): they run in command-line order before
-- the script; the first error stops the command before the script runs
-- (status 1, the message once on stderr); -l [g=]mod calls require by value
-- (names with dots, quotes or any length are data, never code), stores the
-- module in g, or in the module name cut at its first '-' (lua 5.4.6).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local function ran(marker)
    local f = io.open(marker)
    if f then f:close() os.remove(marker) end
    return f ~= nil
end

-- an error in -e stops the command: no later -e, no script
local script, marker = C.marker_script()
local code, out, err = C.run({ "-e", "error('early boom')", "-e", "print('second')", script })
assert(code == 1, "-e error: status " .. tostring(code) .. ", stderr: " .. err)
assert(not ran(marker) and out == "", "the script or a later -e ran after an -e error: " .. out)
assert(select(2, err:gsub("early boom", "")) == 1, "the message once: " .. err)

-- a -l that fails stops the command too
code, out, err = C.run({ "-l", "no_such_module_here", script })
assert(code == 1, "-l error: status " .. tostring(code))
assert(not ran(marker) and out == "", "the script ran after a -l error")
assert(err:find("module 'no_such_module_here' not found", 1, true), err)

-- a syntax error in -e, the same
code, out, err = C.run({ "-e", "this is not lua", script })
assert(code == 1 and not ran(marker), "-e syntax error: status " .. tostring(code))

-- -l by value: names that are not Lua identifiers
local preload = "for _, n in ipairs({'a.b', 'q\"uo]]te', 'g', 'm-v2', ('x'):rep(600)}) do "
    .. "package.preload[n] = function(name) return { name = name } end end"
code, out, err = C.run({ "-e", preload, "-l", "a.b", "-l", 'q"uo]]te', "-l", "y=g",
    "-l", "m-v2", "-l", ("x"):rep(600), "-e",
    "assert(_G['a.b'].name == 'a.b' and _G['q\"uo]]te'].name == 'q\"uo]]te') "
    .. "assert(y.name == 'g' and g == nil) assert(m.name == 'm-v2' and _G['m-v2'] == nil) "
    .. "assert(_G[('x'):rep(600)].name == ('x'):rep(600)) print('libs ok')",
    script })
assert(code == 0, "-l by value: status " .. tostring(code) .. ", stderr: " .. err)
assert(out == "libs ok\nran\n", "stdout: " .. out)
assert(ran(marker))

-- a name that would have been code once is only a module name now
code, out, err = C.run({ "-l", 'x") os.exit(7) --', script })
assert(code == 1 and err:find("not found", 1, true), "status " .. tostring(code) .. " " .. err)
assert(not ran(marker))
os.remove(script)
print("OK")
