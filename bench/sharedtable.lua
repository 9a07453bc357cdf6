-- SharedTable figures (SPEC 4, 11), one "RESULT name value" line each:
--   get_mps, set_mps        st[k] read / written in a loop, one VM, M/s
--                           (bench/sharedtable-plain.lua: the same loops
--                           on a plain table under lua5.4)
--   increment_mps_1         SharedTable.increment of a shared counter (a
--                           table holding one key), one VM, M/s
--   increment_mps_1_201keys the same on a key of a 201-key table (a write
--                           copies a longer path)
--   increment_mps_all       the counter from every worker at once (one
--                           actor per worker, one parallel phase), M/s in
--                           total
--   update_us               SharedTable.update of a number (v + 1), one VM,
--                           us per call (SPEC 4; issue 12: <= 0.2 us)
--   clone_1m_us             SharedTable.clone of a 1,000,000-key table, us
--   clone_10_us             ... of a 10-key table, us (the same: O(1))
--   transaction10_tps       transactions reading and writing 10 keys, per s
--   parlua bench/sharedtable.lua [scale]   (scale multiplies the loop counts)
local scale = tonumber(arg and arg[1]) or 1
local N = math.floor(2000000 * scale)

local st = SharedTable.new()
for i = 1, 100 do st["key" .. i] = i end
for i = 1, 100 do st[i] = i end
st.x = 1

local function rate(n, t) return n / t / 1e6 end

do -- get
    local s = st
    local t0 = os.clock()
    for _ = 1, N do local v = s.x end
    print(string.format("RESULT get_mps %.2f", rate(N, os.clock() - t0)))
end
do -- set
    local s = st
    local t0 = os.clock()
    for i = 1, N do s.x = i end
    print(string.format("RESULT set_mps %.2f", rate(N, os.clock() - t0)))
end
do -- increment, one VM: a counter (a table of one key), and a key of st
    local inc, counter = SharedTable.increment, SharedTable.new({ counter = 0 })
    local n = N // 2
    local t0 = os.clock()
    for _ = 1, n do inc(counter, "counter", 1) end
    print(string.format("RESULT increment_mps_1 %.2f", rate(n, os.clock() - t0)))
    t0 = os.clock()
    for _ = 1, n do inc(st, "x", 1) end
    print(string.format("RESULT increment_mps_1_201keys %.2f", rate(n, os.clock() - t0)))
end

do -- update of a number, one VM (a word count's merge: (v or 0) + 1)
    local update, counter = SharedTable.update, SharedTable.new({ counter = 0 })
    local function add1(v) return (v or 0) + 1 end
    local n = N // 4
    local t0 = os.clock()
    for _ = 1, n do update(counter, "counter", add1) end
    print(string.format("RESULT update_us %.3f", (os.clock() - t0) / n * 1e6))
    assert(counter.counter == n)
end

do -- clone: a 1,000,000-key table and a 10-key table, same cost
    local plain = {}
    for i = 1, 1000000 do plain[i] = i end
    local big = SharedTable.new(plain)
    plain = nil
    local small = SharedTable.new({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 })
    local K = math.floor(20000 * scale)
    for _, case in ipairs({ { "clone_1m_us", big }, { "clone_10_us", small } }) do
        collectgarbage()
        local clone, src = SharedTable.clone, case[2]
        local t0 = os.clock()
        for _ = 1, K do local c = clone(src) end
        print(string.format("RESULT %s %.3f", case[1], (os.clock() - t0) / K * 1e6))
    end
    assert(SharedTable.size(SharedTable.clone(big)) == 1000000)
end

do -- transactions of 10 keys
    local tt = SharedTable.new({ k1 = 0, k2 = 0, k3 = 0, k4 = 0, k5 = 0, k6 = 0, k7 = 0, k8 = 0, k9 = 0, k10 = 0 })
    local keys = {}
    for i = 1, 10 do keys[i] = "k" .. i end
    local function body(view)
        for i = 1, 10 do local k = keys[i]; view[k] = view[k] + 1 end
    end
    local n = math.floor(100000 * scale)
    local transaction = SharedTable.transaction
    local t0 = os.clock()
    for _ = 1, n do transaction(tt, body) end
    print(string.format("RESULT transaction10_tps %.0f", n / (os.clock() - t0)))
    assert(tt.k10 == n)
end

-- increment from every worker at once: one actor per worker, one key
local W = parlua.workers()
local n = N // 2
local shared = SharedTable.new({ counter = 0 })
local results = SharedTable.new({ done = 0 })
for w = 1, W do
    local a = Instance.new("Actor")
    local s = Instance.new("Script")
    s.Source = [[
        script:GetActor():BindToMessageParallel("go", function(st, results, n, id)
            local inc = SharedTable.increment
            local t0 = time()
            for _ = 1, n do inc(st, "counter", 1) end
            local t1 = time()
            results["start" .. id], results["end" .. id] = t0, t1
            SharedTable.increment(results, "done", 1)
        end)
    ]]
    s.Parent = a
    a.Parent = workspace
end
task.wait() -- let the actors bind
for w, a in ipairs(workspace:GetChildren()) do
    if a.ClassName == "Actor" then a:SendMessage("go", shared, results, n, w) end
end
while results.done < W do task.wait() end
local first, last = math.huge, -math.huge
for k, v in pairs(results) do
    if type(k) == "string" and k:match("^start") then first = math.min(first, v) end
    if type(k) == "string" and k:match("^end") then last = math.max(last, v) end
end
assert(shared.counter == W * n, "increments were lost")
print(string.format("RESULT increment_mps_all %.2f", rate(W * n, last - first)))
print(string.format("RESULT increment_workers %d", W))
