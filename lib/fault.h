/*
 * fault.h - test-only fault injection (./configure --enable-fault-injection;
 * never in shipped binaries: without that option every call below is an
 * inline no-op).
 *
 * A countdown makes the Nth call of one kind fail, counted from when the
 * fault was armed:
 *   db:N     the Nth DB statement (cv_db_exec/cv_db_query, begin, commit)
 *            fails with CV_ESTORE;
 *   alloc:N  the Nth allocation returns NULL (errno ENOMEM): our own
 *            malloc, calloc, realloc, strdup, strndup, asprintf,
 *            vasprintf and open_memstream in lib/, fcgi/, worker/ and the
 *            tests (the build links them with -Wl,--wrap, fault.c) and
 *            jansson's (json_set_alloc_funcs); not those of the other
 *            shared libraries (SQLite, libcurl, libfcgi, libc itself);
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

/* While paused (calls nest) allocations are not counted: a test's own
 * harness work while a fault is armed. */
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
