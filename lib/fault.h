/*
 * fault.h - test-only fault injection (./configure --enable-fault-injection;
 * never in shipped binaries: without that option every call below is an
 * inline no-op).
 *
 * A countdown makes the Nth call of one kind fail, counted from when the
 * fault was armed:
 *   db:N     the Nth DB statement (cv_db_exec/cv_db_query, begin, commit)
 *            fails with CV_ESTORE;
 *   alloc:N  the Nth allocation of jansson (json_set_alloc_funcs) returns
 *            NULL;
 *   proc:N   the Nth external command (cv_proc_run) fails with CV_EEXEC;
 *   kill:N   the process SIGKILLs itself at the Nth step, a step being a
 *            DB statement or an external command: a crash at that point.
 * Only the Nth call fails, later ones succeed again, as after a transient
 * fault. The environment (CONVERGE_FAULT=KIND:N) arms a process at start;
 * tests arm and disarm in process with cv_fault_arm.
 */
#ifndef CV_FAULT_H
#define CV_FAULT_H

#include <stdbool.h>

enum cv_fault_kind { CV_FAULT_DB, CV_FAULT_ALLOC, CV_FAULT_PROC,
    CV_FAULT_KILL };

#ifdef CV_FAULT_INJECTION
/* Arms "KIND:N" (counters restart at 0); NULL or "" disarms. Returns -1
 * on a malformed spec (then nothing is armed). */
int cv_fault_arm(const char *spec);

/* true when the armed fault has fired since it was armed. */
bool cv_fault_fired(void);

/* Called at each point of that kind: true when this call must fail (for
 * CV_FAULT_KILL it does not return). */
bool cv_fault_hit(enum cv_fault_kind kind);

/* While paused (calls nest) allocations are not counted. */
void cv_fault_pause(bool on);

#define CV_FAULT_ENABLED 1
#else
static inline int cv_fault_arm(const char *spec)
{
	(void)spec;
	return -1;
}

static inline bool cv_fault_fired(void)
{
	return false;
}

static inline bool cv_fault_hit(enum cv_fault_kind kind)
{
	(void)kind;
	return false;
}

static inline void cv_fault_pause(bool on)
{
	(void)on;
}

#define CV_FAULT_ENABLED 0
#endif

#endif
