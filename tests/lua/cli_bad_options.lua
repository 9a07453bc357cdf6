-- Errors in the command line (SPEC 9): a clear message on stderr and exit
-- status 2, and no script runs: an unknown option, --workers without a
-- number, with 0, with a fraction, with text, --fps with 0 or text, -e
-- without its argument, --workers beyond the cap (1024), --fps too small to
-- pace (1e-300). A good command line still runs (status 0).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")

local script, marker = C.marker_script()

local cases = {
    { "--bogus-option", script },
    { "--workers" },
    { "--workers", "0", script },
    { "--workers", "1.5", script },
    { "--workers", "many", script },
    { "--fps", "0", script },
    { "--fps", "fast", script },
    { "--fps", "1e-300", script }, -- a period beyond any clock: would never pace
    { "--workers", "1000000", script }, -- beyond the cap (would take minutes to start)
    { "--workers", "1025", script },
    { "-e" },
}
for _, args in ipairs(cases) do
    local code, out, err = C.run(args)
    local what = table.concat(args, " ")
    assert(code == 2, what .. ": exit status " .. tostring(code))
    assert(#err > 0 and err:find("parlua", 1, true), what .. ": no message on stderr")
    assert(not out:find("ran", 1, true), what .. ": the script ran")
    assert(not io.open(marker), what .. ": the script ran")
end
local _, _, err = C.run({ "--bogus-option", script })
assert(err:find("--bogus-option", 1, true), "the message does not name the option: " .. err)
_, _, err = C.run({ "--workers", "1000000", script })
assert(err:find("from 1 to 1024", 1, true), "the message does not name the cap: " .. err)

-- the good form of the same options works
local code, out = C.run({ "--workers", "2", "--fps", "1000", script })
assert(code == 0 and out == "ran\n", "good command line: " .. tostring(code) .. " " .. out)
os.remove(marker)
os.remove(script)
print("OK")
