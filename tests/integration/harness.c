/*
 * harness.c - runs the farm with scripts/up and scripts/down and speaks
 * HTTP to it with libcurl.  See harness.h.
 */
#include "harness.h"
#include "itutil.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UP_TIMEOUT_S 120	/* up bounds its own wait; this catches a hang */
#define DOWN_TIMEOUT_S 60
#define MAX_PIDS 64

extern char **environ;

static struct {
	int running;
	int port;
	pid_t guard_pid;	/* runs down if we die without farm_stop() */
	int guard_fd;
	char var[128];		/* short: unix socket names live under it */
	char db[PATH_MAX];
} farm;

static const char *src_dir(void)
{
	const char *d = getenv("CONVERGE_SRC_DIR");

	return d && *d ? d : CV_SRCDIR;
}

static const char *bin_dir(void)
{
	const char *d = getenv("CONVERGE_BIN_DIR");

	return d && *d ? d : CV_BUILDDIR;
}

int farm_available(void)
{
	static const char *const progs[] = { "nginx", "spawn-fcgi", "curl" };
	int ok = 1;

	for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
		if (!it_find_prog(progs[i], NULL, 0)) {
			fprintf(stderr, "harness: %s not found (scripts/deps installs it)\n",
			    progs[i]);
			ok = 0;
		}
	}
	return ok;
}

int farm_front_available(const char *front)
{
	static const struct {
		const char *front, *prog, *module;
	} needs[] = {
		{ "nginx", "nginx", NULL },
		{ "apache", "apache2", "/usr/lib/apache2/modules/mod_proxy_fcgi.so" },
		{ "apache-fcgid", "apache2", "/usr/lib/apache2/modules/mod_fcgid.so" },
		{ "lighttpd", "lighttpd", NULL },
	};

	if (!farm_available())
		return 0;
	for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
		if (strcmp(front, needs[i].front) != 0)
			continue;
		if (!it_find_prog(needs[i].prog, NULL, 0)) {
			fprintf(stderr, "harness: %s not found (scripts/deps --test"
			    " installs it)\n", needs[i].prog);
			return 0;
		}
		if (needs[i].module && access(needs[i].module, R_OK) != 0) {
			fprintf(stderr, "harness: %s not found (scripts/deps --test"
			    " installs it)\n", needs[i].module);
			return 0;
		}
		return 1;
	}
	fprintf(stderr, "harness: unknown front %s\n", front);
	return 0;
}

/* A growable NULL-terminated "NAME=value" vector for execve. */
struct envv {
	char **v;
	size_t n, cap;
};

static void envv_free(struct envv *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	memset(e, 0, sizeof *e);
}

/* Sets "NAME=value" in e, replacing an entry with the same NAME. */
static int envv_put(struct envv *e, const char *entry)
{
	size_t nlen = strcspn(entry, "=");
	char *dup, **nv;

	if ((dup = strdup(entry)) == NULL)
		return -1;
	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->v[i], entry, nlen) == 0 && e->v[i][nlen] == '=') {
			free(e->v[i]);
			e->v[i] = dup;
			return 0;
		}
	}
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;

		if ((nv = realloc(e->v, cap * sizeof *nv)) == NULL) {
			free(dup);
			return -1;
		}
		e->v = nv;
		e->cap = cap;
	}
	e->v[e->n++] = dup;
	e->v[e->n] = NULL;
	return 0;
}

static int envv_putf(struct envv *e, const char *name, const char *value)
{
	char *s;
	int rc;

	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -1;
	rc = envv_put(e, s);
	free(s);
	return rc;
}

/* The overrides farm_start() was given (NULL-terminated in .v). */
static struct envv start_overrides;

