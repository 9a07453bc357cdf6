-- Misuse of sync objects raises clear errors and changes nothing (SPEC 6),
-- and task.cancel of a parked thread ends its wait cleanly: a cancelled
-- waiter never takes the lock later, and a lock or item handed to a thread
-- cancelled before it could resume goes to the next waiter (or back in the
-- queue) instead of being lost.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local m, e = sync.Mutex(), sync.Event()
U.raises_with("the timeout must be a number of seconds >= 0", m.lock, m, -1)
U.raises_with("the timeout must be a number of seconds >= 0", e.wait, e, "soon")
U.raises_with("Mutex or RLock expected, got Event", m.lock, e)
U.raises_with("Event expected, got number", e.set, 42)
U.raises_with("the number of parties must be >= 1", sync.Barrier, 0)
U.raises_with('order must be "fifo", "lifo" or "priority"', sync.Queue, { order = "random" })
U.raises_with("maxsize must be an integer", sync.Queue, { maxsize = 1.5 })
assert(not m:locked())

-- a blocking call where the caller cannot yield (a table.sort comparator)
m:lock()
task.spawn(function()
    U.raises_with("Mutex:lock cannot wait here", table.sort, { 2, 1 }, function(a, b)
        m:lock()
        return a < b
    end)
end)
m:unlock()
assert(not m:locked())

-- cancelling a parked waiter
m:lock()
local got = false
local waiter = task.spawn(function() m:lock(); got = true end)
task.cancel(waiter)
m:unlock()
task.wait()
assert(not got and not m:locked(), "a cancelled waiter took the lock")

-- the lock was handed to a waiter that is cancelled before it resumes
m:lock()
local first = task.spawn(function() m:lock(); got = "first" end)
local second = task.spawn(function() m:lock(); got = "second"; m:unlock() end)
m:unlock()             -- hands it to `first`, which has not resumed yet
task.cancel(first)     -- so it passes on to `second`
task.wait()
assert(got == "second" and not m:locked(), tostring(got))

-- an item handed to a getter cancelled before it resumed goes back
local q = sync.Queue()
local taken
local getter = task.spawn(function() taken = q:get() end)
q:put("precious")      -- handed to the parked getter
task.cancel(getter)
assert(taken == nil and q:qsize() == 1 and q:get() == "precious")
print("OK")
