/* ui.c - HTML for the dashboard (see ui.h). */
#include "ui.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole style sheet: small, system fonts, a layout that holds from
 * 320 px up (tables scroll inside their box, never the page). */
static const char css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;color:#1d2430;background:#f4f6f9}"
    "header{background:#1f3a5f;color:#fff;padding:.6rem 1rem;display:flex;"
    "flex-wrap:wrap;align-items:center;gap:.4rem 1.2rem}"
    "header b{font-size:1.1rem;letter-spacing:.02em}"
    "nav{display:flex;flex-wrap:wrap;gap:.2rem .9rem}"
    "nav a{color:#d6e4ff;text-decoration:none}"
    "nav a.on{color:#fff;font-weight:600;border-bottom:2px solid #9cc3ff}"
    ".who{margin-left:auto;display:flex;gap:.6rem;align-items:center;"
    "flex-wrap:wrap;font-size:.9rem}"
    ".who form{margin:0}"
    "button,input[type=submit]{font:inherit;padding:.35rem .8rem;"
    "border-radius:4px;border:1px solid #9aa7b8;background:#fff;"
    "cursor:pointer}"
    "main{padding:1rem;max-width:1200px;margin:0 auto}"
    "h1{font-size:1.35rem;margin:.2rem 0 .8rem}"
    "h2{font-size:1.1rem;margin:1.4rem 0 .5rem}"
    ".box{background:#fff;border:1px solid #dde3ea;border-radius:6px;"
    "padding:.8rem;margin-bottom:1rem;overflow-x:auto}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid "
    "#edf0f4;vertical-align:top;overflow-wrap:anywhere}"
    "th{font-size:.8rem;text-transform:uppercase;color:#5b6675;"
    "overflow-wrap:normal}"
    "code,pre{font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;"
    "padding:.5rem;border-radius:4px;margin:.3rem 0}"
    ".st{display:inline-block;padding:0 .45rem;border-radius:9px;"
    "font-size:.8rem;font-weight:600;background:#e6ebf1}"
    ".st-READY{background:#e3effd;color:#1b4f8f}"
    ".st-VALIDATED{background:#e2f6e9;color:#17643a}"
    ".st-QUEUED{background:#fff4d6;color:#7a5a00}"
    ".st-BLOCKED,.st-REJECTED{background:#fde4e4;color:#8f1b1b}"
    ".st-MERGED{background:#ece6fd;color:#4b2a99}"
    ".muted{color:#6b7685}"
    ".err{background:#fde4e4;border:1px solid #f1b5b5;padding:.6rem;"
    "border-radius:4px}"
    "form.login{max-width:26rem}"
    "form.login label{display:block;margin:.6rem 0 .2rem}"
    "form.login input[type=password]{width:100%;font:inherit;"
    "padding:.45rem;border:1px solid #9aa7b8;border-radius:4px}"
    "form.login input[type=submit]{margin-top:.8rem}"
    "ol.tl{list-style:none;padding:0;margin:0}"
    "ol.tl li{border-left:3px solid #9cc3ff;padding:.2rem 0 .6rem .8rem;"
    "margin-left:.3rem}"
    "svg{width:100%;height:auto;max-width:720px;display:block}"
    "@media (max-width:600px){main{padding:.5rem}th,td{padding:.3rem}"
    ".hide-s{display:none}}";

/* Reloads the page every 30 s; only when the tab is visible. */
static const char refresh_js[] =
    "setInterval(function(){if(!document.hidden)location.reload()},30000);";

static void sha256_b64(const char *text, char out[64])
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)text, strlen(text), d);
	EVP_EncodeBlock((unsigned char *)out, d, SHA256_DIGEST_LENGTH);
}

const char *cv_ui_csp(void)
{
	static char csp[512];

	if (!csp[0]) {
		char style[64], script[64];
		sha256_b64(css, style);
		sha256_b64(refresh_js, script);
		snprintf(csp, sizeof csp, "default-src 'none'; style-src "
		    "'sha256-%s'; script-src 'sha256-%s'; img-src 'self'; "
		    "form-action 'self'; frame-ancestors 'none'; base-uri "
		    "'none'", style, script);
	}
	return csp;
}

static bool grow(struct cv_html *h, size_t more)
{
	char *nb;
	size_t cap;

	if (h->oom)
		return false;
	if (h->len + more + 1 <= h->cap)
		return true;
	cap = h->cap ? h->cap : 4096;
	while (cap < h->len + more + 1)
		cap *= 2;
	if (!(nb = realloc(h->buf, cap))) {
		h->oom = true;
		return false;
	}
	h->buf = nb;
	h->cap = cap;
	return true;
}

static void put(struct cv_html *h, const char *s, size_t n)
{
	if (!grow(h, n))
		return;
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = '\0';
}

void cv_html_raw(struct cv_html *h, const char *s)
{
	put(h, s, strlen(s));
}

