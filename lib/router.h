/*
 * router.h - the small router inside a route family (http-api.md 1, 11).
 *
 * A route is a method and a path pattern; "{name}" matches one non-empty
 * segment. Business routes exist under both /api and /v1 (flag
 * CV_ROUTE_PREFIXED); the pattern is written without the prefix.
 * A path that matches no pattern is 404; a path that matches with another
 * method is 405 with Allow listing the methods that would match.
 */
#ifndef CV_ROUTER_H
#define CV_ROUTER_H

#include <stddef.h>

#define CV_ROUTE_PREFIXED 0x1
#define CV_MAX_PATH_PARAMS 4

struct cv_ctx;
typedef void (*cv_handler)(struct cv_ctx *ctx);

struct cv_route {
	const char *method;
	const char *pattern;
	cv_handler handler;
	unsigned flags;
	const char *role;      /* minimum role, NULL = no authentication */
	const char *scope;     /* required scope, NULL = none */
};

enum cv_route_result { CV_ROUTE_FOUND, CV_ROUTE_NOT_FOUND,
    CV_ROUTE_BAD_METHOD };

struct cv_route_match {
	const struct cv_route *route;
	const char *unprefixed;            /* path without /api or /v1 */
	char params[CV_MAX_PATH_PARAMS][256];
	int nparams;
	char allow[64];                    /* for CV_ROUTE_BAD_METHOD */
};

/* Finds the route for method and path (as sent, percent-encoded; each
 * parameter is decoded into m->params). path is borrowed and must outlive
 * m->unprefixed. Path parameters longer than 255 bytes do not match. */
enum cv_route_result cv_route_find(const struct cv_route *routes, size_t n,
    const char *method, const char *path, struct cv_route_match *m);

#endif
