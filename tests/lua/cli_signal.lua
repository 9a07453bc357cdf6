-- SIGINT and SIGTERM (SPEC 9): the first ends the current frame, writes the
-- --trace file (valid JSON) and the --stats summary, and exits 130 or 143;
-- a busy serial loop is stopped with "interrupted!" as in lua5.4; a second
-- signal ends the process at once, even while an actor spins in parallel.
-- Each program creates a marker file when it is running; the shell waits
-- for it before sending the signal.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")
local json = require("json")

local function slurp(path)
    local f = io.open(path, "rb")
    if not f then return "" end
    local s = f:read("a")
    f:close()
    os.remove(path)
    return s
end

-- Runs body (after the marker is made) and sends the signals; returns the
-- exit status, stderr and the trace file's text.
local function run(body, signals)
    local marker, script, trace, err = os.tmpname(), os.tmpname(), os.tmpname(), os.tmpname()
    os.remove(marker)
    local f = assert(io.open(script, "w"))
    f:write(string.format("io.open(%q, 'w'):close()\n", marker), body)
    f:close()
    local sh = { C.quote(C.exe) .. " --stats --trace " .. trace .. " " .. script ..
        " >/dev/null 2>" .. err .. " </dev/null & p=$!",
        "i=0; while [ ! -e " .. marker .. " ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done",
        "sleep 0.1" }
    for _, sig in ipairs(signals) do
        sh[#sh + 1] = "kill -" .. sig .. " $p; sleep 0.2"
        sh[#sh + 1] = "kill -0 $p 2>/dev/null && echo alive"
    end
    -- never hang the test: give up after 10 s
    sh[#sh + 1] = "i=0; while kill -0 $p 2>/dev/null && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done"
    sh[#sh + 1] = "kill -0 $p 2>/dev/null && { kill -KILL $p; echo hung; }"
    sh[#sh + 1] = "wait $p; echo status $?"
    local p = io.popen("sh -c " .. C.quote(table.concat(sh, "\n")))
    local out = p:read("a")
    p:close()
    os.remove(marker)
    os.remove(script)
    return tonumber(out:match("status (%d+)")), slurp(err), slurp(trace), out
end

-- a busy serial loop in the main script's first run (it calls string.format
-- now and then: under ThreadSanitizer a signal is handled at a libc call)
local status, err, trace = run([[
local n = 0
while true do
    n = n + 1
    if n % 100000 == 0 then string.format("%g", n) end
end
]], { "INT" })
assert(status == 130, "SIGINT: status " .. tostring(status) .. "\n" .. err)
assert(err:find("interrupted!", 1, true), err)
assert(err:find("parlua --stats", 1, true), "no summary:\n" .. err)
assert(#trace > 0, "the trace file is empty")
json.decode(trace)

-- a frame loop, with an actor: SIGTERM
status, err, trace = run([[
local a = Instance.new("Actor")
a.Parent = workspace
while true do task.wait(0.01) end
]], { "TERM" })
assert(status == 143, "SIGTERM: status " .. tostring(status) .. "\n" .. err)
assert(err:find("parlua --stats", 1, true), "no summary:\n" .. err)
local doc = json.decode(trace)
local frames = 0
for i = 1, doc.traceEvents.n do
    if doc.traceEvents[i].name == "frame" then frames = frames + 1 end
end
assert(frames > 0, "no frame in the trace")

-- an actor stuck in parallel: the frame cannot end; the second signal ends it
local out
status, err, trace, out = run([[
local a = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = "task.desynchronize() while true do end"
s.Parent = a
a.Parent = workspace
]], { "INT", "INT" })
local alive = select(2, out:gsub("alive", ""))
assert(alive == 1, "alive after the first signal only, not after the second:\n" .. out)
assert(status == 130, "status " .. tostring(status))
print("OK")
