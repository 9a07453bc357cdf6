#include "core/check.h"

#include <stdio.h>
#include <stdlib.h>

void pl_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "parlua: internal error: assertion '%s' failed in %s (%s:%d)\n", expr, func,
            file, line);
    abort();
}
