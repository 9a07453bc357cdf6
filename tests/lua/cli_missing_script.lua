-- The command with a script that does not exist (SPEC 9, as lua5.4): exit
-- status 1 and a "cannot open" message naming the file on stderr, nothing on
-- stdout. Runs the same parlua binary as a child process.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")
assert(C.exe and C.exe ~= "", "cannot find the parlua command in arg")

local missing = "/nonexistent/dir/no_such_script.lua"
local code, out, err = C.run({ missing })
assert(code == 1, "exit status " .. tostring(code) .. ", stderr: " .. err)
assert(err:find("cannot open", 1, true), "stderr: " .. err)
assert(err:find("no_such_script.lua", 1, true), "stderr does not name the file: " .. err)
assert(out == "", "stdout: " .. out)

-- with options and arguments around it, the same
code, _, err = C.run({ "--workers", "1", missing, "x", "y" })
assert(code == 1 and err:find("cannot open", 1, true), "with options: " .. tostring(code) .. " " .. err)

-- and a file that exists but does not compile: status 1, the syntax error
local bad = os.tmpname()
local f = assert(io.open(bad, "w"))
f:write("local x = = 1\n")
f:close()
code, _, err = C.run({ bad })
os.remove(bad)
assert(code == 1, "syntax error: exit status " .. tostring(code))
assert(err:find("unexpected symbol", 1, true) or err:find("syntax", 1, true), "stderr: " .. err)
print("OK")
