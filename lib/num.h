/*
 * num.h - the rounding and number formatting of domain.md section 0.
 * No allocation; callers pass buffers.
 */
#ifndef CV_NUM_H
#define CV_NUM_H

#include <stddef.h>

/* roundN(x): correct rounding of the exact binary value, ties-to-even,
 * i.e. printf("%.Nf") parsed back with strtod. */
double cv_round(double x, int n);

/* fmtN(x): fixed point with n decimals into buf (same rounding). */
void cv_fmt(char *buf, size_t size, double x, int n);

/* num(x): shortest round-trip decimal; integral values keep ".0". */
void cv_num(char *buf, size_t size, double x);

#endif
