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

-- args: a list of strings, quoted for the shell; stdin: optional text.
function C.run(args, stdin)
    local parts = { quote(C.exe) }
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

return C
