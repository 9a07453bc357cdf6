-- A module for script_global.lua: what its code sees when required.
return { script = script, env_is_G = _ENV == _G }
