/*
 * Assertions and results that must be checked, for all of parlua's C code.
 *
 * pl_assert(cond) states an invariant. It is checked in Debug and sanitizer
 * builds (CMake defines PL_ASSERTS there) and compiles to nothing in
 * release builds, so it may sit on hot paths. A failed assertion is a bug
 * in parlua, never in the user's program: it prints where and aborts.
 *
 * PL_MUST_CHECK marks a function whose status the caller must look at
 * (a dropped status once hid an endless loop in the instance tree).
 */
#ifndef PL_CHECK_H
#define PL_CHECK_H

#define PL_MUST_CHECK __attribute__((warn_unused_result))

_Noreturn void pl_assert_fail(const char *expr, const char *file, int line, const char *func);

#ifdef PL_ASSERTS
#define pl_assert(cond) ((cond) ? (void)0 : pl_assert_fail(#cond, __FILE__, __LINE__, __func__))
#else
#define pl_assert(cond) ((void)0)
#endif

/* A call whose status cannot fail here (room reserved before, say):
 * checked by pl_assert where assertions are on. */
#define PL_CANNOT_FAIL(call)                                                                       \
    do {                                                                                           \
        int pl_status_ = (call);                                                                   \
        pl_assert(pl_status_ == 0);                                                                \
        (void)pl_status_;                                                                          \
    } while (0)

/* One step of a spin-wait: tells the CPU this thread is spinning (pause on
 * x86), so a hyper-thread sibling runs faster and the loop burns less. */
static inline void pl_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
