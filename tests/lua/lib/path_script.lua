-- Run as a Script with Path (tests/lua/script_source_path.lua): records what
-- it sees in the main VM's globals.
path_script_seen = {
    script = script,
    name = script.Name,
    class = script.ClassName,
    path = script.Path,
    phase = parlua.phase(),
    args = select("#", ...),
}
