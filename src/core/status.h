/*
 * One status convention for parlua's C internals: PL_OK (0) or a negative
 * code from the table below, as libuv does. pl_strerror names a code for
 * people, pl_status_name for programs and tests. A function that fails
 * leaves what it was asked to change unchanged, unless its header says
 * otherwise.
 *
 * Out of memory (the policy everywhere): a function that allocates returns
 * PL_ENOMEM and changes nothing; the Lua layer turns it into Lua's own
 * memory error ("not enough memory"), which a script may catch. parlua
 * aborts only where a correct program cannot fail (a mutex or condition
 * call, as libuv does) and where no caller could recover (registering a
 * thread for epoch reclamation, which has no caller to report to); each
 * such place says so.
 */
#ifndef PL_STATUS_H
#define PL_STATUS_H

/* X(name, value, text) */
#define PL_STATUS_MAP(X)                                                                           \
    X(ENOMEM, -1, "out of memory")                                                                 \
    X(ERANGE, -2, "a size or count is too large")                                                  \
    X(EFULL, -3, "a limit is reached")                                                             \
    X(EFROZEN, -4, "the table is frozen")                                                          \
    X(EABSENT, -5, "the key holds nil")                                                            \
    X(ENOTNUM, -6, "not a number")                                                                 \
    X(ECONFLICT, -7, "a value read by the transaction has changed")                                \
    X(ECYCLE, -8, "an instance cannot become its own ancestor")                                    \
    X(ELOCKED, -9, "the instance's parent cannot change")                                          \
    X(ETOODEEP, -10, "the instance tree would be too deep")                                        \
    X(EIO, -11, "input/output error")                                                              \
    X(EINVAL, -12, "invalid argument")                                                             \
    X(EMALFORMED, -13, "malformed data")                                                           \
    X(EHOST, -14, "the host's hook failed")

enum {
    PL_OK = 0,
#define PL_STATUS_ENUM(name, value, text) PL_##name = value,
    PL_STATUS_MAP(PL_STATUS_ENUM)
#undef PL_STATUS_ENUM
};

/* A sentence for people ("out of memory"); "unknown status" if not ours. */
const char *pl_strerror(int status);
/* The code's name ("PL_ENOMEM"), for tests and logs. */
const char *pl_status_name(int status);

#endif
