-- options: --workers 4
-- SharedTables between VMs (SPEC 4, 5): a SharedTable sent to an actor
-- arrives as the same table (a reference: writes on either side are seen
-- by the other as soon as they return), nested SharedTables and Instances
-- stored in it too; a plain table sent is a copy, a SharedTable inside it
-- still a reference. Snapshot semantics across threads: a reader iterating
-- with pairs while another actor rewrites all keys in transactions always
-- sees one whole version (all values equal, all keys there).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local KEYS, ROUNDS = 50, 3000
local folder = Instance.new("Folder")
folder.Name = "Marker"
local st = SharedTable.new({ from_main = 1, child = { x = 1 }, inst = folder, done = 0 })
for i = 1, KEYS do st[i] = 0 end

U.actor("Echo", [[
    script:GetActor():BindToMessage("ref", function(st, plain)
        assert(tostring(st):match("^SharedTable: "))
        assert(st.from_main == 1 and st.child.x == 1 and st.inst.Name == "Marker")
        assert(plain.st == st, "a SharedTable inside a plain table is still a reference")
        st.from_actor = "hello"  -- seen by main
        st.child.y = 2
        plain.copy = "changed"   -- a copy: not seen by main
        SharedTable.increment(st, "done", 1)
    end)
]])
local plain = { st = st }
workspace.Echo:SendMessage("ref", st, plain)

U.actor("Writer", string.format("local KEYS, ROUNDS = %d, %d", KEYS, ROUNDS) .. [[
    script:GetActor():BindToMessageParallel("go", function(st)
        for v = 1, ROUNDS do
            SharedTable.transaction(st, function(view)
                for i = 1, KEYS do view[i] = v end
            end)
        end
        st.writer_done = true
        SharedTable.increment(st, "done", 1)
    end)
]])
U.actor("Iterator", string.format("local KEYS = %d", KEYS) .. [[
    script:GetActor():BindToMessageParallel("go", function(st)
        local loops, versions, last = 0, 0, -1
        repeat
            local n, first = 0, nil
            for k, v in pairs(st) do
                if math.type(k) == "integer" then
                    n = n + 1
                    first = first or v
                    assert(v == first, string.format("a mixed version: key %d is %d, key 1 is %d", k, v, first))
                end
            end
            assert(n == KEYS, "keys missing from a snapshot: " .. n)
            if first ~= last then versions = versions + 1; last = first end
            loops = loops + 1
            if loops % 100 == 0 then task.wait() end -- the writer may start in a later frame
        until st.writer_done
        st.loops, st.versions = loops, versions
        SharedTable.increment(st, "done", 1)
    end)
]])
workspace.Writer:SendMessage("go", st)
workspace.Iterator:SendMessage("go", st)
local deadline = time() + 120
while st.done < 3 do
    assert(time() < deadline, "the actors did not finish")
    task.wait()
end
assert(st.from_actor == "hello" and st.child.y == 2, "the actor's writes are not seen")
assert(plain.copy == nil)
assert(st[1] == ROUNDS and st[KEYS] == ROUNDS)
print(string.format("iterator: %d snapshots, %d distinct versions", st.loops, st.versions))
print("OK")
