/* dbpath.c - the one database rule (see dbpath.h). */
#include "dbpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static int put(char *out, size_t size, const char *s)
{
	return (size_t)snprintf(out, size, "%s", s) < size ? 0 : -1;
}

/* $var/state.db, absolute: the farm's processes and the CLI must name the
 * same file whatever their working directory becomes later. */
static int farm_db(const char *var, char *out, size_t size)
{
	char cwd[4096];

	while (var[0] == '.' && var[1] == '/')
		var += 2;
	if (strcmp(var, ".") == 0 || !*var)
		var = "";
	if (var[0] == '/')
		return (size_t)snprintf(out, size, "%s/state.db", var) < size ?
		    0 : -1;
	if (!getcwd(cwd, sizeof cwd))
		return -1;
	return (size_t)snprintf(out, size, "%s%s%s/state.db",
	    strcmp(cwd, "/") == 0 ? "" : cwd, *var ? "/" : "", var) < size ?
	    0 : -1;
}

int cv_dbpath_resolve(const char *explicit_path, enum cv_dbpath_who who,
    char *out, size_t size)
{
	const char *env = getenv("CONVERGE_DB_PATH");
	const char *var = getenv("CONVERGE_VAR_DIR");
	int rc;

	if (explicit_path && *explicit_path)
		return put(out, size, explicit_path);
	if (env && *env)
		return put(out, size, env);
	rc = farm_db(var && *var ? var : "./var", out, size);
	if (rc != 0 || who == CV_DBPATH_FARM || (var && *var) ||
	    access(out, F_OK) == 0)
		return rc;
	return put(out, size, CV_DBPATH_FALLBACK);
}
