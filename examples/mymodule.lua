-- mymodule.lua: an empty module for examples/modules.lua. Whatever a script
-- stores in it stays in the VM that required it.
return {}
