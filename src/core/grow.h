/*
 * Growing a heap array: the one place that doubles a capacity and checks
 * the byte count for overflow.
 */
#ifndef PL_GROW_H
#define PL_GROW_H

#include <stddef.h>

#include "core/check.h"

/* Makes room for `need` (>= 1) elements of `size` bytes in the array `old`
 * of `*cap` elements: returns the array (old itself when it is big
 * enough, else moved to a capacity of at least max(need, 2 * *cap, 8),
 * with *cap updated). Returns NULL when out of memory or when the size
 * overflows; then old and *cap are unchanged and still valid. */
PL_MUST_CHECK void *pl_grow(void *old, size_t *cap, size_t need, size_t size);

#endif
