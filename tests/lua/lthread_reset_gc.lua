-- options: --workers 1
-- The reset that gives an ended lthread's state to the next lthread
-- (docs/lthreads.md, "Start-up cost") runs a full collection only where
-- it is needed: after a program that could reach the globals, a library
-- or a shared object (it may have made objects whose finalizers must run
-- before the next program starts), or once the garbage left since the
-- last one passed a bound. A program that reached only its own values
-- leaves its garbage to the collector's own pace. parlua.stats() counts
-- lthreads, the ones on a reused state and the resets' collections. A
-- reset runs after its lthread's result is out: counts() first runs one
-- more lthread, which on one worker starts after the last reset ended.
local function counts()
    assert(go(function() return 1 end):result() == 1)
    local s = parlua.stats()
    return s.lthreads, s.lthread_states_reused, s.lthread_reset_collections
end
local s0 = parlua.stats()
assert(s0.lthreads == 0 and s0.lthread_states_reused == 0 and s0.lthread_reset_collections == 0,
    "counters start at 0")
local run0 = counts()
assert(run0 == 1)

-- 1. 400 lthreads that reach nothing but their own upvalue: one worker,
-- one after another, so each takes the state the one before left
local N = 400
for i = 1, N do
    local r = go(function() return i * 2 end):result()
    assert(r == i * 2)
end
local run1, reused1, coll1 = counts()
assert(run1 == N + 2, "lthreads run: " .. run1)
assert(reused1 >= N, "states reused: " .. reused1)
assert(coll1 < N // 10, "full collections at resets: " .. coll1 .. " for " .. N)

-- 2. the same with garbage: each makes a 200-element table; results stay
-- right and memory stays bounded (the collector's pace, or the reset's
-- bound, takes it)
for i = 1, N do
    local r = go(function()
        local t = {}
        for k = 1, 200 do t[k] = k + i end
        return #t, t[200]
    end):result()
    assert(r == 200, tostring(i) .. ": " .. tostring(r))
end
local run2, _, coll2 = counts()
assert(run2 == 2 * N + 3, "lthreads run: " .. run2)
assert(coll2 - coll1 < N // 4, "full collections with garbage: " .. coll2 - coll1)

-- 3. programs that reach a library (math.floor through the globals): each
-- of their resets collects in full
local M = 20
for i = 1, M do
    assert(go(function() return math.floor(i + 0.5) end):result() == i)
end
local run3, _, coll3 = counts()
assert(run3 == 2 * N + M + 4, "lthreads run: " .. run3)
assert(coll3 - coll2 >= M, "resets after programs that reached a library collect: " .. coll3 - coll2)
-- 4. the workers' lthread time is counted apart from their time in the
-- parallel phases (lthreads run outside them too: a utilisation over 100%
-- of the phases was shown before)
local ws = parlua.stats().workers
local lruns, ltime = 0, 0
for _, w in ipairs(ws) do
    lruns, ltime = lruns + w.lthread_runs, ltime + w.lthread_time -- seconds (coarse clock: maybe 0)
    assert(w.utilisation <= 1.0 + 1e-9, "utilisation " .. w.utilisation)
end
-- (the last lthread's run is counted just after its result is out)
assert(lruns >= run3 - 1 and ltime >= 0, "lthread runs counted on the workers: " .. lruns)
print("OK")
