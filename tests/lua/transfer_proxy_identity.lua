-- A value is passed by reference only when it really is a shared object:
-- the codec recognises proxies by the identity of their metatable, not by a
-- field. Marking another userdata's metatable the way proxies used to be
-- marked must not make it pass as one (it crashed: type confusion).
local mt = getmetatable(io.stdout)
mt.__parlua_shared = true
local ok, err = pcall(function()
    local st = SharedTable.new()
    st.x = io.stdout
end)
assert(not ok and tostring(err):find("cannot store a value of type", 1, true), tostring(err))
local actor = Instance.new("Actor")
actor.Parent = workspace
ok, err = pcall(actor.SendMessage, actor, "t", io.stdout)
assert(not ok and tostring(err):find("cannot transfer", 1, true), tostring(err))
mt.__parlua_shared = nil
-- real shared objects still cross by reference
local st = SharedTable.new({n = 1})
local holder = SharedTable.new()
holder.t = st
assert(holder.t == st)
print("OK")
