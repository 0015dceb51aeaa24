/*
 * fuzz_http.c - percent-decoding, query parsing and the request line.
 *
 * Input: "METHOD\nURI\nQUERY\nDOCUMENT_URI" (missing fields are absent
 * variables). The whole input also goes through cv_url_decode (both
 * modes) and cv_query_parse on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

static void decode_all(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1), *out = NULL;
	struct cv_query_param *p = NULL;
	size_t np = 0;

	if (!s)
		return;
	memcpy(s, data, n);
	s[n] = '\0';
	for (int plus = 0; plus < 2; plus++) {
		if (cv_url_decode(s, n, plus, &out) == CV_OK && !out)
			abort();   /* success must give a string */
		free(out);
		out = NULL;
	}
	if (cv_query_parse(s, &p, &np) == CV_OK)
		cv_query_free(p, np);
	free(s);
}

int fuzz_http(const uint8_t *data, size_t n)
{
	char *f[4], *buf, *env[5], *vars[4] = { NULL, NULL, NULL, NULL };
	static const char *const names[] = { "REQUEST_METHOD", "REQUEST_URI",
	    "QUERY_STRING", "DOCUMENT_URI" };
	struct cv_request req;
	size_t nf, ne = 0;
	long long v;

	decode_all(data, n);
	nf = fuzz_split(data, n, '\n', f, 4, &buf, NULL);
	for (size_t i = 0; i < nf; i++)
		if (asprintf(&vars[i], "%s=%s", names[i], f[i]) > 0)
			env[ne++] = vars[i];
	env[ne] = NULL;
	if (cv_request_init(&req, env) == CV_OK) {
		if (!req.path || !req.raw_path || !req.method)
			abort();
		(void)cv_request_query(&req, "tenant_id");
		(void)cv_request_query_int(&req, "limit", 50, 1, 1000, &v);
		(void)cv_request_header(&req, "X-Request-ID");
	}
	cv_request_free(&req);
	for (size_t i = 0; i < 4; i++)
		free(vars[i]);
	free(buf);
	return 0;
}

CV_FUZZ_TARGET(http)
