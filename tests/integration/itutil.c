/*
 * itutil.c - free loopback ports, PATH look-ups and scratch-tree removal
 * for the integration tests.  See itutil.h.
 */
#include "itutil.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int it_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd, port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int it_find_prog(const char *prog, char *out, size_t size)
{
	const char *path = getenv("PATH");
	char dirs[4096], file[PATH_MAX], *dir, *save = NULL;

	snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin:/usr/bin:/bin",
	    path ? path : "");
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(file, sizeof file, "%s/%s", dir, prog);
		if (access(file, X_OK) == 0) {
			if (out)
				snprintf(out, size, "%s", file);
			return 1;
		}
	}
	return 0;
}

/* Everything readable from fd (NUL-terminated, caller frees), or NULL. */
static char *read_all(int fd)
{
	char *buf = calloc(1, 1), *nb;
	size_t len = 0;

	for (;;) {
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || !buf)
			break;
		if ((nb = realloc(buf, len + (size_t)n + 1)) == NULL)
			break;
		buf = nb;
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

int it_run(char *const argv[], const char *const *env, char **out)
{
	int fds[2], status = 0;
	char *buf;
	pid_t pid;

	if (out)
		*out = NULL;
	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	buf = read_all(fds[0]);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int it_pg_scratch(const char *cmd, const char *dir, char *dsn, size_t size)
{
	char script[PATH_MAX], *out = NULL;
	char *argv[] = { script, (char *)cmd, (char *)dir, NULL };
	int rc;

	snprintf(script, sizeof script, "%s/scripts/pg-scratch", CV_SRCDIR);
	rc = it_run(argv, NULL, dsn ? &out : NULL);
	if (dsn) {
		snprintf(dsn, size, "%s", out ? out : "");
		dsn[strcspn(dsn, "\n")] = '\0';
	}
	free(out);
	return rc == 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void it_remove_tree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
