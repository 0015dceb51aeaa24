/* http.c - request decoding, responses and the error envelope. */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonx.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

enum cv_err cv_url_decode(const char *src, size_t len, bool plus_is_space,
    char **out)
{
	char *dst = malloc(len + 1), *d = dst;

	*out = NULL;
	if (!dst)
		return CV_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (src[i] != '%') {
			*d++ = plus_is_space && src[i] == '+' ? ' ' : src[i];
			continue;
		}
		int hi = i + 1 < len ? hexval((unsigned char)src[i + 1]) : -1;
		int lo = i + 2 < len ? hexval((unsigned char)src[i + 2]) : -1;
		/* "%", "%a", "%zz" and an encoded NUL are all refused: a NUL
		 * would cut the value short behind the caller's back. */
		if (hi < 0 || lo < 0 || (hi | lo) == 0) {
			free(dst);
			return CV_EINVAL;
		}
		*d++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*d = '\0';
	*out = dst;
	return CV_OK;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Query
 * values end up in JSON bodies and SQL text; bytes that JSON cannot carry
 * are refused at the door rather than failing later as a 500. */
static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned c = *s;
		int n = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 :
		    c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
		if (n < 0)
			return false;
		for (int i = 1; i <= n; i++)
			if ((s[i] & 0xC0) != 0x80)
				return false;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
		    (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
			return false;
		s += n + 1;
	}
	return true;
}

