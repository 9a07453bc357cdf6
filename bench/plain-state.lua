-- The plain lua5.4 counterpart of an idle actor's memory: the Lua heap of
-- a fresh lua5.4 state with its standard library, in KB.
--   lua5.4 bench/plain-state.lua
print(string.format("RESULT state_kb %.2f", collectgarbage("count")))
