/* breaker.c - circuit breaker (domain.md Appendix A). */
#include <stdio.h>
#include <string.h>

#include "breaker.h"

void cv_breaker_init(struct cv_breaker *b, const char *name)
{
	memset(b, 0, sizeof *b);
	snprintf(b->name, sizeof b->name, "%s", name ? name : "");
	b->failure_threshold = 5;
	b->recovery_timeout = 30.0;
	b->success_threshold = 2;
	b->state = CV_BREAKER_CLOSED;
}

enum cv_breaker_state cv_breaker_state(struct cv_breaker *b, double now)
{
	/* Evaluated lazily on read, as the Appendix says: no timer. */
	if (b->state == CV_BREAKER_OPEN &&
	    now - b->last_failure >= b->recovery_timeout) {
		b->state = CV_BREAKER_HALF_OPEN;
		b->successes = 0;
	}
	return b->state;
}

bool cv_breaker_allow(struct cv_breaker *b, double now)
{
	return cv_breaker_state(b, now) != CV_BREAKER_OPEN;
}

void cv_breaker_record_success(struct cv_breaker *b)
{
	if (b->state == CV_BREAKER_HALF_OPEN) {
		if (++b->successes >= b->success_threshold) {
			b->state = CV_BREAKER_CLOSED;
			b->failures = 0;
		}
		return;
	}
	b->failures = 0;
}

void cv_breaker_record_failure(struct cv_breaker *b, double now)
{
	b->failures++;
	b->last_failure = now;
	if (b->state == CV_BREAKER_HALF_OPEN ||
	    b->failures >= b->failure_threshold)
		b->state = CV_BREAKER_OPEN;
}

void cv_breaker_reset(struct cv_breaker *b)
{
	b->state = CV_BREAKER_CLOSED;
	b->failures = 0;
	b->successes = 0;
}

const char *cv_breaker_state_name(enum cv_breaker_state s)
{
	switch (s) {
	case CV_BREAKER_CLOSED: return "closed";
	case CV_BREAKER_OPEN: return "open";
	case CV_BREAKER_HALF_OPEN: return "half_open";
	}
	return "closed";
}

void cv_breaker_open_message(const struct cv_breaker *b, char *buf,
    size_t size)
{
	snprintf(buf, size, "Circuit breaker '%s' is open", b->name);
}