void cv_html_fmt(struct cv_html *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !grow(h, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(h->buf + h->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	h->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n;
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
	    (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
		return 0;
	return n;
}

void cv_html_text(struct cv_html *h, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (p && *p) {
		const char *rep = NULL;
		size_t n;
		switch (*p) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: break;
		}
		if (rep) {
			cv_html_raw(h, rep);
			p++;
			continue;
		}
		if (*p < 0x20 && *p != '\n' && *p != '\t') {
			cv_html_raw(h, "\xEF\xBF\xBD");
			p++;
			continue;
		}
		if (!(n = utf8_seq(p))) {
			cv_html_raw(h, "\xEF\xBF\xBD");
			p++;
			continue;
		}
		put(h, (const char *)p, n);
		p += n;
	}
}

void cv_html_free(struct cv_html *h)
{
	free(h->buf);
	memset(h, 0, sizeof *h);
}

static void nav_link(struct cv_html *h, const char *href, const char *name,
    const char *label, const char *active)
{
	cv_html_fmt(h, "<a href=\"%s\"%s>%s</a>", href, active &&
	    strcmp(active, name) == 0 ? " class=\"on\" aria-current=\"page\""
	    : "", label);
}

void cv_ui_begin(struct cv_html *h, const struct cv_ui_page *p)
{
	cv_html_raw(h, "<!doctype html><html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" "
	    "content=\"width=device-width,initial-scale=1\"><title>");
	cv_html_text(h, p->title);
	cv_html_raw(h, " · Converge</title><style>");
	cv_html_raw(h, css);
	cv_html_raw(h, "</style>");
	if (p->refresh) {
		cv_html_raw(h, "<script>");
		cv_html_raw(h, refresh_js);
		cv_html_raw(h, "</script>");
	}
	cv_html_raw(h, "</head><body><header><b>Converge</b>");
	if (p->actor) {
		cv_html_raw(h, "<nav>");
		nav_link(h, "/ui/", "queue", "Queue", p->active);
		nav_link(h, "/ui/decisions", "decisions", "Decisions", p->active);
		nav_link(h, "/ui/health", "health", "Health", p->active);
		cv_html_raw(h, "</nav><div class=\"who\"><span>");
		cv_html_text(h, p->actor);
		if (p->tenant && *p->tenant) {
			cv_html_raw(h, " · tenant ");
			cv_html_text(h, p->tenant);
		}
		cv_html_raw(h, "</span><form method=\"post\" action=\"/ui/logout\">"
		    "<input type=\"hidden\" name=\"csrf\" value=\"");
		cv_html_text(h, p->csrf);
		cv_html_raw(h, "\"><button type=\"submit\">Sign out</button>"
		    "</form></div>");
	}
	cv_html_raw(h, "</header><main>");
}

void cv_ui_end(struct cv_html *h)
{
	cv_html_raw(h, "</main></body></html>\n");
}

void cv_ui_svg_trend(struct cv_html *h, const double *values, size_t n,
    const char *first_label, const char *last_label)
{
	const double w = 600, top = 10, bottom = 170, left = 40, right = 590;

	cv_html_fmt(h, "<svg viewBox=\"0 0 %.0f 200\" role=\"img\" "
	    "aria-label=\"health score over time\">", w);
	for (int g = 0; g <= 100; g += 25) {
		double y = bottom - (bottom - top) * g / 100.0;
		cv_html_fmt(h, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" "
		    "y2=\"%.1f\" stroke=\"#e3e8ee\"/><text x=\"4\" y=\"%.1f\" "
		    "font-size=\"11\" fill=\"#6b7685\">%d</text>", left, y, right,
		    y, y + 4, g);
	}
	if (n > 0) {
		cv_html_raw(h, "<polyline fill=\"none\" stroke=\"#1f6feb\" "
		    "stroke-width=\"2.5\" points=\"");
		for (size_t i = 0; i < n; i++) {
			double v = values[i] < 0 ? 0 : values[i] > 100 ? 100 :
			    values[i];
			double x = n == 1 ? (left + right) / 2 : left +
			    (right - left) * (double)i / (double)(n - 1);
			cv_html_fmt(h, "%s%.1f,%.1f", i ? " " : "", x, bottom -
			    (bottom - top) * v / 100.0);
		}
		cv_html_raw(h, "\"/>");
	}
	cv_html_fmt(h, "<text x=\"%.0f\" y=\"192\" font-size=\"11\" "
	    "fill=\"#6b7685\">", left);
	cv_html_text(h, first_label);
	cv_html_fmt(h, "</text><text x=\"%.0f\" y=\"192\" font-size=\"11\" "
	    "fill=\"#6b7685\" text-anchor=\"end\">", right);
	cv_html_text(h, last_label);
	cv_html_raw(h, "</text></svg>");
}

void cv_ui_duration(long long s, char *out, size_t size)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, size, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, size, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, size, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(out, size, "%llds", s);
}
