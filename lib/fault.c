/* fault.c - the countdown of fault.h (test-only builds). */
#include "fault.h"

#ifdef CV_FAULT_INJECTION
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum cv_fault_kind armed_kind;
static long armed_at;        /* 0: disarmed */
static long seen;            /* calls of armed_kind since arming */
static bool fired;
static bool from_env;        /* armed by CONVERGE_FAULT: announce() */
static int paused;


int cv_fault_arm(const char *spec)
{
	static const char *const kinds[] = { "db", "alloc", "proc", "kill" };
	const char *colon;
	char *end;
	long n;

	armed_at = 0;
	seen = 0;
	fired = false;
	from_env = false;
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

/* A process armed by CONVERGE_FAULT says on stderr (its log, one JSON
 * line) that the fault fired, so a test driving it from outside (the farm
 * behind nginx) knows whether a request met it. write(2) on a stack
 * buffer: no allocation, fine inside a failing malloc and before a kill. */
static void announce(void)
{
	static const char *const names[] = { "db", "alloc", "proc", "kill" };
	char line[160];
	int n = snprintf(line, sizeof line, "{\"level\":\"WARNING\","
	    "\"logger\":\"converge.fault\",\"message\":\"injected fault "
	    "%s:%ld fired in pid %ld\"}\n", names[armed_kind], armed_at,
	    (long)getpid());

	if (n > 0 && (size_t)n < sizeof line && write(STDERR_FILENO, line,
	    (size_t)n) < 0)
		return;
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
	if (from_env)
		announce();
	if (armed_kind == CV_FAULT_KILL) {
		kill(getpid(), SIGKILL);
		pause();
	}
	return true;
}

/* ---- our own allocations ------------------------------------------------
 * The fault-injection build links every program of libconverge with
 * -Wl,--wrap=malloc,... (configure.ac, FAULT_LIBS): the linker sends the
 * calls of our own objects (lib/, fcgi/, worker/, the tests) to the
 * __wrap_ functions below, the __real_ ones being libc's (or the
 * sanitizer's). Shared libraries (jansson, SQLite, libcurl, libfcgi) keep
 * calling malloc directly: jansson is counted through
 * json_set_alloc_funcs, the others not at all. A failure is what libc
 * reports when memory runs out: NULL (-1 for asprintf) and ENOMEM. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
int __real___vasprintf_chk(char **out, int flag, const char *fmt, va_list ap);
FILE *__real_open_memstream(char **buf, size_t *len);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **out, const char *fmt, ...);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);
int __wrap___asprintf_chk(char **out, int flag, const char *fmt, ...);
int __wrap___vasprintf_chk(char **out, int flag, const char *fmt, va_list ap);
FILE *__wrap_open_memstream(char **buf, size_t *len);

/* true (errno ENOMEM) when this allocation must fail. */
static bool alloc_fails(void)
{
	if (!cv_fault_hit(CV_FAULT_ALLOC))
		return false;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t count, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(count, size);
}

/* A failed realloc leaves p allocated, as libc's does. */
void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return alloc_fails() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return alloc_fails() ? NULL : __real_strndup(s, n);
}

/* On failure *out is left as it was (libc leaves it undefined). */
int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
	return alloc_fails() ? -1 : __real_vasprintf(out, fmt, ap);
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = __wrap_vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}

/* The _FORTIFY_SOURCE forms of the two above. */
int __wrap___vasprintf_chk(char **out, int flag, const char *fmt, va_list ap)
{
	return alloc_fails() ? -1 : __real___vasprintf_chk(out, flag, fmt, ap);
}

int __wrap___asprintf_chk(char **out, int flag, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = __wrap___vasprintf_chk(out, flag, fmt, ap);
	va_end(ap);
	return n;
}

FILE *__wrap_open_memstream(char **buf, size_t *len)
{
	return alloc_fails() ? NULL : __real_open_memstream(buf, len);
}

/* The environment arms the process before main; jansson allocates through
 * the countdown from then on (its default allocator otherwise). */
__attribute__((constructor)) static void fault_init(void)
{
	json_set_alloc_funcs(__wrap_malloc, free);
	from_env = cv_fault_arm(getenv("CONVERGE_FAULT")) == 0 && armed_at;
}
#endif
