-- The CPU-bound serial work of bench/serial.lua: the same chunk runs in
-- plain lua5.4, in parlua's main VM and in an actor. Global access on
-- purpose (global functions, a global counter, math.* and string.* through
-- their global tables), with table writes, string building and calls.
-- Returns a checksum, so the three runs can be compared.
local n = ... or 300000
counter = 0
function bump(x) counter = counter + x end
local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end
local t, s = {}, 0.0
for i = 1, n do
  s = s + math.sin(i) * math.floor(i / 3)
  bump(1)
  t[i % 1000 + 1] = tostring(i % 97)
  if #t[i % 1000 + 1] > 1 then s = s + 1 end
  if i % 64 == 0 then s = s + string.len(string.rep("x", i % 7)) + fib(10) end
end
return math.floor(s) + counter
