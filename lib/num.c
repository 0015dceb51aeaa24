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
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	if (isfinite(x) && !strpbrk(buf, ".eEn")) {
		size_t len = strlen(buf);
		if (len + 3 <= size)
			memcpy(buf + len, ".0", 3);
	}
}
