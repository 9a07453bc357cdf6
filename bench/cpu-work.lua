-- The CPU-bound work of bench/cpu.lua, the peers' workload of SPEC 11's
-- "what to beat" table: a loop over global math.sin, nothing shared, no
-- garbage. Runs i = first .. last and returns the sum, so a split run can
-- be checked against the whole.
local first, last = ...
local s = 0.0
for i = first, last do
  s = s + math.sin(i) * 0.5
end
return s
