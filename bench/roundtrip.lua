-- Message round trip between two actors, both bound in parallel: "ping"
-- goes to Pong, which answers "pong" to Ping, N times. Prints
-- "RESULT roundtrip_us <microseconds per round trip>".
local N = tonumber(arg and arg[1]) or 100000

local source = [[
  local actor = script:GetActor()
  local peer
  local n, t0 = 0, 0
  actor:BindToMessageParallel("peer", function(p) peer = p end)
  if actor.Name == "Ping" then
    actor:BindToMessageParallel("start", function(count)
      n = count
      t0 = time()
      peer:SendMessage("ping")
    end)
    local conn
    conn = actor:BindToMessageParallel("pong", function()
      n = n - 1
      if n > 0 then
        peer:SendMessage("ping")
      else
        local dt = time() - t0
        task.synchronize()
        print(string.format("RESULT roundtrip_us %.3f", dt / COUNT * 1e6))
        peer:SendMessage("stop")
        conn:Disconnect()
      end
    end)
  else
    local conn
    conn = actor:BindToMessageParallel("ping", function() peer:SendMessage("pong") end)
    actor:BindToMessage("stop", function() conn:Disconnect() end)
  end
]]

local ping, pong = Instance.new("Actor"), Instance.new("Actor")
ping.Name, pong.Name = "Ping", "Pong"
for _, a in ipairs({ping, pong}) do
  local s = Instance.new("Script")
  s.Source = "local COUNT = " .. N .. "\n" .. source
  s.Parent = a
  a.Parent = workspace
end
ping:SendMessage("peer", pong)
pong:SendMessage("peer", ping)
ping:SendMessage("start", N)
