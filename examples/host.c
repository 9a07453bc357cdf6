/*
 * A minimal host program: how an engine embeds parlua and drives its frames
 * itself (include/parlua.h). It starts a runtime, runs a script that makes
 * a few actors, then steps one frame per "engine tick" with the tick's
 * delta time until nothing is left to do, and reads errors back.
 *
 *   build/examples/host [workers]
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

#include "parlua.h"

/* The script: four actors each sum a slice of 1..N in the parallel phase
 * and report to a collector, which prints the total (and fails, making the
 * host exit with status 1, if it is not 1 + 2 + ... + N). */
static const char *SCRIPT =
    "local N, SLICES = 4000000, 4\n"
    "local collector = Instance.new('Actor')\n"
    "collector.Name = 'Collector'\n"
    "local c = Instance.new('Script')\n"
    "c.Source = [[\n"
    "  local total, got, conn = 0, 0\n"
    "  conn = script:GetActor():BindToMessage('part', function(sum)\n"
    "    total, got = total + sum, got + 1\n"
    "    if got == 4 then\n"
    "      print('total', total)\n"
    "      assert(total == 8000002000000, 'wrong total')\n"
    "      conn:Disconnect()\n"
    "    end\n"
    "  end)\n"
    "]]\n"
    "c.Parent = collector\n"
    "collector.Parent = workspace\n"
    "for i = 1, SLICES do\n"
    "  local a = Instance.new('Actor')\n"
    "  local s = Instance.new('Script')\n"
    "  s.Source = [[\n"
    "    script:GetActor():BindToMessageParallel('sum', function(from, to)\n"
    "      local s = 0\n"
    "      for k = from, to do s = s + k end\n"
    "      workspace.Collector:SendMessage('part', s)\n"
    "    end)\n"
    "  ]]\n"
    "  s.Parent = a\n"
    "  a.Parent = workspace\n"
    "  local per = N // SLICES\n"
    "  a:SendMessage('sum', (i - 1) * per + 1, i * per)\n"
    "end\n";

int main(int argc, char **argv)
{
    parlua_config cfg;
    parlua_config_init(&cfg);
    if (argc > 1) cfg.workers = atoi(argv[1]);
    parlua_runtime *rt = parlua_new(&cfg);
    if (!rt) {
        fprintf(stderr, "host: cannot create the runtime\n");
        return 1;
    }
    if (parlua_run_string(rt, SCRIPT, "=host script") != PARLUA_OK) {
        fprintf(stderr, "host: %s\n", parlua_last_error(rt));
        parlua_free(rt);
        return 1;
    }
    /* The engine's loop: one frame per tick, here a fixed 60 Hz dt. */
    int ticks = 0;
    while (parlua_step(rt, 1.0 / 60.0))
        ticks++;
    printf("host: idle after %d frames, %d uncaught errors\n", ticks + 1, parlua_error_count(rt));
    int failed = parlua_error_count(rt) > 0;
    parlua_free(rt);
    return failed;
}
