/* router.c - pattern matching of paths against a family's routes. */
#include "router.h"

#include <string.h>

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes a path parameter in place (never longer); false for
 * an encoded NUL, which no id contains. */
static int param_decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '%' && hex(s[1]) >= 0 && hex(s[2]) >= 0) {
			*w = (char)(hex(s[1]) * 16 + hex(s[2]));
			if (*w++ == '\0')
				return 0;
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
	return 1;
}

/* Strips "/api" or "/v1" when followed by "/" and something. */
static const char *unprefix(const char *path)
{
	if ((strncmp(path, "/api/", 5) == 0 && path[5]) ||
	    (strncmp(path, "/v1/", 4) == 0 && path[4]))
		return path[1] == 'a' ? path + 4 : path + 3;
	return NULL;
}

static int match(const char *pattern, const char *path,
    struct cv_route_match *m)
{
	int np = 0;

	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *close = strchr(pattern, '}');
			size_t len = strcspn(path, "/");
			if (!close || len == 0 || len >= sizeof m->params[0] ||
			    np >= CV_MAX_PATH_PARAMS)
				return 0;
			memcpy(m->params[np], path, len);
			m->params[np][len] = '\0';
			/* Paths are matched still encoded (http.c raw_path). */
			if (!param_decode(m->params[np++]))
				return 0;
			pattern = close + 1;
			path += len;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	if (*pattern || *path)
		return 0;
	m->nparams = np;
	return 1;
}

static void allow_add(char *allow, size_t size, const char *method)
{
	if (strstr(allow, method))
		return;
	if (*allow)
		strncat(allow, ", ", size - strlen(allow) - 1);
	strncat(allow, method, size - strlen(allow) - 1);
}

enum cv_route_result cv_route_find(const struct cv_route *routes, size_t n,
    const char *method, const char *path, struct cv_route_match *m)
{
	const char *bare = unprefix(path);
	int path_known = 0;

	memset(m, 0, sizeof *m);
	for (size_t i = 0; i < n; i++) {
		const struct cv_route *r = &routes[i];
		const char *p = (r->flags & CV_ROUTE_PREFIXED) ? bare : path;
		if (!p || !match(r->pattern, p, m))
			continue;
		if (strcmp(r->method, method) == 0) {
			m->route = r;
			m->unprefixed = p;
			return CV_ROUTE_FOUND;
		}
		path_known = 1;
		allow_add(m->allow, sizeof m->allow, r->method);
	}
	return path_known ? CV_ROUTE_BAD_METHOD : CV_ROUTE_NOT_FOUND;
}
