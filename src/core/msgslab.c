/*
 * Per-thread slabs of message bodies (msgslab.h).
 *
 * A slab's count `live` is its allocations not yet released, plus BIAS
 * while it is its thread's current slab: the owner counts its allocations
 * in a thread-local variable and pays no atomic per allocation; releases
 * (other threads) subtract 1 each and cannot reach 0 while the bias is
 * there. When the thread leaves the slab it subtracts BIAS minus its
 * allocations in one step: a result of 0 means every body was released
 * already (the thread keeps the slab and starts it over), else whoever
 * releases the last body gives it back.
 *
 * Slabs come from core/pages.c, not malloc: a burst of messages all in
 * flight at once (a frame's sends wait for the next phase) is all new
 * memory, and on a virtual machine each new 4 KB page costs a fault of
 * several microseconds, most of the time of a million small messages;
 * pages.c's regions are hinted for 2 MB pages (one fault per 2 MB). A slab
 * given back is kept there for the next one (never returned to the
 * system, as pages.c does for VM heaps).
 *
 * POSIX threads directly for the thread-exit destructor, as in epoch.c
 * (libuv's keys have none; docs/design.md).
 */
#include "core/msgslab.h"

#include "core/pages.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Under AddressSanitizer a slab's bytes that are no live body are
 * poisoned, so a body used after its release is still reported, as it
 * was when each body was a malloc of its own; a slab given back is
 * unpoisoned whole (its chunk's next user is no slab). */
#if defined(__SANITIZE_ADDRESS__)
#define PL_SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PL_SLAB_ASAN 1
#endif
#endif
#ifdef PL_SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* A slab's bytes, header included: a few dozen small bodies. */
#define SLAB_BYTES (16 * 1024)
#define ALIGN PL_MSGSLAB_ALIGN
#define BIAS (SIZE_MAX / 2)
#define ROUND(size) (((size) + ALIGN - 1) / ALIGN * ALIGN)

struct pl_msgslab {
    atomic_size_t live;
};

/* The first body's offset: past the header's cache line (a pages.c chunk
 * starts on a 1 KB boundary), which releases on other threads write while
 * the owner writes the next bodies. */
#define FIRST 64
_Static_assert(sizeof(pl_msgslab) <= FIRST && FIRST % ALIGN == 0, "a slab's header fits");
_Static_assert(SLAB_BYTES >= PL_PAGES_MIN && SLAB_BYTES <= PL_PAGES_MAX &&
                   (SLAB_BYTES & (SLAB_BYTES - 1)) == 0,
               "a slab is one pages.c chunk");

/* The calling thread's current slab: one thread-local block, so one
 * address computation per allocation in a shared library. */
static _Thread_local struct {
    pl_msgslab *slab; /* NULL: none yet, or left */
    size_t used;      /* bytes handed out, header included */
    size_t n;         /* allocations made from it */
    int key_set;      /* the exit destructor is armed for this thread */
} tl;

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;

static void on_thread_exit(void *arg)
{
    (void)arg;
    pl_msgslab_thread_flush();
    tl.key_set = 0; /* a later destructor that sends arms the key again */
}

static void make_key(void)
{
    /* without a key a thread's last slab stays until the process ends
     * (not freed when the thread exits): only memory, never wrong */
    exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

/* Gives a slab nobody uses any more back to pages.c. */
static void give_back(pl_msgslab *s)
{
    UNPOISON(s, SLAB_BYTES); /* the next user of the chunk is no slab */
    pl_pages_put(s, SLAB_BYTES);
}

/* Leaves the current slab. Returns it when all its bodies were released
 * (it is the caller's alone), else NULL (the last release frees it). */
static pl_msgslab *leave(void)
{
    pl_msgslab *s = tl.slab;
    tl.slab = NULL;
    size_t drop = BIAS - tl.n;
    /* acq_rel: release, so that this thread's writes to the slab (the
     * bodies it made) happen before the free by whichever thread releases
     * the last body; acquire, when the result is 0, so that every
     * releaser's last access to its body happens before we reuse the
     * memory. */
    if (atomic_fetch_sub_explicit(&s->live, drop, memory_order_acq_rel) == drop) return s;
    return NULL;
}

/* Makes s (fresh or empty) the thread's current slab. */
static void start(pl_msgslab *s)
{
    /* relaxed: nobody else holds a reference to s; the bodies made from it
     * reach other threads through the mailbox lock, which orders this
     * store before their releases */
    atomic_store_explicit(&s->live, BIAS, memory_order_relaxed);
    POISON((char *)s + FIRST, SLAB_BYTES - FIRST);
    tl.slab = s;
    tl.used = FIRST;
    tl.n = 0;
}

void *pl_msgslab_alloc(size_t size, pl_msgslab **slab)
{
    size = ROUND(size);
    if (!tl.slab || tl.used + size > SLAB_BYTES) {
        pl_msgslab *s = tl.slab ? leave() : NULL;
        if (!s) {
            s = pl_pages_get(SLAB_BYTES);
            if (!s) return NULL;
            if (!tl.key_set) {
                pthread_once(&exit_key_once, make_key);
                if (exit_key_ok) pthread_setspecific(exit_key, &tl);
                tl.key_set = 1;
            }
        }
        start(s);
    }
    void *p = (char *)tl.slab + tl.used;
    UNPOISON(p, size);
    tl.used += size;
    tl.n++;
    *slab = tl.slab;
    return p;
}

int pl_msgslab_trim(pl_msgslab *slab, const void *end, const void *new_end)
{
    /* offsets in the slab, rounded up as allocations are */
    size_t used = ROUND((size_t)((const char *)end - (const char *)slab));
    if (slab != tl.slab || used != tl.used) return 0;
    size_t keep = ROUND((size_t)((const char *)new_end - (const char *)slab));
    POISON((char *)slab + keep, used - keep);
    tl.used = keep;
    return 1;
}

void pl_msgslab_release(pl_msgslab *slab, void *p, size_t size)
{
    POISON(p, ROUND(size)); /* before: after the decrement the slab may be gone */
    /* acq_rel: release, so that this thread's accesses to its body happen
     * before the slab's free (or reuse) by whoever brings the count to 0;
     * acquire for that one, which then sees every other holder done. */
    if (atomic_fetch_sub_explicit(&slab->live, 1, memory_order_acq_rel) == 1) give_back(slab);
}

void pl_msgslab_thread_flush(void)
{
    pl_msgslab *s = tl.slab ? leave() : NULL; /* NULL unless it was empty */
    if (s) give_back(s);
}