/* The farm's environment: ours, the farm settings, then the overrides. */
static int farm_env(struct envv *e, const char *const *overrides)
{
	char port[16];

	snprintf(port, sizeof port, "%d", farm.port);
	for (char **p = environ; *p; p++)
		if (envv_put(e, *p) < 0)
			return -1;
	if (envv_putf(e, "CONVERGE_PORT", port) < 0 ||
	    envv_putf(e, "CONVERGE_HOST", "127.0.0.1") < 0 ||
	    envv_putf(e, "CONVERGE_VAR_DIR", farm.var) < 0 ||
	    envv_putf(e, "CONVERGE_DB_PATH", farm.db) < 0 ||
	    envv_putf(e, "CONVERGE_BIN_DIR", bin_dir()) < 0)
		return -1;
	for (; overrides && *overrides; overrides++)
		if (envv_put(e, *overrides) < 0)
			return -1;
	return 0;
}

/*
 * Runs src_dir()/scripts/NAME with envp, its stdout sent to our stderr so
 * it cannot mix with a TAP stream.  Kills its process group after
 * timeout_s.  Returns its exit status, or -1 if it could not run, was
 * killed or timed out.
 */
static int run_script(const char *name, char **envp, int timeout_s)
{
	char path[PATH_MAX];
	char *argv[2];
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	int status;
	pid_t pid, w;

	snprintf(path, sizeof path, "%s/scripts/%s", src_dir(), name);
	argv[0] = path;
	argv[1] = NULL;
	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execve(path, argv, envp);
		fprintf(stderr, "harness: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	for (long ticks = timeout_s * 20L; ; ticks--) {
		if ((w = waitpid(pid, &status, WNOHANG)) == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (ticks <= 0) {
			fprintf(stderr, "harness: %s still running after %d s, killing it\n",
			    name, timeout_s);
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void rm_var_dir(void)
{
	const char *keep = getenv("CONVERGE_KEEP_VAR");

	if (keep && strcmp(keep, "1") == 0) {
		fprintf(stderr, "harness: var dir kept: %s\n", farm.var);
		return;
	}
	it_remove_tree(farm.var);
}

/*
 * Forks a guard that waits on a pipe: "q" means farm_stop() is taking
 * over; end of file means this process died (crash, abort, kill) and the
 * guard runs scripts/down, so no farm outlives its test.  Its own session
 * keeps a terminal's ^C from killing it along with us.  Best effort.
 */
static void start_guard(char **envp)
{
	int fds[2];
	ssize_t got;
	char c = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(fds[1]);
		setsid();
		while ((got = read(fds[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (got == 0)
			run_script("down", envp, DOWN_TIMEOUT_S);
		_exit(0);
	}
	close(fds[0]);
	if (pid < 0) {
		close(fds[1]);
		return;
	}
	farm.guard_pid = pid;
	farm.guard_fd = fds[1];
}

static void stop_guard(void)
{
	if (farm.guard_pid <= 0)
		return;
	if (write(farm.guard_fd, "q", 1) != 1)
		kill(farm.guard_pid, SIGKILL);
	close(farm.guard_fd);
	waitpid(farm.guard_pid, NULL, 0);
	farm.guard_pid = 0;
}

static int start_once(const char *const *env_overrides)
{
	const char *tmp = getenv("TMPDIR");
	struct envv e = { 0 };
	int rc;

	/* Unix socket names are short: fall back to /tmp for a long TMPDIR. */
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(farm.var, sizeof farm.var, "%s/converge-it.XXXXXX", tmp);
	if (mkdtemp(farm.var) == NULL) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", farm.var, strerror(errno));
		return -1;
	}
	snprintf(farm.db, sizeof farm.db, "%s/state.db", farm.var);
	if ((farm.port = it_free_port()) < 0 || farm_env(&e, env_overrides) < 0) {
		envv_free(&e);
		rm_var_dir();
		return -1;
	}
	rc = run_script("up", e.v, UP_TIMEOUT_S);
	if (rc != 0) {
		/* up showed the logs that matter and stopped what it started;
		 * the directory stays only with CONVERGE_KEEP_VAR=1. */
		fprintf(stderr, "harness: scripts/up failed (status %d), var dir %s\n",
		    rc, farm.var);
		envv_free(&e);
		rm_var_dir();
		return -1;
	}
	start_guard(e.v);
	envv_free(&e);
	farm.running = 1;
	return 0;
}

int farm_start(const char *const *env_overrides)
{
	static int curl_ready;

	if (farm.running)
		return -1;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -1;
		curl_ready = 1;
	}
	/* Kept for farm_restart_family(): a family restarted alone gets the
	 * same settings. */
	envv_free(&start_overrides);
	for (const char *const *o = env_overrides; o && *o; o++)
		if (envv_put(&start_overrides, *o) < 0)
			return -1;
	if (start_once(env_overrides) == 0)
		return 0;
	fprintf(stderr, "harness: retrying on another port\n");
	return start_once(env_overrides);
}

/* Reads the pids of every $var/run/ *.pid file into pids; returns the count. */
static size_t read_pids(pid_t *pids, size_t max)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent *d;
	size_t n = 0;
	DIR *dp;
	FILE *f;
	long pid;

	snprintf(dir, sizeof dir, "%s/run", farm.var);
	if ((dp = opendir(dir)) == NULL)
		return 0;
	while ((d = readdir(dp)) != NULL && n < max) {
		size_t len = strlen(d->d_name);

		if (len < 5 || strcmp(d->d_name + len - 4, ".pid") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(f, "%ld", &pid) == 1 && pid > 1)
			pids[n++] = (pid_t)pid;
		fclose(f);
	}
	closedir(dp);
	return n;
}

/* Reads /proc/PID/FILE whole (NULs kept); the caller frees.  NULL if gone. */
static char *proc_read(long pid, const char *file, size_t *len)
{
	char path[64], *buf = NULL;
	size_t cap = 0;
	FILE *f;
	size_t got;

	snprintf(path, sizeof path, "/proc/%ld/%s", pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	*len = 0;
	do {
		char *nb;

		if ((nb = realloc(buf, cap + 4096 + 1)) == NULL) {
			free(buf);
			fclose(f);
			return NULL;
		}
		buf = nb;
		cap += 4096;
		got = fread(buf + *len, 1, cap - *len, f);
		*len += got;
	} while (got > 0 && *len == cap);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static int has_bytes(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return nlen <= hlen && memmem(hay, hlen, needle, nlen) != NULL;
}

/* True when /proc/PID belongs to the farm that ran in farm.var. */
static int belongs_to_farm(long pid, const pid_t *pids, size_t npids)
{
	char *stat, *cmd, *env, *p, state, want[PATH_MAX + 32];
	long pgrp = 0;
	size_t len, wlen;
	int ours = 0;

	if ((stat = proc_read(pid, "stat", &len)) == NULL)
		return 0;
	p = strrchr(stat, ')');
	if (p == NULL || sscanf(p + 1, " %c %*d %ld", &state, &pgrp) != 2 ||
	    state == 'Z') {
		free(stat);
		return 0;
	}
	free(stat);
	for (size_t i = 0; i < npids; i++)
		if (pid == pids[i] || pgrp == pids[i])
			ours = 1;
	if (!ours && (cmd = proc_read(pid, "cmdline", &len)) != NULL) {
		ours = has_bytes(cmd, len, farm.var, strlen(farm.var));
		free(cmd);
	}
	wlen = (size_t)snprintf(want, sizeof want, "CONVERGE_VAR_DIR=%s", farm.var) + 1;
	if (!ours && (env = proc_read(pid, "environ", &len)) != NULL) {
		ours = has_bytes(env, len, want, wlen);
		free(env);
	}
	return ours;
}

/* Counts (and names on stderr) processes of the stopped farm still alive. */
static int count_survivors(const pid_t *pids, size_t npids)
{
	struct dirent *d;
	DIR *dp;
	int n = 0;

	for (size_t i = 0; i < npids; i++) {
		if (kill(pids[i], 0) == 0 && belongs_to_farm(pids[i], pids, npids)) {
			fprintf(stderr, "harness: pid %ld survived down\n", (long)pids[i]);
			n++;
		}
	}
	if ((dp = opendir("/proc")) == NULL)
		return n;
	while ((d = readdir(dp)) != NULL) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		int listed = 0;

		if (*end != '\0' || pid <= 1 || pid == (long)getpid())
			continue;
		for (size_t i = 0; i < npids; i++)
			listed |= pid == pids[i];
		if (!listed && belongs_to_farm(pid, pids, npids)) {
			fprintf(stderr, "harness: process %ld of the farm survived down\n", pid);
			n++;
		}
	}
	closedir(dp);
	return n;
}

int farm_stop(void)
{
	pid_t pids[MAX_PIDS];
	struct envv e = { 0 };
	size_t npids;
	int rc;

	if (!farm.running)
		return 0;
	farm.running = 0;
	stop_guard();
	envv_free(&start_overrides);
	npids = read_pids(pids, MAX_PIDS);
	if (farm_env(&e, NULL) < 0) {
		envv_free(&e);
		return -1;
	}
	rc = run_script("down", e.v, DOWN_TIMEOUT_S);
	envv_free(&e);
	if (rc != 0)
		fprintf(stderr, "harness: scripts/down failed (status %d)\n", rc);
	if (count_survivors(pids, npids) > 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "harness: var dir kept: %s\n", farm.var);
		return -1;
	}
	rm_var_dir();
	return 0;
}

int farm_teardown(void **state)
{
	(void)state;
	return farm_stop();
}

int farm_stop_with_pg(char *pg_dir)
{
	int rc = farm_stop();

	if (pg_dir[0])
		it_pg_scratch("stop", pg_dir, NULL, 0);
	pg_dir[0] = '\0';
	return rc;
}

/* ---- one family restarted ------------------------------------------------------ */

/* True while pid runs: a zombie (dead, not yet reaped) counts as gone. */
static int proc_running(pid_t pid)
{
	char *stat, *p;
	size_t len;
	int alive;

	if ((stat = proc_read(pid, "stat", &len)) == NULL)
		return 0;
	p = strrchr(stat, ')');
	alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	free(stat);
	return alive;
}

/* Stops the process group led by the pid in $var/run/FAMILY.pid with
 * SIGKILL: quick, and all a family keeps is in the database anyway.  The
 * leader is waited for (reaped when an earlier restart started it); its
 * children are dead once the signal is delivered, whoever reaps them. */
static void stop_family(const char *family)
{
	char path[PATH_MAX];
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/run/%s.pid", farm.var, family);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 1)
		return;
	kill(-(pid_t)pid, SIGKILL);
	kill((pid_t)pid, SIGKILL);
	for (int i = 0; i < 2000 && proc_running((pid_t)pid); i++)
		nanosleep(&nap, NULL);
	waitpid((pid_t)pid, NULL, WNOHANG);
}

static int sock_accepts(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, ok;

	if (strlen(path) >= sizeof a.sun_path ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	memcpy(a.sun_path, path, strlen(path) + 1);
	ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

int farm_restart_family(const char *family, const char *const *env_overrides)
{
	char sock[PATH_MAX], bin[PATH_MAX], spawn[PATH_MAX], log[PATH_MAX],
	    pidf[PATH_MAX];
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	struct envv e = { 0 };
	pid_t pid;
	FILE *f;

	if (!farm.running || !it_find_prog("spawn-fcgi", spawn, sizeof spawn))
		return -1;
	stop_family(family);
	snprintf(sock, sizeof sock, "%s/run/%s.sock", farm.var, family);
	snprintf(log, sizeof log, "%s/log/%s.log", farm.var, family);
	snprintf(pidf, sizeof pidf, "%s/run/%s.pid", farm.var, family);
	snprintf(bin, sizeof bin, "%s/fcgi/converge-%s", bin_dir(), family);
	unlink(sock);
	if (farm_env(&e, (const char *const *)start_overrides.v) < 0) {
		envv_free(&e);
		return -1;
	}
	for (; env_overrides && *env_overrides; env_overrides++)
		if (envv_put(&e, *env_overrides) < 0) {
			envv_free(&e);
			return -1;
		}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		envv_free(&e);
		return -1;
	}
	if (pid == 0) {
		/* As scripts/up: a session of its own, stdin from /dev/null,
		 * stdout and stderr (the JSON log) appended to the family log. */
		char *argv[] = { spawn, "-n", "-s", sock, "-M", "0660", "--", bin,
		    NULL };
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);

		setsid();
		if (in < 0 || out < 0)
			_exit(127);
		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		execve(spawn, argv, e.v);
		_exit(127);
	}
	envv_free(&e);
	if ((f = fopen(pidf, "w")) != NULL) {
		fprintf(f, "%ld\n", (long)pid);
		fclose(f);
	}
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "harness: %s exited at start (see %s)\n",
			    family, log);
			return -1;
		}
		if (sock_accepts(sock))
			return 0;
		nanosleep(&nap, NULL);
	}
	fprintf(stderr, "harness: %s does not listen on %s\n", family, sock);
	return -1;
}

int farm_port(void)
{
	return farm.port;
}

const char *farm_base_url(void)
{
	static char url[64];

	snprintf(url, sizeof url, "http://127.0.0.1:%d", farm.port);
	return url;
}

const char *farm_var_dir(void)
{
	return farm.var;
}

const char *farm_db_path(void)
{
	return farm.db;
}

/* A growing byte buffer for curl callbacks; always NUL-terminated. */
struct buf {
	char *p;
	size_t len;
	int oom;
};

static int buf_add(struct buf *b, const char *data, size_t n)
{
	char *np;

	if ((np = realloc(b->p, b->len + n + 1)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = np;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	return buf_add(arg, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

/* Keeps the header block of the last response only (a 100 comes first). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		b->len = 0;
	return buf_add(b, data, n) < 0 ? 0 : n;
}

static int is_json_type(const char *type)
{
	return type && strncasecmp(type, "application/json", 16) == 0;
}

static CURLcode perform(CURL *c, const char *method, const char *path,
    struct curl_slist *hdrs, const char *body, size_t body_len)
{
	char *url;
	CURLcode cc;

	/* Allocated: a fixed buffer silently cut long paths and queries
	 * (the 10 KB ids and 100 KB query strings of test_api_limits). */
	if (asprintf(&url, "http://127.0.0.1:%d%s", farm.port, path) < 0)
		return CURLE_OUT_OF_MEMORY;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	cc = curl_easy_perform(c);
	free(url);
	return cc;
}

int http_request(const char *method, const char *path,
    const char *const *headers, const char *body, size_t body_len,
    struct http_resp *resp)
{
	struct buf hb = { 0 }, bb = { 0 };
	struct curl_slist *hdrs = NULL, *nh;
	char *type = NULL;
	CURLcode cc;
	CURL *c;

	memset(resp, 0, sizeof *resp);
	if ((c = curl_easy_init()) == NULL)
		return -1;
	/* Send bodies straight away, as most clients (GitHub's) do. */
	hdrs = curl_slist_append(NULL, "Expect:");
	for (; hdrs && headers && *headers; headers++) {
		if ((nh = curl_slist_append(hdrs, *headers)) == NULL) {
			curl_slist_free_all(hdrs);
			hdrs = NULL;
			break;
		}
		hdrs = nh;
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &bb);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
	cc = hdrs ? perform(c, method, path, hdrs, body, body_len) : CURLE_OUT_OF_MEMORY;
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	else
		fprintf(stderr, "harness: %s %s: %s\n", method, path, curl_easy_strerror(cc));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK || hb.oom || bb.oom || buf_add(&bb, "", 0) < 0) {
		free(hb.p);
		free(bb.p);
		memset(resp, 0, sizeof *resp);
		return -1;
	}
	resp->headers = hb.p;
	resp->body = bb.p;
	resp->body_len = bb.len;
	type = http_resp_header(resp, "Content-Type");
	if (is_json_type(type))
		resp->json = json_loadb(bb.p, bb.len, 0, NULL);
	free(type);
	return 0;
}

char *http_resp_header(const struct http_resp *resp, const char *name)
{
	size_t nlen = strlen(name);
	const char *line, *v, *end;

	for (line = resp->headers; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
			continue;
		v = line + nlen + 1;
		v += strspn(v, " \t");
		end = v + strcspn(v, "\r\n");
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		return strndup(v, (size_t)(end - v));
	}
	return NULL;
}

void http_resp_free(struct http_resp *resp)
{
	free(resp->headers);
	free(resp->body);
	json_decref(resp->json);
	memset(resp, 0, sizeof *resp);
}
