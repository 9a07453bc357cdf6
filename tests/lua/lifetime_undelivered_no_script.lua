-- Messages that wait at an Actor that never ran a script are reported at
-- exit too (SPEC 1.5), and messages referring to each other's actors in a
-- cycle (A's mailbox holds B, B's holds A) are freed at exit: under
-- AddressSanitizer a leak here fails the test.
-- expect-stderr: 3 messages were never delivered to 2 actors
-- expect-stdout: ^sent$
local a = Instance.new("Actor")
a.Name = "NoScriptA"
a.Parent = workspace
local b = Instance.new("Actor")
b.Name = "NoScriptB"
b.Parent = workspace
a:SendMessage("never", b)
b:SendMessage("never", a)
b:SendMessage("never", { a, b, 1 })
print("sent")
