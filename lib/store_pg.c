/* store_pg.c - PostgreSQL backend placeholder until libpq support lands:
 * the factory answers with a clear error instead of silently falling back
 * to SQLite (operations.md 2.5). */
#include <stdio.h>

#include "store_impl.h"

enum cv_err cv_pg_open(const struct cv_store_options *opt,
    struct cv_store *s)
{
	(void)opt;
	snprintf(s->errmsg, sizeof s->errmsg,
	    "PostgreSQL backend is not available in this build");
	return CV_ESTORE;
}
