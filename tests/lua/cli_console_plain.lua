-- The console without a terminal (`parlua -i` reading a pipe), LUA_INIT,
-- -E, -- and -v, compared with what lua5.4 does. The console on a terminal
-- is tested through a pseudo-terminal in tests/console.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local function has(s, part, what)
    assert(s:find(part, 1, true), what .. ": no " .. string.format("%q", part) .. " in:\n" .. s)
end

-- -v and the banner name parlua and Lua's version
local code, out, err = C.run({ "-v" })
assert(code == 0, err)
assert(out:match("^parlua %d+%.%d+%.%d+ %(Lua 5%.4%.%d+ "), out)

-- -i reading a pipe: prompts, values of expressions, a statement over
-- several lines, an error that does not end the session, end of input: 0
code, out, err = C.run({ "-e", "x = 5", "-i" }, table.concat({
    "x * 2, 'two'",
    "function f(n)",
    "  return n + 1",
    "end",
    "= f(41)",
    "error('boom')",
    "print('after', task.wait(0.05) >= 0.05)",
}, "\n") .. "\n")
assert(code == 0, "status " .. tostring(code) .. ": " .. err)
has(out, "10\ttwo\n", "an expression's values")
has(out, ">> ", "the continuation prompt")
has(out, "42\n", "a function defined over three lines")
has(err, "stdin:1: boom\nstack traceback:", "the error with its traceback")
has(out, "after\ttrue\n", "a chunk that waits, after an error")
assert(not err:find("(console)", 1, true), "the console's own frames in a traceback: " .. err)

-- _PROMPT and _PROMPT2, as lua5.4
code, out = C.run({ "-e", "_PROMPT = 'P1 '; _PROMPT2 = 'P2 '", "-i" }, "do\nend\n")
assert(code == 0)
has(out, "P1 P2 P1 ", "the prompts from _PROMPT and _PROMPT2")

-- no script, stdin not a terminal: stdin is the script (lua5.4 does so)
code, out = C.run({}, "print('from stdin', ...)\n")
assert(code == 0 and out == "from stdin\n", out)

-- LUA_INIT runs first, before -e, in the main VM; LUA_INIT_5_4 wins
code, out, err = C.run({ "-e", "print(init)" }, nil, { LUA_INIT = "init = 'LUA_INIT'" })
assert(code == 0 and out == "LUA_INIT\n", out .. err)
code, out = C.run({ "-e", "print(init)" }, nil,
    { LUA_INIT = "init = 'LUA_INIT'", LUA_INIT_5_4 = "init = 'LUA_INIT_5_4'" })
assert(out == "LUA_INIT_5_4\n", out)
-- @file runs a file; a missing one stops the command, as lua5.4
local file = os.tmpname()
local f = assert(io.open(file, "w"))
f:write("#!/usr/bin/env parlua\ninit = 'from ' .. 'file'\n")
f:close()
code, out = C.run({ "-e", "print(init)" }, nil, { LUA_INIT = "@" .. file })
assert(code == 0 and out == "from file\n", out)
os.remove(file)
code, out, err = C.run({ "-e", "print('ran')" }, nil, { LUA_INIT = "@" .. file })
assert(code == 1 and out == "", out)
has(err, "cannot open " .. file, "a missing LUA_INIT file")
-- an error in LUA_INIT stops the command before -e and the script
code, out, err = C.run({ "-e", "print('ran')" }, nil, { LUA_INIT = "error('bad init')" })
assert(code == 1 and out == "", out)
has(err, "LUA_INIT:1: bad init", "the LUA_INIT error")
code, out, err = C.run({ "-e", "print('ran')" }, nil, { LUA_INIT = "syntax error here" })
assert(code == 1 and out == "", out)
has(err, "LUA_INIT", "the LUA_INIT syntax error")

-- -E: LUA_INIT is not run, LUA_PATH and LUA_CPATH are not read (actors
-- copy the main VM's paths)
code, out, err = C.run({ "-E", "-e", [[
print(init, package.path:find("/nowhere", 1, true), package.cpath:find("/nowhere", 1, true))
]] }, nil, { LUA_INIT = "init = 1", LUA_PATH = "/nowhere/?.lua", LUA_CPATH = "/nowhere/?.so" })
assert(code == 0 and out == "nil\tnil\tnil\n", out .. err)
code, out = C.run({ "-e", "print(package.path:find('/nowhere', 1, true) ~= nil)" }, nil,
    { LUA_PATH = "/nowhere/?.lua" })
assert(out == "true\n", "without -E, LUA_PATH is read: " .. out)

-- --: the options end, the next word is the script even if it starts with -
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir " .. C.quote(dir)))
f = assert(io.open(dir .. "/-x.lua", "w"))
f:write("print('script', arg[0], ...)\n")
f:close()
code, out, err = C.run({ "--", dir .. "/-x.lua", "-e" })
assert(code == 0, err)
has(out, "script\t" .. dir .. "/-x.lua\t-e\n", "the script after --")
os.remove(dir .. "/-x.lua")
os.remove(dir)

print("OK")
