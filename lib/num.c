/* num.c - rounding and number formatting (domain.md section 0). */
#include "num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double cv_round(double x, int n)
{
	char buf[512];

	if (!isfinite(x))
		return x;
	snprintf(buf, sizeof buf, "%.*f", n, x);
	return strtod(buf, NULL);
}

void cv_fmt(char *buf, size_t size, double x, int n)
{
	snprintf(buf, size, "%.*f", n, x);
}

void cv_num(char *buf, size_t size, double x)
{
	char sci[64];
	int prec, exp, decimals;

	if (!isfinite(x)) {
		snprintf(buf, size, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
		return;
	}
	/* The fewest significant digits that read back as x ... */
	for (prec = 0; prec < 17; prec++) {
		snprintf(sci, sizeof sci, "%.*e", prec, x);
		if (strtod(sci, NULL) == x)
			break;
	}
	/* ... written like Python's repr: exponent form only outside
	 * 1e-4 <= |x| < 1e16 (%g would turn 50.0 into "5e+01"). */
	exp = atoi(strchr(sci, 'e') + 1);
	if (exp < -4 || exp >= 16) {
		snprintf(buf, size, "%s", sci);
		return;
	}
	decimals = prec - exp > 0 ? prec - exp : 0;
	snprintf(buf, size, "%.*f", decimals, x);
	if (!strchr(buf, '.')) {
		size_t len = strlen(buf);
		if (len + 3 <= size)
			memcpy(buf + len, ".0", 3);
	}
}
