-- The command's permission options (SPEC 9): wrong uses are a bad command
-- line (status 2, a message naming the option and the fix); -l and -e run
-- with the sandbox's rights; a Script's Path is read with its actor's
-- rights; the main script may always be read.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local P = require("perm")
local C = P.C
local T = P.fixture()
local ok, err = pcall(function()
    local function bad(args, msg)
        local status, out, err = C.run(args)
        assert(status == 2, "status " .. tostring(status) .. " for " .. table.concat(args, " "))
        assert(err:find(msg, 1, true), err)
        assert(out == "")
    end
    local script = T .. "/data/inside.lua"
    bad({ "--allow-read=/tmp", script },
        "parlua: '--allow-read' grants a permission, but without --sandbox the command already has every permission: add --sandbox to start from none")
    bad({ "--sandbox", "--allow-run=yes", script },
        "parlua: '--allow-run=yes': this permission takes no PATH (it is a yes or no)")
    bad({ "--sandbox", "--allow-read=", script },
        "parlua: '--allow-read=' needs a PATH after '=' (or no '=' for everywhere)")
    bad({ "--sandbox", "--allow-reading", script }, "parlua: unrecognized option '--allow-reading'")
    local status, out = C.run({ "--help" })
    assert(status == 0 and out:find("--sandbox", 1, true) and out:find("--allow-write[=PATH]", 1, true))

    -- -l and -e run in the sandboxed main VM
    P.write(T .. "/lib/lmod.lua", "return 1")
    local status2, _, err2 = C.run({ "--sandbox", "-e", "package.path = '" .. T .. "/lib/?.lua'",
        "-l", "lmod", script })
    assert(status2 == 1 and err2:find("permission denied: read", 1, true), err2)
    local status3, _, err3 = C.run({ "--sandbox", "-e", "os.exit(0)", script })
    assert(status3 == 1 and err3:find("permission denied: exit 0 (exit not granted)", 1, true), err3)

    -- a Script's Path is read with the rights of the VM it runs in
    P.write(T .. "/data/path_ok.lua", "print('OK')")
    P.check({ "--sandbox", "--allow-spawn", "--allow-read=" .. T .. "/data" }, [[
local a = Instance.new("Actor")
a.Name = "A"
local s = Instance.new("Script")
s.Path = T .. "/data/path_ok.lua" -- prints the OK
s.Parent = a
a.Parent = workspace
]])
    local st4, _, e4 = P.run({ "--sandbox", "--allow-spawn", "--allow-read=" .. T .. "/data" }, [[
local a = Instance.new("Actor", nil, { allow = { read = T .. "/data/sub" } })
a.Name = "B"
local s = Instance.new("Script")
s.Path = T .. "/data/inside.lua"
s.Parent = a
a.Parent = workspace
]])
    assert(st4 == 1 and e4:find("parlua: cannot start script in actor Workspace.B: permission denied: read "
        .. T .. "/data/inside.lua (allowed: read under " .. T .. "/data/sub)", 1, true), e4)
end)
P.cleanup()
assert(ok, err)
print("OK")
