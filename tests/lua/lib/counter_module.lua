-- A module with state, for tests/lua/module_isolation.lua: every VM that
-- requires it must get its own copy (SPEC 1.1).
loads_of_counter_module = (loads_of_counter_module or 0) + 1 -- a global of the requiring VM
local M = { count = 0, owner = nil, loads = loads_of_counter_module }
function M.inc()
    M.count = M.count + 1
    return M.count
end
return M
