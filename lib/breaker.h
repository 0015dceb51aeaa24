/*
 * breaker.h - the circuit breaker of domain.md Appendix A.
 *
 * Pure: the caller passes the monotonic time in seconds, so tests drive
 * the clock. One breaker guards one remote service (here: GitHub).
 */
#ifndef CV_BREAKER_H
#define CV_BREAKER_H

#include <stdbool.h>
#include <stddef.h>

enum cv_breaker_state {
	CV_BREAKER_CLOSED,
	CV_BREAKER_OPEN,
	CV_BREAKER_HALF_OPEN
};

struct cv_breaker {
	char name[32];
	int failure_threshold;     /* 5 */
	double recovery_timeout;   /* 30 s */
	int success_threshold;     /* 2 */
	enum cv_breaker_state state;
	int failures;
	int successes;
	double last_failure;       /* monotonic seconds */
};

/* Closed breaker called name (truncated to 31 bytes) with the Appendix A
 * defaults. */
void cv_breaker_init(struct cv_breaker *b, const char *name);

/* The state after the read rule: OPEN for recovery_timeout seconds since
 * the last failure becomes HALF_OPEN (successes reset). */
enum cv_breaker_state cv_breaker_state(struct cv_breaker *b, double now);

/* True when a guarded call may run now (state is not OPEN). */
bool cv_breaker_allow(struct cv_breaker *b, double now);

void cv_breaker_record_success(struct cv_breaker *b);
void cv_breaker_record_failure(struct cv_breaker *b, double now);

/* Back to CLOSED with zero counts. */
void cv_breaker_reset(struct cv_breaker *b);

/* "closed", "open", "half_open". */
const char *cv_breaker_state_name(enum cv_breaker_state s);

/* Writes "Circuit breaker '<name>' is open" into buf. */
void cv_breaker_open_message(const struct cv_breaker *b, char *buf,
    size_t size);

#endif
