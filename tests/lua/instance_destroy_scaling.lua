-- Destroying the children of one parent in creation order takes linear
-- time (it was quadratic: each Destroy searched and shifted the children
-- array from the front). Compared by ratio: 2N children take well under 4
-- times as long as N (best of 5 runs each, to ride out a loaded machine).
local function destroy_time(n)
    local best = math.huge
    for _ = 1, 5 do
        local parent = Instance.new("Folder")
        local kids = {}
        for i = 1, n do kids[i] = Instance.new("Folder", parent) end
        local t0 = os.clock()
        for i = 1, n do kids[i]:Destroy() end
        best = math.min(best, os.clock() - t0)
        assert(#parent:GetChildren() == 0)
    end
    return best
end

-- order of GetChildren is the order of parenting, also after removals
local p = Instance.new("Folder")
local a, b, c = Instance.new("Folder", p), Instance.new("Folder", p), Instance.new("Folder", p)
a.Name, b.Name, c.Name = "a", "b", "c"
b.Parent = nil
b.Parent = p
local names = {}
for _, k in ipairs(p:GetChildren()) do names[#names + 1] = k.Name end
assert(table.concat(names) == "acb", table.concat(names))

local N = 50000
local t1, t2 = destroy_time(N), destroy_time(2 * N)
print(string.format("destroy %d: %.4f s, %d: %.4f s, ratio %.2f", N, t1, 2 * N, t2, t2 / t1))
assert(t2 < 3 * t1, "destroying children in creation order grows faster than linearly")
print("OK")
