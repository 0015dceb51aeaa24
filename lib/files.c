/* files.c - file-system helpers. */
#include "files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cv_mkdir_parents(const char *path)
{
	char *dup = strdup(path);
	int rc = 0;

	if (!dup)
		return -1;
	for (char *p = dup + 1; *p && rc == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dup, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	free(dup);
	return rc;
}
