/*
 * http.h - one HTTP exchange as the responders see it: the request
 * (method, path, decoded query, headers, capped body, parsed JSON) and the
 * response (status, headers, body), plus the error envelope of
 * http-api.md 10. Independent of FastCGI so that tests drive it directly.
 *
 * Ownership: a request owns everything it points to and is released by
 * cv_request_free; a response likewise by cv_response_free.
 */
#ifndef CV_HTTP_H
#define CV_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cv.h"

struct cv_query_param {
	char *name;
	char *value;
};

struct cv_request {
	char *method;
	char *path;            /* without the query string, percent-decoded */
	char *raw_path;        /* the same as sent (still encoded): routes
	                        * match on it, so %2F inside an id such as
	                        * "acme/app:pr-1" is not a separator */
	char *query_string;    /* raw */
	struct cv_query_param *params;
	size_t nparams;
	char **env;            /* CGI-style NAME=value list (borrowed) */
	char *body;            /* NUL-terminated copy, may contain NULs */
	size_t body_len;
	json_t *json;          /* parsed body, or NULL */
	size_t json_error_pos; /* byte offset of a JSON syntax error */
	char request_id[80];
	char route_label[160]; /* metrics path label: pattern or "unmatched" */
	double started;        /* cv_monotonic() at arrival */
};

struct cv_header {
	char *name;
	char *value;
};

struct cv_response {
	int status;
	struct cv_header *headers;
	size_t nheaders;
	char *body;
	size_t body_len;
};

/* Percent-decodes src[0..len) into a new string (form rules when
 * plus_is_space). Returns CV_EINVAL for a malformed escape ("%zz", a
 * trailing "%" or "%a") or an encoded NUL; *out then is NULL. */
enum cv_err cv_url_decode(const char *src, size_t len, bool plus_is_space,
    char **out);

/* Parses a query string into name/value pairs in order. A malformed pair,
 * or a name or value that does not decode to well-formed UTF-8, is
 * CV_EINVAL (the caller answers 400). */
enum cv_err cv_query_parse(const char *qs, struct cv_query_param **out,
    size_t *n);
void cv_query_free(struct cv_query_param *p, size_t n);

/* Fills method/path/query from CGI variables in env (REQUEST_METHOD,
 * DOCUMENT_URI or REQUEST_URI, QUERY_STRING). env is borrowed and must
 * outlive the request. */
enum cv_err cv_request_init(struct cv_request *r, char **env);
void cv_request_free(struct cv_request *r);

/* A CGI variable ("CONTENT_TYPE") or NULL. */
const char *cv_request_var(const struct cv_request *r, const char *name);

/* A request header by its HTTP name ("X-API-Key"), case-insensitive, or
 * NULL. */
const char *cv_request_header(const struct cv_request *r, const char *name);

/* The last value of a query parameter, or NULL. */
const char *cv_request_query(const struct cv_request *r, const char *name);

/* Integer query parameter: absent → def; not an integer → CV_EINVAL;
 * clamped into [min, max] (http-api.md D12). */
enum cv_err cv_request_query_int(const struct cv_request *r,
    const char *name, long long def, long long min, long long max,
    long long *out);

/* Parses the body as JSON when it is present and the content type is
 * JSON or absent (http-api.md 1.2). CV_EJSON when it does not parse. */
enum cv_err cv_request_parse_json(struct cv_request *r);

/* ---- responses ---------------------------------------------------------- */

void cv_response_init(struct cv_response *resp);
void cv_response_free(struct cv_response *resp);
void cv_response_header(struct cv_response *resp, const char *name,
    const char *value);
/* Adds another header line even when name is set already (Set-Cookie). */
void cv_response_header_add(struct cv_response *resp, const char *name,
    const char *value);
const char *cv_response_get_header(const struct cv_response *resp,
    const char *name);

/* Sets status and a JSON body (Content-Type: application/json).
 * body_take is stolen. */
void cv_response_json(struct cv_response *resp, int status, json_t *body_take);

/* Sets status and an arbitrary body with the given content type. */
void cv_response_text(struct cv_response *resp, int status,
    const char *content_type, const char *body, size_t len);

/* The error envelope {"error": msg}. */
void cv_response_error(struct cv_response *resp, int status, const char *msg);

/* 404/405 bodies carry both "detail" (compat) and "error" (D20). */
void cv_response_not_found(struct cv_response *resp);
void cv_response_method_not_allowed(struct cv_response *resp,
    const char *allow);

/* Reason phrase for a status code. */
const char *cv_http_reason(int status);

#endif
