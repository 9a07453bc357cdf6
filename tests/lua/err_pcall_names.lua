-- A library function called through pcall is named in its argument errors as
-- lua5.4 names string.rep ('string.rep', found in package.loaded), not '?'
-- (issue 8 item 23).
local function msg(...)
    local ok, err = pcall(...)
    assert(not ok)
    return err
end
local cases = {
    { "'string.rep'", string.rep },
    { "'Instance.new'", Instance.new, {} },
    { "'SharedTable.new'", SharedTable.new, 1 },
    { "'task.wait'", task.wait, "x" },
    { "'SharedTableRegistry.GetSharedTable'", SharedTableRegistry.GetSharedTable,
        SharedTableRegistry },
}
for _, c in ipairs(cases) do
    local err = msg(table.unpack(c, 2))
    assert(err:find(c[1], 1, true), "expected " .. c[1] .. " in: " .. err)
end
print("OK")
