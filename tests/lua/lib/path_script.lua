-- Run as a Script with Path (tests/lua/script_source_path.lua): records what
-- it sees in the main VM's globals, under its own name.
path_script_seen = path_script_seen or {}
path_script_seen[script.Name] = {
    script = script,
    name = script.Name,
    class = script.ClassName,
    path = script.Path,
    phase = parlua.phase(),
    args = select("#", ...),
}
