/*
 * farm.h - the main loop every responder shares.
 *
 * A responder is started by spawn-fcgi with the listening socket on fd 0
 * (or by systemd socket activation, or binds one itself with --socket PATH
 * or CONVERGE_FCGI_LISTEN: listen.h), pre-forks
 * CONVERGE_FCGI_PROCESSES children that each accept one request at a time,
 * and replaces a child that dies: a crash costs one request, not the
 * family. SIGTERM drains: children finish the request in hand and exit.
 */
#ifndef CV_FARM_H
#define CV_FARM_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"
#include "router.h"

struct cv_family {
	const char *name;
	const struct cv_route *routes;
	size_t nroutes;
	bool webhook_body;         /* 25 MiB cap instead of 1 MiB */
	int default_processes;
	/* Called once per child after the store is opened; non-zero aborts
	 * the child. May be NULL. */
	int (*init)(struct cv_app *app);
	void (*fini)(struct cv_app *app);
};

/* Runs the family; returns the process exit code. */
int cv_farm_main(const struct cv_family *family, int argc, char **argv);

/* Handles one request already decoded into req (the body read): routing,
 * 404/405, the handler. Exposed for tests that drive a family without a
 * web server. */
void cv_farm_dispatch(const struct cv_family *family, struct cv_app *app,
    struct cv_request *req, struct cv_response *resp);

#endif
