-- Signals in one VM (SPEC 2.1, 1.3): handlers run in the order they were
-- connected, after the firing code yields (deferred, as Roblox's default),
-- before the next thread resumes; Once runs once; Wait returns the values;
-- Disconnect (also of a later handler during a fire) stops a handler at
-- once; Connected says so; every signal is the same type.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local log = {}
local function note(s) log[#log + 1] = s end
local function take() local s = table.concat(log, " "); log = {}; return s end

local f = Instance.new("Folder")
f.Parent = workspace
local c1 = f.ChildAdded:Connect(function(c) note("1:" .. c.Name) end)
local c2 = f.ChildAdded:Connect(function(c) note("2:" .. c.Name) end)
f.ChildAdded:Once(function(c) note("once:" .. c.Name) end)
f.ChildRemoved:Connect(function(c) note("removed:" .. c.Name) end)
local a = Instance.new("Folder"); a.Name = "A"; a.Parent = f
local b = Instance.new("Folder"); b.Name = "B"; b.Parent = f
assert(take() == "", "handlers ran before the firing code yielded")
task.wait()
assert(take() == "1:A 2:A once:A 1:B 2:B", "order or Once")
a.Parent = nil
task.wait()
assert(take() == "removed:A")

-- Disconnect: at once, even for a fire already on its way
assert(c2.Connected == true)
b.Parent = nil; b.Parent = f
c2:Disconnect()
assert(c2.Connected == false)
c2:Disconnect() -- twice is fine
task.wait()
assert(take() == "removed:B 1:B", "a disconnected handler ran")

-- a handler disconnecting a later one during a fire
local ev = Instance.new("BindableEvent")
local later
ev.Event:Connect(function(x) note("first" .. x); later:Disconnect() end)
later = ev.Event:Connect(function(x) note("later" .. x) end)
ev:Fire(1)
task.wait()
assert(take() == "first1", "a handler disconnected during the fire ran")

-- values are transferred (tables copied), in order, with nils kept
local t = {k = {1, 2}}
ev.Event:Connect(function(...) note(select("#", ...)) end)
local got
task.spawn(function() got = table.pack(ev.Event:Wait()) end)
ev:Fire(1, nil, "s", t)
task.wait()
assert(got.n == 4 and got[1] == 1 and got[2] == nil and got[3] == "s" and got[4].k[2] == 2)
assert(got[4] ~= t, "BindableEvent copies tables, as Roblox does")
take()

-- Wait in a loop gets each fire once; Once on Heartbeat; Heartbeat:Wait
local seen = {}
task.spawn(function() for i = 1, 3 do seen[i] = ev.Event:Wait() end end)
for i = 1, 3 do ev:Fire("v" .. i); task.wait() end
assert(seen[1] == "v1" and seen[2] == "v2" and seen[3] == "v3", table.concat(seen, ","))
local hb = game:GetService("RunService").Heartbeat
assert(type(hb:Wait()) == "number")
local n = 0
hb:Once(function() n = n + 1 end)
task.wait(); task.wait(); task.wait()
assert(n == 1, "Heartbeat:Once ran " .. n .. " times")

-- one type for every signal; bad use is named
assert(tostring(hb):match("^Signal") and tostring(f.Destroying):match("^Signal"))
assert(getmetatable(hb) == getmetatable(f.ChildAdded))
U.raises_with("Connect", function() f.ChildAdded.Connect(f.ChildAdded, 42) end)
U.raises_with("is not a valid member of RBXScriptSignal", function() return f.ChildAdded.Fire end)
U.raises_with("RBXScriptConnection expected, got number", function() c1.Disconnect(1) end)
U.raises_with("RBXScriptConnection expected, got table", function() return getmetatable(c1).__index({}, "Connected") end)
assert(tostring(c1):match("^RBXScriptConnection"))
U.raises("ConnectParallel can only be called from a script that is a descendant of an Actor (use Connect)",
  function() f.ChildAdded:ConnectParallel(print) end)

-- Destroying fires, then the instance's connections go
local d = Instance.new("Folder")
d.Parent = f
local dc = d.Destroying:Connect(function() note("destroying") end)
local ac = d.AttributeChanged:Connect(function() note("attr") end)
task.wait()
take()
d:Destroy()
assert(dc.Connected == false and ac.Connected == false)
task.wait()
local s = take()
assert(s == "destroying removed:Folder", s)
print("OK")
