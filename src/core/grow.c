#include "core/grow.h"

#include <stdint.h>
#include <stdlib.h>

void *pl_grow(void *old, size_t *cap, size_t need, size_t size)
{
    pl_assert(need >= 1 && size >= 1);
    if (need <= *cap) return old;
    size_t ncap = *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
    if (ncap < 8) ncap = 8;
    if (ncap < need) ncap = need;
    if (ncap > SIZE_MAX / size) {
        if (need > SIZE_MAX / size) return NULL;
        ncap = need;
    }
    void *grown = realloc(old, ncap * size);
    if (!grown) return NULL;
    *cap = ncap;
    return grown;
}
