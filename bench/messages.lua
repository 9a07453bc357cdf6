-- One sender (the main script) to one actor: N small messages, each with
-- one integer, handled in parallel. Prints the send rate and the
-- end-to-end rate (sent and handled) in millions of messages per second.
local N = tonumber(arg and arg[1]) or 1000000
local actor = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = [[
  local count = 0
  local conn
  conn = script:GetActor():BindToMessageParallel("m", function(i)
    count = count + 1
    if i == 0 then
      task.synchronize()
      assert(count == ]] .. N .. [[, "lost messages")
      conn:Disconnect()
    end
  end)
]]
s.Parent = actor
actor.Parent = workspace
task.wait() -- let the actor bind
local t0 = time()
for i = N - 1, 0, -1 do actor:SendMessage("m", i) end
local t1 = time()
task.wait() -- the next frame starts after the parallel phase handled them all
local t2 = time()
print(string.format("RESULT send_mps %.3f", N / (t1 - t0) / 1e6))
print(string.format("RESULT messages_mps %.3f", N / (t2 - t0) / 1e6))
