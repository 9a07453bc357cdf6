-- A handler that raises in the middle of a batch of messages (lib/actor.c's
-- batch runner): the error is reported as any handler's, "uncaught error in
-- actor X: msg" and a traceback that ends at the handler (the runner's C
-- frame is not in it, nor in debug.traceback), then its to-be-closed
-- variables close; the following messages are still handled, in order.
-- The same for the batch's first message and for a handler that errs
-- after it yielded. Runs itself as a child to read its whole stderr.
if arg[1] ~= "child" then
    local p = io.popen(string.format("%q %q child 2>&1", arg[-1], arg[0]))
    local out = p:read("a")
    local _, _, status = p:close()
    local function fail(why) error(why .. "\n--- child's output:\n" .. out, 0) end
    if status ~= 1 then fail("exit status " .. tostring(status)) end
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    local function find(pat, from)
        for k = from or 1, #lines do
            if lines[k]:find(pat) then return k end
        end
        fail("no line matches " .. pat)
    end
    for _, i in ipairs({ 1, 3, 5 }) do
        local at = find("^parlua: uncaught error in actor Workspace%.Errs: .*boom " .. i .. "$")
        assert(lines[at + 1] == "stack traceback:", lines[at + 1])
        assert(lines[at + 2] == "\t[C]: in function 'error'", lines[at + 2])
        assert(lines[at + 3]:find("^\t.*: in function <.*>$"), lines[at + 3])
        if i == 5 then assert(lines[at + 4]:find("^\t%[C%]: in function 'task%.wait'$") == nil) end
        local next = lines[at + 4]
        assert(next == nil or not next:find("^\t"), "traceback goes on: " .. tostring(next))
        assert(find("^closed " .. i .. "$", at) == at + 4, "closed " .. i .. " not right after")
    end
    find("^handled 2 4 6 7$")
    find("^tb ok$")
    assert(not out:find("[C]: in ?", 1, true), "the runner's frame shows")
    print("OK")
    return
end

local a = Instance.new("Actor")
a.Name = "Errs"
local s = Instance.new("Script")
s.Source = [[
    local me = script:GetActor()
    local log = {}
    me:BindToMessage("m", function(i)
        local c <close> = setmetatable({}, { __close = function() print("closed " .. i) end })
        if i == 1 or i == 3 then error("boom " .. i) end
        if i == 5 then
            task.wait()
            error("boom 5")
        end
        if i == 2 then
            local tb = debug.traceback("x")
            local last = tb:match("[^\n]*$")
            assert(last:find("in function <"), "traceback ends with " .. last)
            print("tb ok")
        end
        log[#log + 1] = tostring(i)
        if i == 7 then print("handled " .. table.concat(log, " ")) end
    end)
]]
s.Parent = a
a.Parent = workspace
task.wait()
for i = 1, 7 do a:SendMessage("m", i) end
