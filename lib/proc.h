/*
 * proc.h - run an external program without a shell.
 *
 * Every program Converge runs (git, make) goes through cv_proc_run: argv is
 * passed to execvp as is, so nothing in a ref name or a path is ever parsed
 * by a shell. The runner is safe inside a pre-forked FastCGI responder: the
 * child gets /dev/null on stdin, fresh pipes on stdout/stderr, and no other
 * inherited descriptor (the FastCGI listening socket on fd 0 and the DB
 * connection must not leak into git or make). It installs no signal
 * handlers and reaps only its own child, by pid. A caller may hand the
 * child a few bytes on stdin instead (cv_proc_opts.in).
 *
 * Ownership follows cv.h; cv_proc_result_free releases a result.
 */
#ifndef CV_PROC_H
#define CV_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "cv.h"

/* Default cap on each captured stream. Output past the cap is read and
 * dropped so that the child never blocks on a full pipe. */
#define CV_PROC_CAP_DEFAULT ((size_t)4 * 1024 * 1024)

/* Most bytes cv_proc_opts.in may hold: they are written into the pipe
 * before the child starts, so they must fit in its buffer (Linux gives
 * every pipe at least 64 KiB); nothing then waits on the child reading. */
#define CV_PROC_IN_MAX ((size_t)60 * 1024)

/* Resource limits (setrlimit) the child takes before exec; they hold for
 * everything it starts. 0 leaves a limit as inherited. */
struct cv_proc_limits {
	long cpu_s;                 /* RLIMIT_CPU, seconds of CPU per process */
	long long as_bytes;         /* RLIMIT_AS, address space */
	long long fsize_bytes;      /* RLIMIT_FSIZE, largest file written */
	long nproc;                 /* RLIMIT_NPROC, processes of the user */
};

struct cv_proc_opts {
	const char *cwd;            /* directory to run in; NULL: inherit */
	int timeout_ms;             /* <= 0: no limit */
	size_t cap;                 /* per-stream cap; 0: CV_PROC_CAP_DEFAULT */
	const char *const *env;     /* NULL, or "NAME=value" strings ending in
	                             * NULL, added to (or replacing in) the
	                             * inherited environment of the child */
	bool env_only;              /* env is the whole environment: nothing
	                             * is inherited (env NULL: an empty one) */
	const struct cv_proc_limits *limits;  /* NULL: none set */
	bool kill_group;            /* once the program ended, kill what it
	                             * left running in its process group */
	const char *in;             /* NULL: stdin is /dev/null; else the
	                             * child reads in[0..in_len) then EOF */
	size_t in_len;              /* at most CV_PROC_IN_MAX, else CV_EINVAL */
};

struct cv_proc_result {
	int exit_code;              /* exit status if the program exited, else -1 */
	int term_signal;            /* signal that ended it, else 0 */
	char *out;                  /* captured stdout, NUL-terminated */
	size_t out_len;
	char *err;                  /* captured stderr, NUL-terminated */
	size_t err_len;
	bool out_truncated;         /* the stream went past the cap */
	bool err_truncated;
	char *error;                /* why the program could not run (CV_EEXEC),
	                             * else NULL */
};

/*
 * Runs argv[0] (looked up in PATH) with argv, waits for it and captures
 * both output streams. res is always initialised, and must be released
 * with cv_proc_result_free whatever the return code.
 * Returns:
 *   CV_OK       the program ran to its end; look at exit_code/term_signal;
 *   CV_ETIMEOUT the limit passed: the whole process group was killed,
 *               output captured so far is in res;
 *   CV_EEXEC    the program could not be started (not found, cwd missing,
 *               fork/pipe failure); res->error says why;
 *   CV_EINVAL   argv empty, or in_len over CV_PROC_IN_MAX;
 *   CV_ENOMEM   allocation failure.
 */
enum cv_err cv_proc_run(const char *const argv[], const struct cv_proc_opts *opts,
    struct cv_proc_result *res);

/* Releases what res holds and resets it; res itself is the caller's. */
void cv_proc_result_free(struct cv_proc_result *res);

/*
 * A copy of at most max_chars characters of buf[0..len) as valid UTF-8
 * (invalid bytes become U+FFFD), so that program output can go into JSON.
 * Caller frees; NULL on allocation failure.
 */
char *cv_proc_text_dup(const char *buf, size_t len, size_t max_chars);

/* Same with trailing whitespace removed (for one-line error texts). */
char *cv_proc_text_trim_dup(const char *buf, size_t len, size_t max_chars);

#endif
