-- expect-status: 1
-- expect-stderr: ^parlua: uncaught error in actor Workspace.W1: Workspace.W1.Script:1: same failure$
-- expect-stderr: ^parlua: uncaught error in actor Workspace.W3: Workspace.W3.Script:1: same failure$
-- expect-stderr: ^parlua: 37 more reports of the same uncaught error were not shown \(the last from actor Workspace.W40\): Workspace.W1.Script:1: same failure$
-- expect-stderr: ^parlua: uncaught error in actor Workspace.Other: Workspace.Other.Script:1: another failure$
-- expect-stderr: ^parlua: 2 more reports of the same uncaught error were not shown \(the last from actor Workspace.W45\): Workspace.W41.Script:1: same failure$
-- One error repeated by many actors (clones of one failing script) is
-- reported in full three times in a row, then only counted: one line sums
-- up the rest at the end of the frame, when another error comes, or at the
-- end of the run. The script's own name before ":line:" does not make two
-- reports differ. (stdout's last line is not checked with a nonzero status:
-- the "saw" line checks that the actors all ran.)
local function start(name, source)
    local a = Instance.new("Actor")
    a.Name = name
    local s = Instance.new("Script")
    s.Source = source
    s.Parent = a
    a.Parent = workspace
end
-- frame 1: 40 identical failures: 3 shown, 37 summed up at the frame's end
for i = 1, 40 do start("W" .. i, "error('same failure')") end
task.wait()
-- frame 2: a different failure, then the same one again 5 times: the
-- streak starts over (3 shown, 2 summed up)
start("Other", "error('another failure')")
task.wait()
for i = 41, 45 do start("W" .. i, "error('same failure')") end
task.wait()
print("saw", #workspace:GetChildren())
