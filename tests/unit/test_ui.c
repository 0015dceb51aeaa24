/* test_ui.c - the dashboard's HTML helpers (lib/ui.c): escaping as a
 * table, the page frame, the CSP hashes, the SVG chart, durations. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "cv.h"
#include "ui.h"

static void test_escape_table(void **state)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{ "plain", "plain" },
		{ "<script>alert(1)</script>",
		  "&lt;script&gt;alert(1)&lt;/script&gt;" },
		{ "\"><img src=x onerror=alert(1)>",
		  "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" },
		{ "a & b 'c'", "a &amp; b &#39;c&#39;" },
		{ "caf\xc3\xa9 \xe2\x86\x92", "caf\xc3\xa9 \xe2\x86\x92" },
		{ "bad \xff byte", "bad \xef\xbf\xbd byte" },
		{ "overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd" },
		{ "nul-free \x01 ctl", "nul-free \xef\xbf\xbd ctl" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_html h = { 0 };
		cv_html_text(&h, rows[i].in);
		assert_string_equal(h.buf ? h.buf : "", rows[i].out);
		cv_html_free(&h);
	}
}

static void hash_of(const char *text, size_t n, char out[64])
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)text, n, d);
	EVP_EncodeBlock((unsigned char *)out, d, SHA256_DIGEST_LENGTH);
}

/* The inline <style> and <script> of a page are exactly what the CSP's
 * hashes allow, and the policy allows nothing from elsewhere. */
static void test_page_and_csp(void **state)
{
	struct cv_html h = { 0 };
	struct cv_ui_page p = { "<t>", "queue", "al<i>ce", "team-a", "tok",
	    true };
	char want[128], hash[64];
	const char *csp = cv_ui_csp(), *a, *b;

	(void)state;
	cv_ui_begin(&h, &p);
	cv_html_raw(&h, "x");
	cv_ui_end(&h);
	assert_non_null(strstr(h.buf, "<title>&lt;t&gt; · Converge</title>"));
	assert_non_null(strstr(h.buf, "al&lt;i&gt;ce"));
	assert_null(strstr(h.buf, "<i>"));
	assert_non_null(strstr(csp, "default-src 'none'"));
	a = strstr(h.buf, "<style>") + 7;
	b = strstr(a, "</style>");
	hash_of(a, (size_t)(b - a), hash);
	snprintf(want, sizeof want, "style-src 'sha256-%s'", hash);
	assert_non_null(strstr(csp, want));
	a = strstr(h.buf, "<script>") + 8;
	b = strstr(a, "</script>");
	hash_of(a, (size_t)(b - a), hash);
	snprintf(want, sizeof want, "script-src 'sha256-%s'", hash);
	assert_non_null(strstr(csp, want));
	assert_null(strstr(h.buf, " style="));   /* no inline attributes */
	cv_html_free(&h);
}

static void test_svg_and_duration(void **state)
{
	struct cv_html h = { 0 };
	const double v[] = { 0, 50, 100, 150 };
	char d[32];

	(void)state;
	cv_ui_svg_trend(&h, v, 4, "<a>", "b");
	assert_non_null(strstr(h.buf, "<polyline"));
	assert_non_null(strstr(h.buf, "&lt;a&gt;"));
	/* clamped to the chart */
	assert_non_null(strstr(h.buf, "590.0,10.0"));
	cv_html_free(&h);
	cv_ui_duration(42, d, sizeof d);
	assert_string_equal(d, "42s");
	cv_ui_duration(3 * 3600 + 120, d, sizeof d);
	assert_string_equal(d, "3h 2m");
	cv_ui_duration(2 * 86400 + 7200, d, sizeof d);
	assert_string_equal(d, "2d 2h");
	cv_ui_duration(-5, d, sizeof d);
	assert_string_equal(d, "0s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_page_and_csp),
		cmocka_unit_test(test_svg_and_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
