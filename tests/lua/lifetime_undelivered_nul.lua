-- expect-stderr: 2 messages were never delivered to 1 actor: .*topic "a\\0b\\n"
-- The report of messages never delivered prints the topic whole, escaped
-- (topics are Lua strings and may hold NUL bytes; issue 8 #23).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")
local a = U.actor("Unbound", "")
a:SendMessage("a\0b\n", 1)
a:SendMessage("a\0b\n", 2)
print("OK")
