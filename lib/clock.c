/* clock.c - timestamps, ids and trace ids. */
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int64_t cv_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

void cv_ts_from_us(char out[CV_TS_LEN], int64_t us)
{
	time_t sec = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		sec -= 1;
	}
	char tmp[96];

	gmtime_r(&sec, &tm);
	/* Years past 9999 cannot come from a clock; the temporary buffer only
	 * keeps the compiler's truncation analysis quiet. */
	snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
	memcpy(out, tmp, CV_TS_LEN - 1);
	out[CV_TS_LEN - 1] = '\0';
}

void cv_now_ts(char out[CV_TS_LEN])
{
	cv_ts_from_us(out, cv_now_us());
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int cv_ts_parse(const char *s, int64_t *us_out)
{
	int y, mo, d, h, mi, se, frac = 0, scale = 1000000;

	if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
			p++;
		}
	}
	int64_t offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		int sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
			return -1;
		offset = sign * ((int64_t)oh * 3600 + om * 60);
		p += 6;
	}
	if (*p != '\0')
		return -1;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    se - offset;
	*us_out = secs * 1000000 + frac;
	return 0;
}

int cv_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static void hex_random(char *out, size_t nhex)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32];

	if (cv_random_bytes(raw, (nhex + 1) / 2) != 0) {
		/* getrandom cannot fail on Linux >= 3.17 with a valid buffer;
		 * fall back to something unique rather than abort. */
		for (size_t i = 0; i < sizeof raw; i++)
			raw[i] = (unsigned char)(random() ^ getpid());
	}
	for (size_t i = 0; i < nhex; i++)
		out[i] = hex[(raw[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
	out[nhex] = '\0';
}

void cv_id12(char out[CV_ID12_LEN])
{
	hex_random(out, 12);
}

static int trace_override(char out[CV_TRACE_LEN])
{
	const char *pin = getenv("CONVERGE_TRACE_ID");

	if (!pin || !*pin)
		return 0;
	snprintf(out, CV_TRACE_LEN, "%s", pin);
	return 1;
}

void cv_trace_flow(char out[CV_TRACE_LEN])
{
	if (trace_override(out))
		return;
	memcpy(out, "trace-", 6);
	hex_random(out + 6, 16);
}

void cv_trace_generic(char out[CV_TRACE_LEN])
{
	if (trace_override(out))
		return;
	memcpy(out, "trace-", 6);
	hex_random(out + 6, 12);
}

double cv_monotonic(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
