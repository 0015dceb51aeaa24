/*
 * clock.h - Converge timestamps and identifiers.
 *
 * A timestamp (`ts`) is always "YYYY-MM-DDTHH:MM:SS.ffffff+00:00": fixed width
 * so that text order is time order (domain.md section 0, B1).
 * Callers pass buffers; nothing here allocates.
 */
#ifndef CV_CLOCK_H
#define CV_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CV_TS_LEN 33          /* 32 characters and the NUL */
#define CV_ID12_LEN 13        /* 12 hex characters and the NUL */
#define CV_TRACE_LEN 64       /* room for "trace-" + 16 hex, or CONVERGE_TRACE_ID */

/* Wall-clock now, in microseconds since the epoch. */
int64_t cv_now_us(void);

/* Writes the ts form of `us` (microseconds since the epoch) into out. */
void cv_ts_from_us(char out[CV_TS_LEN], int64_t us);

/* Writes the ts form of now into out. */
void cv_now_ts(char out[CV_TS_LEN]);

/* Parses a ts (or any ISO-8601 "YYYY-MM-DDTHH:MM:SS[.f...][Z|+HH:MM]";
 * no offset means UTC) into microseconds. Returns 0 on success, -1 if the
 * text is not such a timestamp. */
int cv_ts_parse(const char *s, int64_t *us_out);

/* Writes 12 random lowercase hex characters (an id12) into out. */
void cv_id12(char out[CV_ID12_LEN]);

/* Fills buf with n random bytes from the OS; returns 0, or -1 on failure. */
int cv_random_bytes(void *buf, size_t n);

/* Trace ids (domain.md 2.4). Both honour CONVERGE_TRACE_ID when set.
 * flow:    "trace-" + 16 hex, one per validation run;
 * generic: "trace-" + id12, for an event appended without a trace id. */
void cv_trace_flow(char out[CV_TRACE_LEN]);
void cv_trace_generic(char out[CV_TRACE_LEN]);

/* Monotonic clock in seconds, for durations and rate windows. */
double cv_monotonic(void);

#endif
