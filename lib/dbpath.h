/*
 * dbpath.h - which SQLite file a program uses, one rule for all of them
 * (README "One database"):
 *
 *   1. an explicit path (the CLI's --db), else CONVERGE_DB_PATH when set;
 *   2. the farm's database, $CONVERGE_VAR_DIR/state.db (var dir ./var by
 *      default), made absolute: always for the responders, the worker and
 *      `converge serve`; for the other CLI commands when CONVERGE_VAR_DIR
 *      is set or that file exists (a farm is set up here);
 *   3. the CLI only, where no farm is set up: .converge/state.db, as the
 *      0.1.0 CLI did.
 */
#ifndef CV_DBPATH_H
#define CV_DBPATH_H

#include <stddef.h>

enum cv_dbpath_who {
	CV_DBPATH_FARM,   /* responders, worker, serve: never .converge/ */
	CV_DBPATH_CLI     /* the CLI: .converge/ when no farm is set up */
};

#define CV_DBPATH_FALLBACK ".converge/state.db"

/* Writes the path into out (size bytes). explicit_path NULL or "" means
 * not given. Returns 0, or -1 when the path does not fit. */
int cv_dbpath_resolve(const char *explicit_path, enum cv_dbpath_who who,
    char *out, size_t size);

#endif
