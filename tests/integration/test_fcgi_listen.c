/*
 * test_fcgi_listen.c - where a responder listens (fcgi/listen.h), without
 * a web server: socket activation under systemd-socket-activate (the
 * socket as fd 3 with LISTEN_FDS, as systemd gives it; CI has no systemd
 * as PID 1), CONVERGE_FCGI_LISTEN on TCP and on a unix socket, bad values
 * refused; and the systemd units in systemd/ pass systemd-analyze verify.
 * (fcgi/listen.c's own cases are tests/unit/test_listen.c.)
 * Requests are spoken in FastCGI directly (fcgi_client.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_client.h"
#include "itutil.h"

static char tmp[64];

/* ---- helpers ------------------------------------------------------------------ */

/* Starts argv with envp, stdin stdin_fd (-1: /dev/null), output appended
 * to $tmp/log; in its own process group. */
static pid_t spawn_with(char *const argv[], char *const envp[], int stdin_fd)
{
	char log[128];
	pid_t pid;

	snprintf(log, sizeof log, "%s/log", tmp);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		setpgid(0, 0);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

static pid_t spawn(char *const argv[], char *const envp[])
{
	return spawn_with(argv, envp, -1);
}

/* SIGTERM to the group, then the exit status (SIGKILL after 10 s). */
static int stop(pid_t pid)
{
	int status = 0;

	kill(-pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(50 * 1000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* GET uri from addr, retrying while the responder starts (5 s). */
static char *get(const char *addr, const char *uri)
{
	char *out = NULL;

	for (int i = 0; i < 100; i++) {
		if (fcgi_request(addr, "GET", uri, 5000, &out) == 0)
			return out;
		usleep(50 * 1000);
	}
	fail_msg("no FastCGI answer from %s", addr);
	return NULL;
}

static void expect_live(const char *addr)
{
	char *out = get(addr, "/health/live");

	if (fcgi_status(out) != 200 || !strstr(fcgi_body(out), "\"ok\""))
		fail_msg("GET /health/live via %s: %s", addr, out);
	free(out);
	out = get(addr, "/no/such/route");
	assert_int_equal(fcgi_status(out), 404);
	free(out);
}

/* True when the responders' log ($tmp/log) mentions text. */
static int log_has(const char *text)
{
	char path[128], line[4096];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/log", tmp);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

/* The responder's environment: the settings a farm would give it. */
static void farm_env(char **envp, char store[][160], const char *extra)
{
	size_t n = 0;

	snprintf(store[n], 160, "CONVERGE_VAR_DIR=%s", tmp);
	envp[n] = store[n], n++;
	snprintf(store[n], 160, "CONVERGE_DB_PATH=%s/state.db", tmp);
	envp[n] = store[n], n++;
	snprintf(store[n], 160, "CONVERGE_FCGI_PROCESSES=1");
	envp[n] = store[n], n++;
	snprintf(store[n], 160, "PATH=/usr/bin:/bin");
	envp[n] = store[n], n++;
	if (extra) {
		snprintf(store[n], 160, "%s", extra);
		envp[n] = store[n], n++;
	}
	envp[n] = NULL;
}

/* ---- where a responder listens ------------------------------------------------- */

/* The socket systemd would bind, passed as fd 3 with LISTEN_FDS. */
static void test_socket_activation(void **state)
{
	char ssa[PATH_MAX], listen_at[64], prog[PATH_MAX];
	char e[4][160], *argv[16], *envp[] = { "PATH=/usr/bin:/bin", NULL };
	int port = it_free_port(), n = 0;
	pid_t pid;

	(void)state;
	if (!it_find_prog("systemd-socket-activate", ssa, sizeof ssa))
		skip();
	snprintf(listen_at, sizeof listen_at, "127.0.0.1:%d", port);
	snprintf(prog, sizeof prog, "%s/fcgi/converge-health", CV_BUILDDIR);
	snprintf(e[0], 160, "CONVERGE_VAR_DIR=%s", tmp);
	snprintf(e[1], 160, "CONVERGE_DB_PATH=%s/state.db", tmp);
	snprintf(e[2], 160, "CONVERGE_FCGI_PROCESSES=2");
	snprintf(e[3], 160, "PATH=/usr/bin:/bin");
	argv[n++] = ssa;
	argv[n++] = "-l";
	argv[n++] = listen_at;
	for (int i = 0; i < 4; i++) {
		argv[n++] = "-E";
		argv[n++] = e[i];
	}
	argv[n++] = prog;
	argv[n] = NULL;
	pid = spawn(argv, envp);
	expect_live(listen_at);
	/* Several requests, each on a new connection, to both processes. */
	for (int i = 0; i < 10; i++)
		expect_live(listen_at);
	assert_true(log_has("starting 2 processes on systemd fd 3"));
	assert_int_equal(stop(pid), 0);
}

static void test_listen_tcp_and_unix(void **state)
{
	char prog[PATH_MAX], addr[3][128], spec[3][192];
	char store[8][160], *envp[8], *argv[] = { prog, NULL };
	int port = it_free_port();

	(void)state;
	snprintf(prog, sizeof prog, "%s/fcgi/converge-health", CV_BUILDDIR);
	snprintf(addr[0], sizeof addr[0], "127.0.0.1:%d", port);
	snprintf(spec[0], sizeof spec[0], "CONVERGE_FCGI_LISTEN_HEALTH=%s", addr[0]);
	snprintf(addr[1], sizeof addr[1], "%s/health.sock", tmp);
	snprintf(spec[1], sizeof spec[1], "CONVERGE_FCGI_LISTEN=%s", addr[1]);
	for (int i = 0; i < 2; i++) {
		pid_t pid;

		print_message("%s\n", spec[i]);
		farm_env(envp, store, spec[i]);
		pid = spawn(argv, envp);
		expect_live(addr[i]);
		assert_true(log_has(addr[i]));
		/* A request read to its end is closed at once on a unix
		 * socket; on TCP libfcgi's lingering close stays. */
		assert_int_equal(fcgi_closed_after(addr[i], "/health/live",
		    5000), i == 1 ? 1 : 0);
		assert_int_equal(stop(pid), 0);
	}
}

/* spawn-fcgi's socket on fd 0 wins over CONVERGE_FCGI_LISTEN (a farm
 * started by scripts/up with the variable set for other hosts). */
static void test_fd0_wins(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char prog[PATH_MAX], tcp[64], spec[128];
	char store[8][160], *envp[8], *argv[] = { prog, NULL };
	int fd;
	pid_t pid;

	(void)state;
	snprintf(prog, sizeof prog, "%s/fcgi/converge-health", CV_BUILDDIR);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/fd0.sock", tmp);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 16), 0);
	snprintf(tcp, sizeof tcp, "127.0.0.1:%d", it_free_port());
	snprintf(spec, sizeof spec, "CONVERGE_FCGI_LISTEN=%s", tcp);
	farm_env(envp, store, spec);
	pid = spawn_with(argv, envp, fd);
	close(fd);
	expect_live(sa.sun_path);
	assert_true(log_has("starting 1 processes on fd 0"));
	assert_int_equal(stop(pid), 0);
}

/* A bad address stops the responder at once with a reason (exit 1). */
static void test_listen_refuses_bad_values(void **state)
{
	static const char *const bad[] = { "CONVERGE_FCGI_LISTEN=nonsense",
	    "CONVERGE_FCGI_LISTEN=127.0.0.1:99999", "CONVERGE_FCGI_LISTEN=:0",
	    "CONVERGE_FCGI_LISTEN_HEALTH=relative/path.sock" };
	char prog[PATH_MAX], store[8][160], *envp[8], *argv[] = { prog, NULL };

	(void)state;
	snprintf(prog, sizeof prog, "%s/fcgi/converge-health", CV_BUILDDIR);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int status;
		pid_t pid;

		farm_env(envp, store, bad[i]);
		pid = spawn(argv, envp);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 1);
	}
}

/* ---- systemd units --------------------------------------------------------------- */

static void copy_unit(const char *name, const char *bindir)
{
	char in[PATH_MAX], out[PATH_MAX], line[1024];
	FILE *f, *o;

	snprintf(in, sizeof in, "%s/systemd/%s.in", CV_SRCDIR, name);
	snprintf(out, sizeof out, "%s/units/%s", tmp, name);
	assert_non_null(f = fopen(in, "r"));
	assert_non_null(o = fopen(out, "w"));
	while (fgets(line, sizeof line, f)) {
		const char *keys[] = { "@bindir@", "@sysconfdir@", "@pkgdatadir@" };
		const char *vals[] = { bindir, "/etc", "/usr/share/converge" };
		char *p = line;

		for (;;) {
			char *hit = NULL;
			size_t k = 0;

			for (size_t j = 0; j < 3; j++) {
				char *h = strstr(p, keys[j]);
				if (h && (!hit || h < hit)) {
					hit = h;
					k = j;
				}
			}
			if (!hit) {
				fputs(p, o);
				break;
			}
			fwrite(p, 1, (size_t)(hit - p), o);
			fputs(vals[k], o);
			p = hit + strlen(keys[k]);
		}
	}
	fclose(f);
	fclose(o);
}

static void test_units_verify(void **state)
{
	static const char *const units[] = { "converge@.socket",
	    "converge@.service", "converge-worker.service",
	    "converge-worker-once.service", "converge-worker-once.timer" };
	char sa[PATH_MAX], dir[128], bin[128], link[192], target[PATH_MAX];
	char cmd[4][192], *argv[12], *envp[] = { "PATH=/usr/bin:/bin", NULL };
	char log[160], buf[4096];
	const char *progs[][2] = { { "fcgi", "converge-health" },
	    { "worker", "converge-worker" } };
	int status, n = 0;
	FILE *f;
	size_t got;
	pid_t pid;

	(void)state;
	if (!it_find_prog("systemd-analyze", sa, sizeof sa))
		skip();
	snprintf(dir, sizeof dir, "%s/units", tmp);
	snprintf(bin, sizeof bin, "%s/bin", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	for (size_t i = 0; i < 2; i++) {
		snprintf(link, sizeof link, "%s/%s", bin, progs[i][1]);
		snprintf(target, sizeof target, "%s/%s/%s", CV_BUILDDIR,
		    progs[i][0], progs[i][1]);
		assert_int_equal(symlink(target, link), 0);
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		copy_unit(units[i], bin);
	/* Instances of the templates, as `systemctl enable` would name them. */
	snprintf(cmd[0], sizeof cmd[0], "%s/converge@health.socket", dir);
	snprintf(cmd[1], sizeof cmd[1], "%s/converge@health.service", dir);
	snprintf(cmd[2], sizeof cmd[2], "%s/converge-worker.service", dir);
	snprintf(cmd[3], sizeof cmd[3], "%s/converge-worker-once.timer", dir);
	argv[n++] = sa;
	argv[n++] = "verify";
	argv[n++] = "--man=no";
	for (int i = 0; i < 4; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	pid = spawn(argv, envp);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Any complaint (also "Unknown key ..., ignoring", exit 0) fails. */
	snprintf(log, sizeof log, "%s/log", tmp);
	assert_non_null(f = fopen(log, "r"));
	got = fread(buf, 1, sizeof buf - 1, f);
	buf[got] = '\0';
	fclose(f);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got > 0)
		fail_msg("systemd-analyze verify (status %d):\n%s", status, buf);
}

/* ---- setup ------------------------------------------------------------------------ */

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "/tmp/cv-listen-XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	it_remove_tree(tmp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_socket_activation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_tcp_and_unix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_refuses_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd0_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_units_verify, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("fcgi_listen", tests, NULL, NULL);
}
