-- The immutable values that tests/lua/transfer_scalars.lua sends between VMs;
-- every VM builds the same list, so the receiver knows what it must get.
local big = ("\0\1\2\255binary\r\n\0"):rep(1000) .. string.char(table.unpack((function()
    local t = {}
    for i = 0, 255 do t[#t + 1] = i end
    return t
end)()))
return {
    { 0, "integer" }, { 1, "integer" }, { -1, "integer" },
    { math.maxinteger, "integer" }, { math.mininteger, "integer" },
    { (1 << 53) + 1, "integer" }, -- not representable as a float
    { 0.0, "float" }, { -0.0, "float" }, { 1.0, "float" }, { 0.5, "float" },
    { 2^63, "float" }, { -1e-310, "float" }, -- past the integer range; a subnormal
    { math.pi, "float" }, { math.huge, "float" }, { -math.huge, "float" },
    { 0/0, "float" },
    { "", "string" }, { "hello", "string" }, { "\0", "string" }, { "a\0b", "string" },
    { big, "string" },
    { true, "boolean" }, { false, "boolean" },
}
