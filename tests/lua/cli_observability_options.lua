-- --trace, --stats and --frame-budget on the command line (SPEC 9): a trace
-- file that cannot be created is reported at once, naming the file and the
-- system's reason, with status 2 and before the script runs; bad values
-- get status 2; os.exit in the serial phase still writes them; --help
-- describes them.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local script, marker = C.marker_script()

local code, out, err = C.run({ "--trace", "/nonexistent-dir/t.json", script })
assert(code == 2, "status " .. tostring(code))
assert(err:find("parlua: cannot create trace file '/nonexistent-dir/t.json': No such file or directory", 1, true), err)
assert(not io.open(marker), "the script ran")

for _, args in ipairs({
    { "--trace" },
    { "--frame-budget" },
    { "--frame-budget", "-5", script },
    { "--frame-budget", "soon", script },
}) do
    code, out, err = C.run(args)
    assert(code == 2 and err:find("parlua", 1, true), table.concat(args, " ") .. ": " .. tostring(code))
    assert(not io.open(marker), table.concat(args, " ") .. ": the script ran")
end

-- good forms; options may come in any order with the others
local trace = os.tmpname()
code, out, err = C.run({ "--frame-budget", "250", "--trace", trace, "--stats", "--workers", "1", script })
assert(code == 0 and out == "ran\n", tostring(code) .. " " .. err)
assert(err:find("parlua --stats", 1, true), err)
local t = assert(io.open(trace)):read("a")
assert(t:find('"traceEvents"', 1, true))
os.remove(trace)
os.remove(marker)

-- os.exit in the serial phase still writes the trace and the summary; in
-- the parallel phase it cannot, and says so
trace = os.tmpname()
code, out, err = C.run({ "--trace", trace, "--stats", "-e", "print('before') os.exit(3)" })
assert(code == 3 and out == "before\n" and err:find("parlua --stats", 1, true), err)
t = assert(io.open(trace)):read("a")
assert(t:find('"traceEvents"', 1, true) and t:find("}}\n$"), "trace not written at os.exit")
code, out, err = C.run({ "--trace", trace, "-e", [[
    local a = Instance.new("Actor")
    local s = Instance.new("Script")
    s.Source = "script:GetActor():BindToMessageParallel('x', function() os.exit(4) end)"
    s.Parent = a
    a.Parent = workspace
    a:SendMessage("x")]] })
assert(code == 4 and err:find("os.exit in the parallel phase: the trace file and the --stats summary are not written", 1, true), err)
os.remove(trace)

code, out = C.run({ "--help" })
assert(code == 0 and out:find("--trace FILE", 1, true) and out:find("--stats", 1, true) and
    out:find("--frame-budget MS", 1, true), out)
os.remove(script)
print("OK")
