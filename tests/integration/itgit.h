/*
 * itgit.h - running git (or any program) in a directory and writing files
 * there, for the integration tests that build throw-away repositories.
 * static inline: include it once, after cmocka.h (api_util.h includes it).
 */
#ifndef CV_ITGIT_H
#define CV_ITGIT_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv in dir with a fixed git identity; aborts the test on failure. */
static inline void run_in(const char *dir, const char *const *argv)
{
	int status;
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (chdir(dir) != 0)
			_exit(126);
		dup2(null, STDOUT_FILENO);
		setenv("GIT_AUTHOR_NAME", "Converge Test", 1);
		setenv("GIT_AUTHOR_EMAIL", "test@converge.invalid", 1);
		setenv("GIT_COMMITTER_NAME", "Converge Test", 1);
		setenv("GIT_COMMITTER_EMAIL", "test@converge.invalid", 1);
		setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
		setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fail_msg("%s %s failed in %s", argv[0], argv[1], dir);
}

static inline void write_file(const char *dir, const char *rel,
    const char *content)
{
	char path[PATH_MAX + 256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, rel);
	if (!(f = fopen(path, "w")))
		fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(content, f);
	fclose(f);
}

#define GIT(dir, ...) do { \
	const char *argv_[] = { "git", __VA_ARGS__, NULL }; \
	run_in((dir), argv_); \
} while (0)

#endif
