-- The --trace file stays valid JSON (UTF-8 text) whatever the actors are
-- named: bytes that are not valid UTF-8 (a stray byte, an overlong form, a
-- surrogate, a truncated sequence) become U+FFFD; valid UTF-8, quotes,
-- backslashes and control characters keep their meaning.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")
local json = require("json")

local script, path = os.tmpname(), os.tmpname()
local f = assert(io.open(script, "w"))
f:write([[
for _, name in ipairs({ "bad\xff\xfe", "over\xc0\xaflong", "sur\xed\xa0\x80gate", "cut\xe2\x82",
                        "caf\xc3\xa9 \xf0\x9f\x98\x80", 'q"b\\n\n' }) do
  local a = Instance.new("Actor")
  a.Name = name
  local s = Instance.new("Script")
  s.Source = "task.desynchronize() local x = 0 for i = 1, 1000 do x = x + i end"
  s.Parent = a
  a.Parent = workspace
end
]])
f:close()
local code, _, err = C.run({ "--trace", path, script })
os.remove(script)
assert(code == 0, "status " .. tostring(code) .. ": " .. err)
f = assert(io.open(path, "rb"))
local text = f:read("a")
f:close()
os.remove(path)
assert(utf8.len(text), "the trace file is not valid UTF-8")
local doc = json.decode(text)
local names = {}
for i = 1, doc.traceEvents.n do names[doc.traceEvents[i].name] = true end
for _, want in ipairs({ "Workspace.bad\u{FFFD}\u{FFFD}", "Workspace.over\u{FFFD}\u{FFFD}long",
                        "Workspace.sur\u{FFFD}\u{FFFD}\u{FFFD}gate", "Workspace.cut\u{FFFD}\u{FFFD}",
                        "Workspace.caf\u{E9} \u{1F600}", 'Workspace.q"b\\n\n' }) do
    assert(names[want], "no event named " .. want)
end
print("OK")
