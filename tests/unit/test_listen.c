/*
 * test_listen.c - fcgi/listen.c: which socket a responder serves on.
 * The address forms as a table; the environment variables' precedence;
 * systemd's fd 3 (LISTEN_PID/LISTEN_FDS) moved onto fd 0 and the
 * variables removed; a bound unix path; refusals with their reason.
 * Each case puts fd 0 back as it found it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"

struct kind_row {
	const char *spec;
	int kind;
};

static const struct kind_row kinds[] = {
	{ "127.0.0.1:9000", 1 }, { ":9000", 1 }, { "farm-1.internal:65535", 1 },
	{ "10.0.0.12:1", 1 }, { "/run/converge/health.sock", 2 }, { "/", 2 },
	{ "", 0 }, { NULL, 0 }, { "9000", 0 }, { "host:", 0 }, { "host:0", 0 },
	{ "host:65536", 0 }, { "host:90x", 0 }, { "host:-1", 0 }, { "a b:90", 0 },
	{ "relative.sock", 0 }, { "[::1]:90", 0 },
};

static void test_kinds(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (cv_listen_kind(kinds[i].spec) != kinds[i].kind)
			fail_msg("'%s': %d, want %d", kinds[i].spec ? kinds[i].spec :
			    "(null)", cv_listen_kind(kinds[i].spec), kinds[i].kind);
}

struct env_row {
	const char *family_value, *generic_value, *want;
};

static const struct env_row envs[] = {
	{ NULL, NULL, NULL },
	{ NULL, ":9000", ":9000" },
	{ "10.0.0.1:9102", ":9000", "10.0.0.1:9102" },
	{ "", ":9000", ":9000" },	/* empty means unset */
	{ "10.0.0.1:9102", NULL, "10.0.0.1:9102" },
};

static void test_configured(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
		const char *got;

		unsetenv("CONVERGE_FCGI_LISTEN_INTENTS");
		unsetenv("CONVERGE_FCGI_LISTEN");
		if (envs[i].family_value)
			setenv("CONVERGE_FCGI_LISTEN_INTENTS", envs[i].family_value, 1);
		if (envs[i].generic_value)
			setenv("CONVERGE_FCGI_LISTEN", envs[i].generic_value, 1);
		got = cv_listen_configured("intents");
		if (envs[i].want == NULL)
			assert_null(got);
		else
			assert_string_equal(got, envs[i].want);
		/* Another family's variable is not ours. */
		if (envs[i].family_value && *envs[i].family_value &&
		    !envs[i].generic_value)
			assert_null(cv_listen_configured("health"));
	}
	unsetenv("CONVERGE_FCGI_LISTEN_INTENTS");
	unsetenv("CONVERGE_FCGI_LISTEN");
}

static int listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof on;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* A listening unix socket at path (removed first). */
static int unix_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int saved_fd0 = -1;

static int save_fd0(void **state)
{
	(void)state;
	unsetenv("CONVERGE_FCGI_LISTEN");
	unsetenv("CONVERGE_FCGI_LISTEN_HEALTH");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	saved_fd0 = dup(0);
	/* fd 0 as a terminal or /dev/null would give it: not a socket. */
	int null = open("/dev/null", O_RDONLY);
	dup2(null, 0);
	close(null);
	return saved_fd0 >= 0 ? 0 : -1;
}

static int restore_fd0(void **state)
{
	(void)state;
	dup2(saved_fd0, 0);
	close(saved_fd0);
	unsetenv("CONVERGE_FCGI_LISTEN");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	return 0;
}

static void test_systemd_fd3(void **state)
{
	char path[] = "/tmp/cv-test-listen-sd.sock", what[64], err[160];
	char pid[32];
	int fd, saved3 = -1;

	(void)state;
	/* fd 3 may be inherited (a test driver's): keep it aside meanwhile. */
	if (fcntl(3, F_GETFD) != -1)
		assert_true((saved3 = fcntl(3, F_DUPFD_CLOEXEC, 10)) >= 0);
	fd = unix_listener(path);
	assert_int_equal(dup2(fd, 3), 3);
	close(fd);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "health", 1);
	/* The variable loses to the socket systemd passed. */
	setenv("CONVERGE_FCGI_LISTEN", ":1", 1);
	assert_int_equal(cv_listen_take("health", NULL, what, sizeof what, err,
	    sizeof err), 0);
	assert_string_equal(what, "systemd fd 3");
	assert_true(listening(0));
	assert_int_equal(fcntl(3, F_GETFD), -1);	/* moved, not copied */
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
	unlink(path);
	if (saved3 >= 0) {
		dup2(saved3, 3);
		close(saved3);
	}
}

/* LISTEN_PID of another process (a parent's leftovers): not ours. */
static void test_systemd_other_pid(void **state)
{
	char what[64], err[160];

	(void)state;
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "1", 1);
	assert_int_equal(cv_listen_take("health", NULL, what, sizeof what, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "no FastCGI socket"));
	assert_null(getenv("LISTEN_PID"));
}

static void test_fd0_wins_over_variable(void **state)
{
	char path[] = "/tmp/cv-test-listen-fd0.sock", what[64], err[160];
	int fd = unix_listener(path);

	(void)state;
	dup2(fd, 0);
	close(fd);
	setenv("CONVERGE_FCGI_LISTEN", ":1", 1);
	assert_int_equal(cv_listen_take("health", NULL, what, sizeof what, err,
	    sizeof err), 0);
	assert_string_equal(what, "fd 0");
	unlink(path);
}

static void test_unix_path(void **state)
{
	char path[] = "/tmp/cv-test-listen-env.sock", what[96], err[160];
	struct stat st;

	(void)state;
	setenv("CONVERGE_FCGI_LISTEN_HEALTH", path, 1);
	assert_int_equal(cv_listen_take("health", NULL, what, sizeof what, err,
	    sizeof err), 0);
	assert_string_equal(what, "unix /tmp/cv-test-listen-env.sock");
	assert_true(listening(0));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	unsetenv("CONVERGE_FCGI_LISTEN_HEALTH");
	unlink(path);
}

static void test_refusals(void **state)
{
	static const char *const bad[] = { "nonsense", "host:0", "rel/path" };
	char what[64], err[200];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("CONVERGE_FCGI_LISTEN", bad[i], 1);
		assert_int_equal(cv_listen_take("health", NULL, what, sizeof what,
		    err, sizeof err), -1);
		assert_non_null(strstr(err, bad[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_configured),
		cmocka_unit_test_setup_teardown(test_systemd_fd3, save_fd0, restore_fd0),
		cmocka_unit_test_setup_teardown(test_systemd_other_pid, save_fd0, restore_fd0),
		cmocka_unit_test_setup_teardown(test_fd0_wins_over_variable, save_fd0, restore_fd0),
		cmocka_unit_test_setup_teardown(test_unix_path, save_fd0, restore_fd0),
		cmocka_unit_test_setup_teardown(test_refusals, save_fd0, restore_fd0),
	};

	return cmocka_run_group_tests_name("listen", tests, NULL, NULL);
}
