-- The yes-or-no permissions (SPEC 8): run, env, exit, native, debug, spawn.
-- Without them each function that needs one raises the exact denial and
-- does nothing (the command does not run, the process does not exit);
-- with them (--allow-*) each works. The escapes that must fail: a binary
-- chunk through load (a string, a reader function, loadfile, dofile,
-- require), string.dump + load, reaching the debug library through
-- require or package.loaded, package.loadlib, package.cpath tricks.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local P = require("perm")
local T = P.fixture()
local ok, err = pcall(function()
    -- a precompiled chunk where a sandboxed script may read it
    P.write(T .. "/data/bin.lua", string.dump(function() return "binary ran" end))
    P.write(T .. "/data/bin2.lua", "#!/usr/bin/env parlua\n" .. string.dump(function() return 2 end))
    P.write(T .. "/data/evil.so", "not really a library")
    local READ = "--allow-read=" .. T .. "/data"
    P.check({ "--sandbox", READ }, [[
local MARK = T .. "/data/ran"
-- run
denied("permission denied: run touch " .. MARK .. " (run not granted)", os.execute, "touch " .. MARK)
denied("permission denied: run touch " .. MARK .. " (run not granted)", io.popen, "touch " .. MARK)
denied("permission denied: run touch " .. MARK .. " (run not granted)", io.popen, "touch " .. MARK, "w")
assert(type(os.execute()) == "boolean", "asking whether a shell exists runs nothing")
-- env
denied("permission denied: env HOME (env not granted)", os.getenv, "HOME")
-- exit
denied("permission denied: exit 3 (exit not granted)", os.exit, 3)
denied("permission denied: exit 0 (exit not granted)", os.exit)
denied("permission denied: exit true (exit not granted)", os.exit, true, true)
-- spawn
denied("permission denied: spawn Actor (spawn not granted)", Instance.new, "Actor")
denied("permission denied: spawn Actor (spawn not granted)", Instance.new, "Actor", workspace)
assert(#workspace:GetChildren() == 0, "no Actor was made")
-- native: binary chunks, by every way of loading one
local BIN = "permission denied: native binary chunk (native not granted)"
local dumped = string.dump(function() return 1 end)
denied(BIN, load, dumped)
denied(BIN, load, dumped, "x", "b")
local pieces = { dumped:sub(1, 3), dumped:sub(4) }
denied(BIN, load, function() return table.remove(pieces, 1) end)
local f, msg = load(dumped, "x", "t")   -- mode "t" refuses it as Lua does
assert(f == nil and msg:find("attempt to load a binary chunk"), msg)
assert(load("return 2")() == 2, "source text still loads")
local FBIN = "permission denied: native binary chunk " .. T .. "/data/bin.lua (native not granted)"
denied(FBIN, loadfile, T .. "/data/bin.lua")
denied(FBIN, dofile, T .. "/data/bin.lua")
denied("permission denied: native binary chunk " .. T .. "/data/bin2.lua (native not granted)",
       loadfile, T .. "/data/bin2.lua") -- after a '#' line too
package.path = T .. "/data/?.lua"
denied(FBIN, require, "bin")
assert(require("inside") == "inside")
-- native: C code
denied("permission denied: native /lib/x86_64-linux-gnu/libc.so.6 (native not granted)",
       package.loadlib, "/lib/x86_64-linux-gnu/libc.so.6", "*")
denied("permission denied: native " .. T .. "/data/evil.so (native not granted)",
       package.loadlib, T .. "/data/evil.so", "luaopen_evil")
package.cpath = T .. "/data/?.so"
local ok2, e2 = pcall(require, "evil")
assert(not ok2 and e2:find("permission denied: native evil (native not granted)", 1, true), e2)
-- debug: absent, and not reachable by require or package.loaded
assert(debug == nil and package.loaded.debug == nil)
denied("permission denied: debug library (debug not granted)", require, "debug")
package.preload.debug = nil
assert(not pcall(require, "debug"), "there is no debug library to find")
for name, lib in pairs(package.loaded) do
    assert(type(lib) ~= "table" or rawget(lib, "getupvalue") == nil, name .. " holds debug functions")
end
-- the set, as code sees it
local p = parlua.permissions()
assert(p.read[1] == T .. "/data" and p.write == false and p.run == false and p.env == false
       and p.spawn == false and p.native == false and p.debug == false and p.exit == false)
p.run = true -- a copy: changing it grants nothing
denied("permission denied: run true (run not granted)", os.execute, "true")
print("OK")
]])
    assert(not P.exists(T .. "/data/ran"), "no command ran")

    -- granted, each works
    local out = P.check({ "--sandbox", READ, "--allow-run", "--allow-env", "--allow-spawn",
        "--allow-native", "--allow-debug" }, [[
assert(os.execute("touch " .. T .. "/data/ran"))
assert(io.popen("echo hi"):read("l") == "hi")
assert(os.getenv("HOME") ~= nil or true)
local a = Instance.new("Actor")
assert(a.ClassName == "Actor")
assert(load(string.dump(function() return 5 end))() == 5)
assert(loadfile(T .. "/data/bin.lua")() == "binary ran")
assert(loadfile(T .. "/data/bin2.lua")() == 2)
assert(debug.getinfo(1, "l").currentline > 0 and require("debug") == debug)
local p = parlua.permissions()
assert(p.run and p.env and p.spawn and p.native and p.debug and not p.exit and p.write == false)
print("OK")
]])
    assert(P.exists(T .. "/data/ran"), "the command ran")
    local status = P.run({ "--sandbox", "--allow-exit" }, "print('bye') os.exit(7)")
    assert(status == 7, "os.exit with --allow-exit ends the process: " .. tostring(status))
    -- without --sandbox: everything, as lua5.4
    P.check({}, [[
local p = parlua.permissions()
assert(p.read == true and p.write == true and p.run and p.env and p.spawn and p.native and p.debug and p.exit)
assert(debug and package.loaded.debug == debug)
print("OK")
]])
end)
P.cleanup()
assert(ok, err)
print("OK")
