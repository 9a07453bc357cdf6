/*
 * The two phases of a frame. Serial: one VM at a time on the serial thread.
 * Parallel: every actor with parallel work, on the worker pool. Arrays
 * indexed by phase (ready queues, mailbox queues) use these values.
 */
#ifndef PL_PHASE_H
#define PL_PHASE_H

enum { PL_SERIAL = 0, PL_PARALLEL = 1 };

#endif
