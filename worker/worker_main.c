/* worker_main.c - converge-worker: the queue worker as a daemon
 * (foreground; the farm scripts background it) or, with --once, a single
 * cycle for cron. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "worker_loop.h"

int main(int argc, char **argv)
{
	struct cv_config cfg;
	struct cv_store *s = NULL;
	char err[256], *msg = NULL;
	bool once = false;
	int rc;

	bool check_only = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = true;
		else if (strcmp(argv[i], "--check-config") == 0)
			check_only = true;
		else {
			fprintf(stderr, "usage: %s [--once | --check-config]\n",
			    argv[0]);
			return 2;
		}
	}
	if (cv_config_load(&cfg, err, sizeof err) != CV_OK) {
		/* --check-config (scripts/up): the one line, nothing else. */
		if (check_only)
			fprintf(stderr, "%s\n", err);
		else
			cv_log(CV_ERROR, "converge.worker", "configuration: %s",
			    err);
		return 1;
	}
	if (check_only) {
		cv_config_free(&cfg);
		return 0;
	}
	if (cv_store_open_factory(cfg.db_backend, cfg.db_path, cfg.pg_dsn, &s,
	    &msg) != CV_OK) {
		cv_log(CV_ERROR, "converge.worker", "store: %s",
		    msg ? msg : "cannot open");
		free(msg);
		cv_config_free(&cfg);
		return 1;
	}
	rc = cv_worker_main(&cfg, s, once);
	cv_store_close(s);
	cv_config_free(&cfg);
	return rc;
}
