-- Attributes shared between VMs (SPEC 2.3): the owner writes its instance's
-- attributes in parallel while other actors read them in the same parallel
-- phases. A read never sees a torn value: every string read is one the
-- owner wrote whole, and its number attribute always matches the string
-- written before it. Run under ThreadSanitizer (make tsan) for races.
-- expect-no-stderr
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local ROUNDS = 40
U.actor("Writer", [[
  local own = Instance.new("Folder")
  own.Name = "Board"
  own:SetAttribute("n", 0)
  own:SetAttribute("s", "0")
  own.Parent = script:GetActor()
  U.signal("BoardReady")
  for round = 1, ]] .. ROUNDS .. [[ do
    task.desynchronize()
    for i = 1, 200 do
      local v = round * 1000 + i
      own:SetAttribute("s", string.rep(tostring(v) .. ",", 20))
      own:SetAttribute("n", v)
    end
    task.wait()
  end
  task.synchronize()
  U.signal("WriterDone")
]])
U.wait_signal("BoardReady")
-- an instance with no attributes or connections yet: the readers connect
-- to it at once in parallel, racing to make its per-instance part
local fresh = Instance.new("Folder")
fresh.Name = "Fresh"
fresh.Parent = workspace
local seen = SharedTableRegistry:GetSharedTable("seen")
seen.n = 0
for r = 1, 3 do
  U.actor("Reader" .. r, [[
    local board = workspace.Writer.Board
    local reads = 0
    task.desynchronize()
    workspace.Fresh.AttributeChanged:Connect(function(name)
      assert(name == "ping")
      SharedTable.increment(SharedTableRegistry:GetSharedTable("seen"), "n", 1)
    end)
    task.synchronize()
    while not workspace:FindFirstChild("WriterDone") do
      task.desynchronize()
      for i = 1, 200 do
        local n = board:GetAttribute("n")
        local s = board:GetAttribute("s")
        local first = tonumber(s:match("^(%d+),"))
        assert(s == string.rep(first .. ",", 20), "a torn string: " .. s)
        assert(first >= n, "the string is older than the number written after it")
        reads = reads + 1
        local all = board:GetAttributes()
        assert(type(all.n) == "number" and type(all.s) == "string")
      end
      task.wait()
    end
    task.synchronize()
    assert(reads > 0)
    U.signal("ReaderDone]] .. r .. [[")
  ]])
end
for r = 1, 3 do U.wait_signal("ReaderDone" .. r) end
fresh:SetAttribute("ping", true)
local deadline = time() + 30
while seen.n < 3 do
  assert(time() < deadline, "AttributeChanged reached " .. seen.n .. " of 3 handlers")
  task.wait()
end
print("OK")
