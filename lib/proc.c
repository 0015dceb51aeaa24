/* proc.c - spawn/execvp runner with timeout and bounded, deadlock-free capture. */
#include "proc.h"

#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum child_stage { STAGE_SETUP = 1, STAGE_CHDIR, STAGE_LIMITS, STAGE_EXEC };

/* What a child that could not exec tells its parent over the report pipe. */
struct child_report {
	int stage;
	int err;
};

struct capture {
	char *p;
	size_t len, cap_alloc, limit;
	int fd;
	bool truncated;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cv_proc_result_free(struct cv_proc_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	free(res->error);
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
}

/*
 * The child's environment when the caller adds variables: the inherited
 * one minus the names being replaced, then the additions. Only the pointer
 * array is allocated; the strings stay borrowed.
 */
static char **env_build(const char *const *extra)
{
	size_t n_env = 0, n_extra = 0, i, j, k = 0;
	char **envp;

	while (environ[n_env] != NULL)
		n_env++;
	while (extra[n_extra] != NULL)
		n_extra++;
	if ((envp = calloc(n_env + n_extra + 1, sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0; i < n_env; i++) {
		bool replaced = false;

		for (j = 0; j < n_extra && !replaced; j++) {
			size_t nl = strcspn(extra[j], "=");
			replaced = strncmp(environ[i], extra[j], nl) == 0 &&
			    environ[i][nl] == '=';
		}
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (j = 0; j < n_extra; j++)
		envp[k++] = (char *)extra[j];
	return envp;
}

/* setrlimit of the limits asked for; false with errno on a refusal. */
static bool limits_apply(const struct cv_proc_limits *l)
{
	static const int which[] = { RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE,
	    RLIMIT_NPROC };
	long long want[4];

	want[0] = l->cpu_s;
	want[1] = l->as_bytes;
	want[2] = l->fsize_bytes;
	want[3] = l->nproc;
	for (int i = 0; i < 4; i++) {
		struct rlimit rl;

		if (want[i] <= 0)
			continue;
		if (getrlimit(which[i], &rl) < 0)
			return false;
		/* Only ever lowered: an unprivileged raise would fail. */
		if (rl.rlim_max == RLIM_INFINITY ||
		    (rlim_t)want[i] < rl.rlim_max)
			rl.rlim_max = (rlim_t)want[i];
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(which[i], &rl) < 0)
			return false;
	}
	return true;
}

/* The pointer array of env as the whole environment (strings borrowed). */
static char **env_copy(const char *const *env)
{
	size_t n = 0;
	char **envp;

	while (env != NULL && env[n] != NULL)
		n++;
	if ((envp = calloc(n + 1, sizeof(*envp))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		envp[i] = (char *)env[i];
	return envp;
}

static void child_fail(int rep, int stage, int err)
{
	struct child_report r = { stage, err };
	ssize_t w;

	do
		w = write(rep, &r, sizeof(r));
	while (w < 0 && errno == EINTR);
	_exit(127);
}

/*
 * Runs in the forked child: only async-signal-safe calls until exec.
 * The four descriptors we keep are first moved to 10 and up so that the
 * dup2 onto 0..3 cannot clobber one we still need (a responder may have
 * its own stdio closed, so pipe() can hand out 0, 1 or 2).
 */
static void child_exec(const char *const argv[], const struct cv_proc_opts *o,
    char **envp, int in_r, int out_w, int err_w, int rep_w)
{
	int fds[4], i;
	sigset_t none;

	setpgid(0, 0);
	fds[0] = in_r >= 0 ? in_r : open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = out_w;
	fds[2] = err_w;
	fds[3] = rep_w;
	if (fds[0] < 0)
		child_fail(rep_w, STAGE_SETUP, errno);
	for (i = 0; i < 4; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) < 0)
			child_fail(rep_w, STAGE_SETUP, errno);
	for (i = 0; i < 4; i++)
		if (dup2(fds[i], i) < 0)
			child_fail(fds[3], STAGE_SETUP, errno);
	/* fd 3 must vanish on a successful exec: that EOF is the success signal. */
	fcntl(3, F_SETFD, FD_CLOEXEC);
	if (close_range(4, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (i = 4; i < (max > 0 && max < 65536 ? max : 65536); i++)
			close(i);
	}
	/* A responder may ignore SIGPIPE or block signals; git and make must
	 * start with the defaults. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (o->cwd != NULL && chdir(o->cwd) < 0)
		child_fail(3, STAGE_CHDIR, errno);
	if (o->limits != NULL && !limits_apply(o->limits))
		child_fail(3, STAGE_LIMITS, errno);
	if (envp != NULL)
		execvpe(argv[0], (char *const *)argv, envp);
	else
		execvp(argv[0], (char *const *)argv);
	child_fail(3, STAGE_EXEC, errno);
}

/*
 * Starting the child without copying our address space: clone with
 * CLONE_VM | CLONE_VFORK (what posix_spawn does) runs child_exec on a
 * stack of its own in our memory while we wait, until it execs or exits.
 * A fork copies the page tables of a process that may map a large
 * database only to throw them away at exec: measured, that was most of
 * the CPU a queue run spent outside git and make.
 *
 * The child shares our memory, so nothing of ours may run in it: every
 * signal is blocked across the clone, and the child puts each handled
 * signal back to its default before child_exec unblocks them (the
 * handler table is the child's own, as CLONE_SIGHAND is not set).
 */
struct spawn_args {
	const char *const *argv;
	const struct cv_proc_opts *o;
	char **envp;
	int in_r, out_w, err_w, rep_w;
};

#define CHILD_STACK_BYTES (256 * 1024)

/* A sanitizer's runtime keeps per-thread state that a child sharing our
 * memory (and thread pointer) would change under us: AddressSanitizer
 * builds spin. They take the plain fork. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CV_SPAWN_FORK_ONLY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define CV_SPAWN_FORK_ONLY 1
#endif
#endif

static int child_main(void *p)
{
	const struct spawn_args *a = p;

	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
		    sa.sa_handler != SIG_IGN) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = SIG_DFL;
			sigaction(sig, &sa, NULL);
		}
	}
	child_exec(a->argv, a->o, a->envp, a->in_r, a->out_w, a->err_w,
	    a->rep_w);
	return 127;
}

/* The child's pid, or -1 with errno; falls back to fork where clone is
 * refused (a seccomp filter, a tool that does not support it). */
static pid_t spawn(const struct spawn_args *a)
{
	sigset_t all, old;
	void *stack;
	pid_t pid;

#ifdef CV_SPAWN_FORK_ONLY
	stack = MAP_FAILED;
#else
	stack = mmap(NULL, CHILD_STACK_BYTES, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
#endif
	if (stack != MAP_FAILED) {
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, &old);
		pid = clone(child_main, (char *)stack + CHILD_STACK_BYTES,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)a);
		sigprocmask(SIG_SETMASK, &old, NULL);
		munmap(stack, CHILD_STACK_BYTES);
		if (pid >= 0)
			return pid;
	}
	if ((pid = fork()) == 0)
		child_exec(a->argv, a->o, a->envp, a->in_r, a->out_w,
		    a->err_w, a->rep_w);
	return pid;
}

static enum cv_err capture_read(struct capture *c)
{
	char chunk[65536];
	ssize_t n;
	size_t keep;

	n = read(c->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return CV_OK;
	if (n <= 0) {
		close(c->fd);
		c->fd = -1;
		return CV_OK;
	}
	keep = (size_t)n;
	if (keep > c->limit - c->len) {
		keep = c->limit - c->len;
		c->truncated = true;
	}
	if (c->len + keep + 1 > c->cap_alloc) {
		size_t want = c->cap_alloc ? c->cap_alloc : 4096;
		char *p;

		while (want < c->len + keep + 1)
			want *= 2;
		if ((p = realloc(c->p, want)) == NULL)
			return CV_ENOMEM;
		c->p = p;
		c->cap_alloc = want;
	}
	memcpy(c->p + c->len, chunk, keep);
	c->len += keep;
	c->p[c->len] = '\0';
	return CV_OK;
}

/* Reads both pipes until EOF on both or the deadline (-1: none).
 * Returns CV_OK, CV_ETIMEOUT or CV_ENOMEM. */
static enum cv_err capture_all(struct capture *c, int64_t deadline)
{
	while (c[0].fd >= 0 || c[1].fd >= 0) {
		struct pollfd pfd[2];
		int n = 0, i, wait = -1, r;
		struct capture *which[2];

		for (i = 0; i < 2; i++)
			if (c[i].fd >= 0) {
				pfd[n].fd = c[i].fd;
				pfd[n].events = POLLIN;
				which[n++] = &c[i];
			}
		if (deadline >= 0) {
			int64_t left = deadline - mono_ms();

			if (left <= 0)
				return CV_ETIMEOUT;
			wait = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		r = poll(pfd, (nfds_t)n, wait);
		if (r < 0 && errno != EINTR)
			return CV_EEXEC;
		for (i = 0; r > 0 && i < n; i++)
			if (pfd[i].revents != 0 && capture_read(which[i]) != CV_OK)
				return CV_ENOMEM;
	}
	return CV_OK;
}

/*
 * A descriptor that becomes readable when pid exits (Linux 5.3+), or -1.
 * Opened right after fork, while the child cannot have been reaped, so
 * it always names our child.
 */
static int pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -1 : (int)fd;
#else
	(void)pid;
	return -1;
#endif
}

/*
 * Waits for pid until the deadline (-1: none); CV_ETIMEOUT if it passes.
 * A child usually closes its pipes a moment before it exits, so the
 * first WNOHANG poll often misses it; the wait then sleeps on the pidfd
 * until the exit itself, never a fixed time per child. Without a pidfd
 * (kernels older than 5.3) it falls back to 1 ms ticks.
 */
static enum cv_err reap(pid_t pid, int pidfd, int64_t deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, deadline < 0 ? 0 : WNOHANG);
		int64_t left;

		if (r == pid)
			return CV_OK;
		if (r < 0 && errno != EINTR)
			return CV_EEXEC;
		if (r < 0)
			continue;
		if ((left = deadline - mono_ms()) <= 0)
			return CV_ETIMEOUT;
		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };

			poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		} else {
			poll(NULL, 0, 1);
		}
	}
}

static void reap_blocking(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

static enum cv_err exec_error(struct cv_proc_result *res, const char *prog,
    const char *cwd, const struct child_report *r)
{
	int n;

	if (r->stage == STAGE_CHDIR)
		n = asprintf(&res->error, "cannot enter directory '%s': %s",
		    cwd, strerror(r->err));
	else if (r->stage == STAGE_LIMITS)
		n = asprintf(&res->error, "cannot set resource limits for '%s': "
		    "%s", prog, strerror(r->err));
	else if (r->stage == STAGE_EXEC && r->err == ENOENT)
		n = asprintf(&res->error, "command not found: '%s'", prog);
	else
		n = asprintf(&res->error, "cannot run '%s': %s", prog,
		    strerror(r->err));
	if (n < 0) {
		res->error = NULL;
		return CV_ENOMEM;
	}
	return CV_EEXEC;
}

static enum cv_err sys_error(struct cv_proc_result *res, const char *what)
{
	if (asprintf(&res->error, "%s: %s", what, strerror(errno)) < 0) {
		res->error = NULL;
		return CV_ENOMEM;
	}
	return CV_EEXEC;
}

/* Parent side once the child has exec'd: capture, time out, reap. */
static enum cv_err supervise(pid_t pid, int pidfd,
    const struct cv_proc_opts *o, int out_r, int err_r,
    struct cv_proc_result *res)
{
	struct capture c[2];
	size_t limit = o->cap ? o->cap : CV_PROC_CAP_DEFAULT;
	int64_t deadline = o->timeout_ms > 0 ? mono_ms() + o->timeout_ms : -1;
	int status = 0, wait_errno;
	bool reaped_elsewhere = false;
	enum cv_err e;

	memset(c, 0, sizeof(c));
	c[0].fd = out_r;
	c[1].fd = err_r;
	c[0].limit = c[1].limit = limit;
	e = capture_all(c, deadline);
	wait_errno = errno;
	if (e == CV_OK) {
		e = reap(pid, pidfd, deadline, &status);
		wait_errno = errno;
		/* waitpid failed: someone else reaped our child, so its pid may
		 * name nobody's group any more; killing it is not safe. */
		reaped_elsewhere = e == CV_EEXEC;
	}
	if (e != CV_OK && !reaped_elsewhere) {
		/* The child is not reaped yet: its pid still names its group. */
		kill(-pid, SIGKILL);
		reap_blocking(pid, &status);
	} else if (e == CV_OK && o->kill_group) {
		/* Reaped, but a member left behind keeps the group, so its id
		 * cannot have been reused; an empty group just gives ESRCH. */
		kill(-pid, SIGKILL);
	}
	if (c[0].fd >= 0)
		close(c[0].fd);
	if (c[1].fd >= 0)
		close(c[1].fd);
	res->out = c[0].p ? c[0].p : strdup("");
	res->err = c[1].p ? c[1].p : strdup("");
	res->out_len = c[0].len;
	res->err_len = c[1].len;
	res->out_truncated = c[0].truncated;
	res->err_truncated = c[1].truncated;
	if (res->out == NULL || res->err == NULL)
		return CV_ENOMEM;
	if (e == CV_EEXEC && asprintf(&res->error, "supervising pid %ld: %s",
	    (long)pid, strerror(wait_errno)) < 0)
		res->error = NULL;
	if (e == CV_OK && WIFEXITED(status))
		res->exit_code = WEXITSTATUS(status);
	else if (e == CV_OK && WIFSIGNALED(status))
		res->term_signal = WTERMSIG(status);
	return e;
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/*
 * The child's stdin when the caller gives it bytes: a pipe already
 * holding all of them, its write end closed. Written before the child
 * exists, so no SIGPIPE and no deadlock whatever the child does (in_len
 * is bounded by CV_PROC_IN_MAX, below any pipe's capacity). p[1] is -1
 * on return; false with errno on failure.
 */
static bool input_pipe(const char *in, size_t len, int p[2])
{
	size_t off = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	while (off < len) {
		ssize_t w = write(p[1], in + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	close(p[1]);
	p[1] = -1;
	return true;
}

enum cv_err cv_proc_run(const char *const argv[], const struct cv_proc_opts *opts,
    struct cv_proc_result *res)
{
	static const struct cv_proc_opts defaults;
	const struct cv_proc_opts *o = opts ? opts : &defaults;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int in[2] = { -1, -1 }, pidfd = -1;
	struct child_report r;
	struct sigaction old_chld;
	char **envp = NULL;
	ssize_t n;
	pid_t pid;
	enum cv_err e;

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (argv == NULL || argv[0] == NULL ||
	    (o->in != NULL && o->in_len > CV_PROC_IN_MAX))
		return CV_EINVAL;
	if (cv_fault_hit(CV_FAULT_PROC)) {
		res->error = strdup("injected fault: cannot run the program");
		return CV_EEXEC;
	}
	if (o->env_only)
		envp = env_copy(o->env);
	else if (o->env != NULL)
		envp = env_build(o->env);
	if ((o->env_only || o->env != NULL) && envp == NULL)
		return CV_ENOMEM;
	/* With SIGCHLD ignored the kernel reaps children itself and waitpid
	 * can never report the exit status; restore the default meanwhile. */
	sigaction(SIGCHLD, NULL, &old_chld);
	if (old_chld.sa_handler == SIG_IGN) {
		struct sigaction dfl;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &dfl, NULL);
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(rep, O_CLOEXEC) < 0 ||
	    (o->in != NULL && !input_pipe(o->in, o->in_len, in))) {
		e = sys_error(res, "pipe");
		goto done;
	}
	struct spawn_args sa = { argv, o, envp, in[0], out[1], err[1],
	    rep[1] };
	if ((pid = spawn(&sa)) < 0) {
		e = sys_error(res, "fork");
		goto done;
	}
	/* Both sides set the group so a timeout kill never races the child. */
	setpgid(pid, pid);
	close(out[1]);
	close(err[1]);
	close(rep[1]);
	out[1] = err[1] = rep[1] = -1;
	close_pair(in);
	do
		n = read(rep[0], &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r)) {
		int status;

		reap_blocking(pid, &status);
		e = exec_error(res, argv[0], o->cwd, &r);
		goto done;
	}
	if (o->timeout_ms > 0)
		pidfd = pidfd_for(pid);
	e = supervise(pid, pidfd, o, out[0], err[0], res);
	out[0] = err[0] = -1;
done:
	close_pair(in);
	close_pair(out);
	close_pair(err);
	close_pair(rep);
	if (pidfd >= 0)
		close(pidfd);
	free(envp);
	if (old_chld.sa_handler == SIG_IGN)
		sigaction(SIGCHLD, &old_chld, NULL);
	return e;
}

/* Length of the valid UTF-8 sequence at s (of n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *cv_proc_text_dup(const char *buf, size_t len, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0, o = 0, chars = 0;
	char *out;

	/* Worst case every byte becomes the 3-byte replacement character. */
	if (len > (SIZE_MAX - 1) / 3 || (out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	while (i < len && chars < max_chars) {
		size_t k = utf8_seq(s + i, len - i);

		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
		chars++;
	}
	out[o] = '\0';
	return out;
}

char *cv_proc_text_trim_dup(const char *buf, size_t len, size_t max_chars)
{
	char *t = cv_proc_text_dup(buf, len, max_chars);
	size_t n;

	if (t == NULL)
		return NULL;
	n = strlen(t);
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' ||
	    t[n - 1] == ' ' || t[n - 1] == '\t'))
		t[--n] = '\0';
	return t;
}
