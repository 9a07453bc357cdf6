-- A strict JSON parser (RFC 8259) for the tests: json.decode(text) returns
-- the value or raises "json: <what> at byte N". Objects become tables,
-- arrays become tables with n = length (so JSON null entries keep their
-- place), null becomes json.null. Rejects what a lenient parser would let
-- through: trailing commas, single quotes, leading zeros, "+1", ".5",
-- unescaped control characters, bad escapes, lone surrogates, comments,
-- NaN/Infinity, duplicate top-level values and trailing garbage.
local json = {}

json.null = setmetatable({}, { __tostring = function() return "null" end })

local byte, sub, find, char = string.byte, string.sub, string.find, string.char
local tonumber = tonumber

local function fail(what, pos)
    error(string.format("json: %s at byte %d", what, pos), 0)
end

local function skip(s, pos)
    local _, e = find(s, "^[ \t\r\n]*", pos)
    return e + 1
end

local function utf8_of(cp)
    return utf8.char(cp)
end

local escapes = {
    [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f",
    [110] = "\n", [114] = "\r", [116] = "\t",
}

local function hex4(s, pos)
    local h = sub(s, pos, pos + 3)
    if not find(h, "^%x%x%x%x$") then fail("bad \\u escape", pos) end
    return tonumber(h, 16)
end

local function parse_string(s, pos) -- pos at the opening quote
    local parts, n = {}, 0
    local i = pos + 1
    while true do
        local a, b = find(s, '^[^"\\%c]+', i)
        if a then
            n = n + 1; parts[n] = sub(s, a, b)
            i = b + 1
        end
        local c = byte(s, i)
        if c == nil then fail("unterminated string", pos) end
        if c == 34 then
            return table.concat(parts), i + 1
        elseif c == 92 then
            local e = byte(s, i + 1)
            if e == 117 then
                local cp = hex4(s, i + 2)
                i = i + 6
                if cp >= 0xD800 and cp <= 0xDBFF then
                    if sub(s, i, i + 1) ~= "\\u" then fail("lone high surrogate", i) end
                    local lo = hex4(s, i + 2)
                    if lo < 0xDC00 or lo > 0xDFFF then fail("bad low surrogate", i) end
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    i = i + 6
                elseif cp >= 0xDC00 and cp <= 0xDFFF then
                    fail("lone low surrogate", i - 6)
                end
                n = n + 1; parts[n] = utf8_of(cp)
            elseif e and escapes[e] then
                n = n + 1; parts[n] = escapes[e]
                i = i + 2
            else
                fail("bad escape", i)
            end
        else
            fail("control character in string", i)
        end
    end
end

local parse_value

local function parse_number(s, pos)
    -- the integer part: 0, or a digit 1-9 followed by digits
    local _, e = find(s, "^-?0", pos)
    if not e then
        _, e = find(s, "^-?[1-9]%d*", pos)
        if not e then fail("bad number", pos) end
    end
    local _, f = find(s, "^%.%d+", e + 1)
    if f then e = f elseif byte(s, e + 1) == 46 then fail("bad fraction", e + 1) end
    local _, x = find(s, "^[eE][+-]?%d+", e + 1)
    if x then e = x elseif find(s, "^[eE]", e + 1) then fail("bad exponent", e + 1) end
    if find(s, "^[%w%.]", e + 1) then fail("bad number", pos) end
    return tonumber(sub(s, pos, e)), e + 1
end

local function parse_array(s, pos)
    local arr, n = {}, 0
    local i = skip(s, pos + 1)
    if byte(s, i) == 93 then arr.n = 0; return arr, i + 1 end
    while true do
        local v
        v, i = parse_value(s, i)
        n = n + 1
        arr[n] = v
        i = skip(s, i)
        local c = byte(s, i)
        if c == 93 then arr.n = n; return arr, i + 1 end
        if c ~= 44 then fail("expected ',' or ']'", i) end
        i = skip(s, i + 1)
        if byte(s, i) == 93 then fail("trailing comma", i) end
    end
end

local function parse_object(s, pos)
    local obj = {}
    local i = skip(s, pos + 1)
    if byte(s, i) == 125 then return obj, i + 1 end
    while true do
        if byte(s, i) ~= 34 then
            fail(byte(s, i) == 125 and "trailing comma" or "expected a string key", i)
        end
        local k
        k, i = parse_string(s, i)
        i = skip(s, i)
        if byte(s, i) ~= 58 then fail("expected ':'", i) end
        local v
        v, i = parse_value(s, skip(s, i + 1))
        obj[k] = v
        i = skip(s, i)
        local c = byte(s, i)
        if c == 125 then return obj, i + 1 end
        if c ~= 44 then fail("expected ',' or '}'", i) end
        i = skip(s, i + 1)
    end
end

local literals = { t = { "true", true }, f = { "false", false }, n = { "null", json.null } }

function parse_value(s, pos)
    local c = byte(s, pos)
    if c == 123 then return parse_object(s, pos) end
    if c == 91 then return parse_array(s, pos) end
    if c == 34 then return parse_string(s, pos) end
    if c == 45 or (c and c >= 48 and c <= 57) then return parse_number(s, pos) end
    local lit = c and literals[char(c)]
    if lit and sub(s, pos, pos + #lit[1] - 1) == lit[1] then
        return lit[2], pos + #lit[1]
    end
    fail(c and "unexpected character '" .. char(c) .. "'" or "unexpected end", pos)
end

function json.decode(s)
    local v, i = parse_value(s, skip(s, 1))
    i = skip(s, i)
    if i <= #s then fail("trailing characters", i) end
    return v
end

return json
