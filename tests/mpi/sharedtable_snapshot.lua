-- ranks: 2
-- A SharedTable crosses ranks as a frozen copy of one snapshot (SPEC 13):
-- nested tables, a table met twice and a cycle keep their shape; integer,
-- float, boolean and string values (long keys too) and an Actor (a
-- RemoteActor there) come through; writes after the send do not show.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/lib/?.lua;" .. package.path
local U = require("util")
if parlua.rank() == 1 then
  U.actor("Reader", [[
    script:GetActor():BindToMessage("table", function(st, plain)
      assert(SharedTable.isFrozen(st), "a frozen copy")
      U.raises_with("frozen", function() st.x = 1 end)
      assert(st.n == 7 and math.type(st.n) == "integer")
      assert(st.f == 0.5 and st.yes == true and st[3] == "three")
      assert(st.a_rather_long_key_of_more_than_sixteen_bytes == "long")
      assert(st.sub.deep.v == "deep", "nested")
      assert(st.sub == st.again, "a table met twice is one table")
      assert(st.sub.up == st, "a cycle keeps its shape")
      assert(SharedTable.isFrozen(st.sub))
      assert(st.changed == "before", "the snapshot at the send")
      assert(st.who.Path == "Workspace.Writer" and st.who.Rank == 0, tostring(st.who))
      assert(plain.t == st, "the same table in one message arrives once")
      print("OK")
    end)
  ]])
else
  U.actor("Writer", [[
    local st = SharedTable.new({n = 7, f = 0.5, yes = true, [3] = "three",
      a_rather_long_key_of_more_than_sixteen_bytes = "long", changed = "before"})
    local sub = SharedTable.new({deep = SharedTable.new({v = "deep"})})
    sub.up = st
    st.sub = sub
    st.again = sub
    st.who = script:GetActor()
    parlua.remote(1, "Workspace.Reader"):SendMessage("table", st, {t = st})
    st.changed = "after"
  ]])
end
