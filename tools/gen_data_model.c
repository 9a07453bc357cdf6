/*
 * Prints docs/data-model.md, generated from the classes' registration
 * tables (src/lib/classes.c). The test docs/data-model compares it with
 * the committed file, so the docs cannot drift from the code.
 */
#include <stdio.h>

#include "lib/instance.h"

int main(void)
{
    pl_members_markdown(stdout);
    return ferror(stdout) ? 1 : 0;
}
