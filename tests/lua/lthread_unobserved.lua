-- expect-status: 1
-- expect-stdout: ^end of main$
-- expect-stderr: lthread 'forgotten' failed and nobody joined it .*: .*lthread_unobserved.lua:9: nobody joins me
-- expect-stderr: lthread 'collected' failed and nobody joined it
-- An lthread whose error nobody observed is reported on stderr, when its
-- handle is collected or at exit, and the exit status is 1 (SPEC 1.6).
local keep = go(function()
    task.wait(0.01)
    error("nobody joins me")
end, {name = "forgotten"})
do
    local h = go(function() error("collected too") end, {name = "collected"})
    while not h:done() do task.wait() end
end
collectgarbage()
collectgarbage()
-- a joined failure is not reported
local r, err = go(function() error("seen") end, {name = "seen"}):wait_result()
assert(err)
print("end of main")
