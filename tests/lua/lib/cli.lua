-- Runs the parlua command that runs this test (arg's lowest index) with
-- other arguments, for the command-line tests. C.run(args) returns the exit
-- status, stdout and stderr.
local C = {}

local i = 0
while arg[i - 1] do i = i - 1 end
C.exe = arg[i]

local function quote(s)
    return "'" .. s:gsub("'", "'\\''") .. "'"
end
C.quote = quote

local function slurp(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    os.remove(path)
    return s
end

-- args: a list of strings, quoted for the shell; stdin: optional text;
-- env: optional table of environment variables for the command.
function C.run(args, stdin, env)
    local parts = { quote(C.exe) }
    if env then
        local names = {}
        for k in pairs(env) do names[#names + 1] = k end
        table.sort(names)
        for j = #names, 1, -1 do table.insert(parts, 1, names[j] .. "=" .. quote(env[names[j]])) end
    end
    for _, a in ipairs(args) do parts[#parts + 1] = quote(a) end
    local out, err = os.tmpname(), os.tmpname()
    local cmd = table.concat(parts, " ") .. " >" .. out .. " 2>" .. err
    if stdin then
        local inp = os.tmpname()
        local f = assert(io.open(inp, "wb"))
        f:write(stdin)
        f:close()
        cmd = cmd .. " <" .. inp
        local _, _, code = os.execute(cmd)
        os.remove(inp)
        return code, slurp(out), slurp(err)
    end
    local _, _, code = os.execute(cmd .. " </dev/null")
    return code, slurp(out), slurp(err)
end

-- A script that creates the file `marker` and prints "ran": tests check
-- that a bad command line stops parlua before any script runs. Returns the
-- script's path and the marker's (not existing yet).
function C.marker_script()
    local marker = os.tmpname()
    os.remove(marker)
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(string.format("io.open(%q, 'w'):close() print('ran')\n", marker))
    f:close()
    return script, marker
end

return C
