/*
 * ui.h - HTML for the dashboard under /ui/ (decisions.md D-10): a growing
 * buffer, escaping, the page frame with its Content-Security-Policy, and
 * an inline SVG line chart. Every text that comes from data goes through
 * cv_html_text (or an attribute through cv_html_text as well: both escape
 * & < > " ' so a value can never leave its element or attribute).
 *
 * The page carries no external asset: the style sheet and the optional
 * auto-refresh script are inline and allowed by their SHA-256 in the
 * policy, nothing else may run.
 */
#ifndef CV_UI_H
#define CV_UI_H

#include <stdbool.h>
#include <stddef.h>

struct cv_html {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;        /* an allocation failed: the page is incomplete */
};

/* Appends s as markup (trusted literals only). */
void cv_html_raw(struct cv_html *h, const char *s);
/* Appends s escaped; NULL appends nothing. Invalid UTF-8 bytes become
 * U+FFFD so the page stays well-formed. */
void cv_html_text(struct cv_html *h, const char *s);
/* printf of trusted markup; %s arguments are NOT escaped: pass data
 * through cv_html_text instead. */
void cv_html_fmt(struct cv_html *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cv_html_free(struct cv_html *h);

/* The value of the Content-Security-Policy header of every page. */
const char *cv_ui_csp(void);

struct cv_ui_page {
	const char *title;      /* data: escaped */
	const char *active;     /* "queue", "decisions", "health" or NULL */
	const char *actor;      /* signed-in actor (data), NULL: signed out */
	const char *tenant;     /* the principal's tenant, NULL: all */
	const char *csrf;       /* session token for the logout form */
	bool refresh;           /* include the auto-refresh script */
};

/* <!doctype html> ... <main>; then the caller's content; then end. */
void cv_ui_begin(struct cv_html *h, const struct cv_ui_page *p);
void cv_ui_end(struct cv_html *h);

/* A line chart of values (oldest first) scaled to 0..100, with labels
 * (data, escaped) under the first and last points. */
void cv_ui_svg_trend(struct cv_html *h, const double *values, size_t n,
    const char *first_label, const char *last_label);

/* "3d 4h", "5h 2m", "40s" for a duration in seconds (>= 0). */
void cv_ui_duration(long long seconds, char *out, size_t size);

#endif
