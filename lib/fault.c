/* fault.c - the countdown of fault.h (test-only builds). */
#include "fault.h"

#ifdef CV_FAULT_INJECTION
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum cv_fault_kind armed_kind;
static long armed_at;        /* 0: disarmed */
static long seen;            /* calls of armed_kind since arming */
static bool fired;
static int paused;

static void *fault_malloc(size_t n)
{
	return cv_fault_hit(CV_FAULT_ALLOC) ? NULL : malloc(n);
}

int cv_fault_arm(const char *spec)
{
	static const char *const kinds[] = { "db", "alloc", "proc", "kill" };
	const char *colon;
	char *end;
	long n;

	armed_at = 0;
	seen = 0;
	fired = false;
	if (!spec || !*spec)
		return 0;
	if (!(colon = strchr(spec, ':')))
		return -1;
	n = strtol(colon + 1, &end, 10);
	if (*end || n < 1)
		return -1;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strlen(kinds[i]) == (size_t)(colon - spec) &&
		    strncmp(kinds[i], spec, (size_t)(colon - spec)) == 0) {
			armed_kind = (enum cv_fault_kind)i;
			armed_at = n;
			return 0;
		}
	return -1;
}

void cv_fault_pause(bool on)
{
	paused += on ? 1 : -1;
}

bool cv_fault_fired(void)
{
	return fired;
}

bool cv_fault_hit(enum cv_fault_kind kind)
{
	bool step = kind == CV_FAULT_DB || kind == CV_FAULT_PROC;

	if (kind == CV_FAULT_ALLOC && paused)
		return false;
	if (!armed_at || !(kind == armed_kind ||
	    (armed_kind == CV_FAULT_KILL && step)))
		return false;
	if (++seen != armed_at)
		return false;
	fired = true;
	if (armed_kind == CV_FAULT_KILL) {
		kill(getpid(), SIGKILL);
		pause();
	}
	return true;
}

/* The environment arms the process before main; jansson allocates through
 * the countdown from then on (its default allocator otherwise). */
__attribute__((constructor)) static void fault_init(void)
{
	json_set_alloc_funcs(fault_malloc, free);
	cv_fault_arm(getenv("CONVERGE_FAULT"));
}
#endif
