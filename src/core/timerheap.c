#include "core/timerheap.h"

#include "core/grow.h"

#include <stdlib.h>

void pl_timerheap_init(pl_timerheap *h)
{
    h->items = NULL;
    h->len = h->cap = 0;
    h->next_order = 0;
}

void pl_timerheap_free(pl_timerheap *h)
{
    free(h->items);
    pl_timerheap_init(h);
}

static int before(const pl_timer *a, const pl_timer *b)
{
    return a->when < b->when || (a->when == b->when && a->order < b->order);
}

static void place(pl_timerheap *h, size_t i, pl_timer *t)
{
    h->items[i] = t;
    t->slot = i;
}

static void sift_up(pl_timerheap *h, size_t i, pl_timer *t)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->items[parent])) break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(pl_timerheap *h, size_t i, pl_timer *t)
{
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len) break;
        if (child + 1 < h->len && before(h->items[child + 1], h->items[child])) child++;
        if (!before(h->items[child], t)) break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

int pl_timerheap_push(pl_timerheap *h, pl_timer *t)
{
    pl_timer **items = pl_grow(h->items, &h->cap, h->len + 1, sizeof *items);
    if (!items) return PL_ENOMEM;
    h->items = items;
    t->order = h->next_order++;
    sift_up(h, h->len++, t);
    return PL_OK;
}

pl_timer *pl_timerheap_peek(const pl_timerheap *h)
{
    return h->len ? h->items[0] : NULL;
}

void pl_timerheap_remove(pl_timerheap *h, pl_timer *t)
{
    size_t i = t->slot;
    pl_assert(i < h->len && h->items[i] == t);
    pl_timer *last = h->items[--h->len];
    if (i == h->len) return; /* t was the last one */
    if (i > 0 && before(last, h->items[(i - 1) / 2]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

pl_timer *pl_timerheap_pop(pl_timerheap *h)
{
    pl_timer *top = pl_timerheap_peek(h);
    if (top) pl_timerheap_remove(h, top);
    return top;
}

void pl_timerheap_remove_if(pl_timerheap *h, int (*drop)(void *ud, pl_timer *t), void *ud)
{
    size_t kept = 0;
    for (size_t i = 0; i < h->len; i++)
        if (!drop(ud, h->items[i])) h->items[kept++] = h->items[i];
    h->len = kept;
    /* rebuild the heap bottom-up (also sets every slot) */
    for (size_t i = kept; i-- > 0;)
        sift_down(h, i, h->items[i]);
}