void cv_query_free(struct cv_query_param *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

enum cv_err cv_query_parse(const char *qs, struct cv_query_param **out,
    size_t *n)
{
	struct cv_query_param *p = NULL;
	size_t count = 0;
	const char *s = qs ? qs : "";

	*out = NULL;
	*n = 0;
	while (*s) {
		size_t len = strcspn(s, "&;");
		const char *eq = memchr(s, '=', len);
		size_t nlen = eq ? (size_t)(eq - s) : len;
		if (len > 0) {
			struct cv_query_param *np = realloc(p, (count + 1) *
			    sizeof *p);
			if (!np) {
				cv_query_free(p, count);
				return CV_ENOMEM;
			}
			p = np;
			p[count].name = p[count].value = NULL;
			if (cv_url_decode(s, nlen, true, &p[count].name) ||
			    cv_url_decode(eq ? eq + 1 : "", eq ? len - nlen - 1 :
			    0, true, &p[count].value) ||
			    !utf8_valid(p[count].name) ||
			    !utf8_valid(p[count].value)) {
				count++;
				cv_query_free(p, count);
				return CV_EINVAL;
			}
			count++;
		}
		s += len;
		if (*s)
			s++;
	}
	*out = p;
	*n = count;
	return CV_OK;
}

const char *cv_request_var(const struct cv_request *r, const char *name)
{
	size_t n = strlen(name);

	for (char **e = r->env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

const char *cv_request_header(const struct cv_request *r, const char *name)
{
	char var[128] = "HTTP_";
	size_t n = strlen(name);

	if (n + 6 > sizeof var)
		return NULL;
	for (size_t i = 0; i < n; i++)
		var[5 + i] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	var[5 + n] = '\0';
	return cv_request_var(r, var);
}

enum cv_err cv_request_init(struct cv_request *r, char **env)
{
	const char *method, *uri, *qs;
	enum cv_err err;

	memset(r, 0, sizeof *r);
	r->env = env;
	method = cv_request_var(r, "REQUEST_METHOD");
	uri = cv_request_var(r, "DOCUMENT_URI");
	if (!uri || !*uri)
		uri = cv_request_var(r, "REQUEST_URI");
	if (!uri || !*uri)
		uri = cv_request_var(r, "SCRIPT_NAME");
	qs = cv_request_var(r, "QUERY_STRING");
	r->method = strdup(method ? method : "GET");
	r->query_string = strdup(qs ? qs : "");
	if (!r->method || !r->query_string)
		return CV_ENOMEM;
	/* REQUEST_URI may still carry the query; DOCUMENT_URI is decoded
	 * by nginx already, so decoding twice would be wrong. */
	size_t plen = uri ? strcspn(uri, "?") : 0;
	if (cv_request_var(r, "DOCUMENT_URI") && *cv_request_var(r,
	    "DOCUMENT_URI")) {
		r->path = strndup(uri, plen);
		err = r->path ? CV_OK : CV_ENOMEM;
	} else {
		err = cv_url_decode(uri ? uri : "/", uri ? plen : 1, false,
		    &r->path);
	}
	if (err != CV_OK)
		return err;
	if (!r->path[0]) {
		free(r->path);
		r->path = strdup("/");
	}
	/* Bug fix (webhook tests): routing on the decoded path made every
	 * webhook intent ("owner/repo:pr-N") unreachable under
	 * /intents/{id}, even percent-encoded, since nginx hands over
	 * DOCUMENT_URI decoded.  Routes now match the raw REQUEST_URI and
	 * the router decodes each parameter. */
	uri = cv_request_var(r, "REQUEST_URI");
	if (!uri || !*uri || *uri != '/')
		r->raw_path = strdup(r->path ? r->path : "/");
	else
		r->raw_path = strndup(uri, strcspn(uri, "?"));
	if (!r->path || !r->raw_path)
		return CV_ENOMEM;
	return cv_query_parse(r->query_string, &r->params, &r->nparams);
}

void cv_request_free(struct cv_request *r)
{
	free(r->method);
	free(r->path);
	free(r->raw_path);
	free(r->query_string);
	cv_query_free(r->params, r->nparams);
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

const char *cv_request_query(const struct cv_request *r, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0)
			v = r->params[i].value;   /* the last value wins */
	return v;
}

enum cv_err cv_request_query_int(const struct cv_request *r,
    const char *name, long long def, long long min, long long max,
    long long *out)
{
	const char *v = cv_request_query(r, name);
	char *end;
	long long n;

	*out = def;
	if (!v)
		return CV_OK;
	while (isspace((unsigned char)*v))
		v++;
	errno = 0;
	n = strtoll(v, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (end == v || *end)
		return CV_EINVAL;
	if (errno == ERANGE)
		n = n < 0 ? min : max;
	*out = n < min ? min : n > max ? max : n;
	return CV_OK;
}

static bool json_content_type(const char *ct)
{
	size_t n;

	if (!ct || !*ct)
		return true;
	n = strcspn(ct, ";");
	while (n > 0 && isspace((unsigned char)ct[n - 1]))
		n--;
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	return n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

enum cv_err cv_request_parse_json(struct cv_request *r)
{
	json_error_t jerr;

	if (r->json || r->body_len == 0)
		return CV_OK;
	if (!json_content_type(cv_request_var(r, "CONTENT_TYPE")))
		return CV_OK;
	r->json = cv_json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &jerr);
	if (!r->json)
		r->json_error_pos = (size_t)jerr.position;
	return r->json ? CV_OK : CV_EJSON;
}

/* ---- responses ---------------------------------------------------------- */

void cv_response_init(struct cv_response *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->status = 200;
}

void cv_response_free(struct cv_response *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}

void cv_response_header(struct cv_response *resp, const char *name,
    const char *value)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0) {
			char *v = strdup(value);
			if (v) {
				free(resp->headers[i].value);
				resp->headers[i].value = v;
			}
			return;
		}
	cv_response_header_add(resp, name, value);
}

void cv_response_header_add(struct cv_response *resp, const char *name,
    const char *value)
{
	struct cv_header *h;

	h = realloc(resp->headers, (resp->nheaders + 1) * sizeof *h);
	if (!h)
		return;
	resp->headers = h;
	h[resp->nheaders].name = strdup(name);
	h[resp->nheaders].value = strdup(value);
	if (h[resp->nheaders].name && h[resp->nheaders].value)
		resp->nheaders++;
	else {
		free(h[resp->nheaders].name);
		free(h[resp->nheaders].value);
	}
}

const char *cv_response_get_header(const struct cv_response *resp,
    const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

void cv_response_text(struct cv_response *resp, int status,
    const char *content_type, const char *body, size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->body = malloc(len + 1);
	resp->body_len = resp->body ? len : 0;
	if (resp->body) {
		memcpy(resp->body, body, len);
		resp->body[len] = '\0';
	}
	cv_response_header(resp, "Content-Type", content_type);
}

void cv_response_json(struct cv_response *resp, int status, json_t *body_take)
{
	char *text = body_take ? cv_json_dump(body_take) : NULL;

	json_decref(body_take);
	if (!text) {
		static const char oom[] = "{\"error\":\"Internal server error\"}";
		cv_response_text(resp, 500, "application/json", oom,
		    sizeof oom - 1);
		return;
	}
	free(resp->body);
	resp->status = status;
	resp->body = text;
	resp->body_len = strlen(text);
	cv_response_header(resp, "Content-Type", "application/json");
}

void cv_response_error(struct cv_response *resp, int status, const char *msg)
{
	cv_response_json(resp, status, json_pack("{s:s}", "error", msg));
}

void cv_response_not_found(struct cv_response *resp)
{
	cv_response_json(resp, 404, json_pack("{s:s,s:s}", "detail",
	    "Not Found", "error", "Not Found"));
}

void cv_response_method_not_allowed(struct cv_response *resp,
    const char *allow)
{
	cv_response_json(resp, 405, json_pack("{s:s,s:s}", "detail",
	    "Method Not Allowed", "error", "Method Not Allowed"));
	cv_response_header(resp, "Allow", allow);
}

const char *cv_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}
