/*
 * test_failover.c - farms on several hosts: one nginx in front of two
 * farms that share one PostgreSQL, each responder listening on TCP
 * (CONVERGE_FCGI_LISTEN_<FAMILY>), nginx's upstreams naming both farms.
 * Farm A's responders are started directly; farm B is started the way a
 * farm host is, by scripts/up with CONVERGE_HTTPD=none (no web server).
 * Farm A is killed (SIGKILL, every process) under read load and webhook
 * traffic.  Reads must keep answering 200 (nginx retries them on farm B);
 * a delivery is either acknowledged (2xx, and then it is in the shared
 * database) or refused with a 5xx -- never acknowledged and lost.
 *
 * nginx's configuration is httpd-conf/nginx.conf.in with each
 * "unix:.../<family>.sock" replaced by an upstream of both farms, as
 * docs/operations.md describes for several hosts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_client.h"
#include "itutil.h"
#include "webhook_util.h"

#define SECRET "failover-webhook-secret"
#define NFAM 3
#define READERS 2
#define SENDERS 4
#define MAX_SHOTS 4096

static const char *const families[NFAM] = { "health", "intents", "webhooks" };

static struct {
	char dir[64];		/* var dirs, logs, nginx.conf */
	char pg_dir[80];
	char dsn[256];
	int port;		/* nginx */
	int fam_port[2][NFAM];
	pid_t fam_pid[2][NFAM];
	pid_t nginx_pid;
	int pg_up;
	int farm_b_up;		/* farm B runs under scripts/up */
} t;

/* ---- processes --------------------------------------------------------------------- */

/* Starts farm f's responder for family i on its TCP port, as its own
 * process group (so killing the farm kills the pre-forked children). */
static pid_t start_responder(int f, int i)
{
	char prog[PATH_MAX], var[128], env[8][300], log[160];
	char *envp[9], *argv[] = { prog, NULL };
	pid_t pid;

	snprintf(prog, sizeof prog, "%s/fcgi/converge-%s", CV_BUILDDIR, families[i]);
	snprintf(var, sizeof var, "%s/farm%c", t.dir, 'a' + f);
	mkdir(var, 0755);
	snprintf(env[0], sizeof env[0], "CONVERGE_VAR_DIR=%s", var);
	snprintf(env[1], sizeof env[1], "CONVERGE_FCGI_LISTEN_%s=127.0.0.1:%d",
	    i == 0 ? "HEALTH" : i == 1 ? "INTENTS" : "WEBHOOKS", t.fam_port[f][i]);
	snprintf(env[2], sizeof env[2], "CONVERGE_DB_BACKEND=postgres");
	snprintf(env[3], sizeof env[3], "CONVERGE_PG_DSN=%s", t.dsn);
	snprintf(env[4], sizeof env[4], "CONVERGE_AUTH_REQUIRED=0");
	snprintf(env[5], sizeof env[5], "CONVERGE_RATE_LIMIT_ENABLED=0");
	snprintf(env[6], sizeof env[6], "CONVERGE_GITHUB_WEBHOOK_SECRET=" SECRET);
	snprintf(env[7], sizeof env[7], "PATH=/usr/bin:/bin");
	for (int k = 0; k < 8; k++)
		envp[k] = env[k];
	envp[8] = NULL;
	snprintf(log, sizeof log, "%s/%s.log", var, families[i]);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		setpgid(0, 0);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		execve(prog, argv, envp);
		_exit(127);
	}
	return pid;
}

/* Farm B as a farm host starts it: scripts/up, no web server, the three
 * families on TCP (the other six on unix sockets nobody uses). */
static int start_farm_b_with_up(void)
{
	char script[PATH_MAX], e[16][300], *envp[17], *argv[] = { script, NULL };
	int n = 0, status;
	pid_t pid;

	snprintf(script, sizeof script, "%s/scripts/up", CV_SRCDIR);
	snprintf(e[n++], 300, "CONVERGE_HTTPD=none");
	snprintf(e[n++], 300, "CONVERGE_VAR_DIR=%s/farmb", t.dir);
	snprintf(e[n++], 300, "CONVERGE_BIN_DIR=%s", CV_BUILDDIR);
	snprintf(e[n++], 300, "CONVERGE_DB_BACKEND=postgres");
	snprintf(e[n++], 300, "CONVERGE_PG_DSN=%s", t.dsn);
	snprintf(e[n++], 300, "CONVERGE_AUTH_REQUIRED=0");
	snprintf(e[n++], 300, "CONVERGE_RATE_LIMIT_ENABLED=0");
	snprintf(e[n++], 300, "CONVERGE_GITHUB_WEBHOOK_SECRET=" SECRET);
	snprintf(e[n++], 300, "CONVERGE_WORKER_POLL_INTERVAL=3600");
	snprintf(e[n++], 300, "CONVERGE_FCGI_PROCESSES=2");
	snprintf(e[n++], 300, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
	snprintf(e[n++], 300, "CONVERGE_FCGI_LISTEN_HEALTH=127.0.0.1:%d", t.fam_port[1][0]);
	snprintf(e[n++], 300, "CONVERGE_FCGI_LISTEN_INTENTS=127.0.0.1:%d", t.fam_port[1][1]);
	snprintf(e[n++], 300, "CONVERGE_FCGI_LISTEN_WEBHOOKS=127.0.0.1:%d", t.fam_port[1][2]);
	for (int i = 0; i < n; i++)
		envp[i] = e[i];
	envp[n] = NULL;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		dup2(2, 1);	/* up's chatter stays out of the TAP stream */
		execve(script, argv, envp);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	t.farm_b_up = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	return t.farm_b_up ? 0 : -1;
}

static void stop_farm_b_with_up(void)
{
	char script[PATH_MAX], var[128], *argv[] = { script, NULL };
	char *envp[] = { var, "PATH=/usr/bin:/bin:/usr/sbin:/sbin", NULL };
	pid_t pid;

	if (!t.farm_b_up)
		return;
	snprintf(script, sizeof script, "%s/scripts/down", CV_SRCDIR);
	snprintf(var, sizeof var, "CONVERGE_VAR_DIR=%s/farmb", t.dir);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		dup2(2, 1);
		execve(script, argv, envp);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	t.farm_b_up = 0;
}

static void kill_farm(int f, int sig)
{
	for (int i = 0; i < NFAM; i++) {
		if (t.fam_pid[f][i] <= 0)
			continue;
		kill(-t.fam_pid[f][i], sig);
		if (sig == SIGKILL)
			waitpid(t.fam_pid[f][i], NULL, 0);
	}
}

static void stop_farm(int f)
{
	for (int i = 0; i < NFAM; i++) {
		int status;

		if (t.fam_pid[f][i] <= 0)
			continue;
		kill(-t.fam_pid[f][i], SIGTERM);
		for (int k = 0; k < 200 && waitpid(t.fam_pid[f][i], &status,
		    WNOHANG) == 0; k++)
			usleep(50 * 1000);
		kill(-t.fam_pid[f][i], SIGKILL);
		waitpid(t.fam_pid[f][i], NULL, WNOHANG);
		t.fam_pid[f][i] = 0;
	}
}

/* ---- nginx with upstreams ------------------------------------------------------------- */

/* Replaces every "what" in line by "with" (line has room for len). */
static void replace_all(char *line, size_t len, const char *what, const char *with)
{
	char out[4096], *p = line, *hit;
	size_t n = 0;

	while ((hit = strstr(p, what)) != NULL && n + (size_t)(hit - p) +
	    strlen(with) < sizeof out) {
		memcpy(out + n, p, (size_t)(hit - p));
		n += (size_t)(hit - p);
		memcpy(out + n, with, strlen(with));
		n += strlen(with);
		p = hit + strlen(what);
	}
	snprintf(out + n, sizeof out - n, "%s", p);
	snprintf(line, len, "%s", out);
}

static void write_nginx_conf(const char *path)
{
	char tpl[PATH_MAX], line[4096], port[16], sock[160], up[64];
	struct passwd *pw = getpwuid(geteuid());
	struct group *gr = getgrgid(getegid());
	FILE *in, *out;

	snprintf(tpl, sizeof tpl, "%s/httpd-conf/nginx.conf.in", CV_SRCDIR);
	assert_non_null(in = fopen(tpl, "r"));
	assert_non_null(out = fopen(path, "w"));
	snprintf(port, sizeof port, "%d", t.port);
	while (fgets(line, sizeof line, in)) {
		if (strncmp(line, "user ", 5) == 0 && geteuid() != 0)
			continue;
		if (strstr(line, "\tserver {")) {
			/* Every family the template names: both farms (the
			 * ones this test does not start answer 502). */
			static const char *const all[] = { "health", "intents",
			    "queue", "risk", "agents", "compliance", "events",
			    "dashboard", "webhooks" };
			for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
				int idx = -1;

				for (int i = 0; i < NFAM; i++)
					if (strcmp(all[k], families[i]) == 0)
						idx = i;
				fprintf(out, "\tupstream farm_%s {\n", all[k]);
				for (int f = 0; f < 2; f++)
					fprintf(out, "\t\tserver 127.0.0.1:%d max_fails=1"
					    " fail_timeout=30s;\n", idx >= 0 ?
					    t.fam_port[f][idx] : 9);
				fprintf(out, "\t}\n");
			}
		}
		for (size_t k = 0; k < 9; k++) {
			static const char *const all[] = { "health", "intents",
			    "queue", "risk", "agents", "compliance", "events",
			    "dashboard", "webhooks" };
			snprintf(sock, sizeof sock, "\"unix:@VAR_DIR@/run/%s.sock\"", all[k]);
			snprintf(up, sizeof up, "farm_%s", all[k]);
			replace_all(line, sizeof line, sock, up);
		}
		replace_all(line, sizeof line, "@VAR_DIR@", t.dir);
		replace_all(line, sizeof line, "@HOST@", "127.0.0.1");
		replace_all(line, sizeof line, "@PORT@", port);
		replace_all(line, sizeof line, "@USER@", pw ? pw->pw_name : "root");
		replace_all(line, sizeof line, "@GROUP@", gr ? gr->gr_name : "root");
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
}

static void start_nginx(void)
{
	char conf[128], prefix[80], dirs[3][128];
	char *argv[] = { "/usr/sbin/nginx", "-c", conf, "-p", prefix, "-e",
	    dirs[2], NULL };
	char pidfile[128];
	FILE *f;
	long pid = 0;

	snprintf(conf, sizeof conf, "%s/nginx.conf", t.dir);
	snprintf(prefix, sizeof prefix, "%s/", t.dir);
	snprintf(dirs[0], sizeof dirs[0], "%s/run", t.dir);
	snprintf(dirs[1], sizeof dirs[1], "%s/log", t.dir);
	snprintf(dirs[2], sizeof dirs[2], "%s/log/nginx-error.log", t.dir);
	mkdir(dirs[0], 0755);
	mkdir(dirs[1], 0755);
	snprintf(pidfile, sizeof pidfile, "%s/tmp", t.dir);
	mkdir(pidfile, 0755);
	write_nginx_conf(conf);
	assert_int_equal(it_run(argv, NULL, NULL), 0);
	snprintf(pidfile, sizeof pidfile, "%s/run/nginx.pid", t.dir);
	for (int i = 0; i < 100 && pid == 0; i++) {
		if ((f = fopen(pidfile, "r")) != NULL) {
			if (fscanf(f, "%ld", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid == 0)
			usleep(50 * 1000);
	}
	assert_true(pid > 0);
	t.nginx_pid = (pid_t)pid;
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static size_t sink(char *d, size_t sz, size_t n, void *arg)
{
	(void)d;
	(void)arg;
	return sz * n;
}

/* One request on a fresh connection; the status, 0 on a transport error. */
static long http(const char *method, const char *path,
    struct curl_slist *hdrs, const char *body)
{
	char url[256];
	long status = 0;
	CURL *c = curl_easy_init();

	if (c == NULL)
		return 0;
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", t.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

/* Delivers PR n's "opened" event as delivery "failover-<n>". */
static long deliver(int n)
{
	char body[512], mac[72], h[3][128];
	struct curl_slist *hdrs = NULL;
	long status;

	snprintf(body, sizeof body, "{\"action\":\"opened\",\"number\":%d,"
	    "\"installation\":{\"id\":4242},\"repository\":{\"full_name\":"
	    "\"acme/failover\"},\"pull_request\":{\"number\":%d,\"title\":"
	    "\"f\",\"head\":{\"ref\":\"feat/f\",\"sha\":\"cafe\"},\"base\":"
	    "{\"ref\":\"main\"},\"merged\":false}}", n, n);
	webhook_sign(SECRET, body, strlen(body), mac);
	snprintf(h[0], sizeof h[0], "X-GitHub-Delivery: failover-%d", n);
	snprintf(h[1], sizeof h[1], "X-Hub-Signature-256: %s", mac);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "X-GitHub-Event: pull_request");
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs = curl_slist_append(hdrs, h[0]);
	hdrs = curl_slist_append(hdrs, h[1]);
	status = http("POST", "/integrations/github/webhook", hdrs, body);
	curl_slist_free_all(hdrs);
	return status;
}

/* ---- load ---------------------------------------------------------------------------------- */

static atomic_int stop_load;
static atomic_int reads_ok, reads_bad, reads_after_kill;
static atomic_int killed;
static atomic_int next_shot;
static long shot_status[MAX_SHOTS];

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_load)) {
		const char *path = rand() % 2 ? "/v1/intents" : "/health/ready";
		long st = http("GET", path, NULL, NULL);

		if (st == 200) {
			atomic_fetch_add(&reads_ok, 1);
			if (atomic_load(&killed))
				atomic_fetch_add(&reads_after_kill, 1);
		} else {
			atomic_fetch_add(&reads_bad, 1);
			fprintf(stderr, "read %s: %ld\n", path, st);
		}
	}
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_load)) {
		int n = atomic_fetch_add(&next_shot, 1);

		if (n >= MAX_SHOTS)
			break;
		shot_status[n] = deliver(n + 1);
	}
	return NULL;
}

/* Deliveries with that id in the shared database (one connection for
 * the whole check). */
static long long stored(PGconn *c, const char *delivery)
{
	const char *params[1] = { delivery };
	long long n = -1;
	PGresult *r;

	r = PQexecParams(c, "SELECT count(*) FROM webhook_deliveries WHERE"
	    " delivery_id = $1", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* ---- the test --------------------------------------------------------------------------------- */

static void test_failover(void **state)
{
	pthread_t rd[READERS], sd[SENDERS];
	int acked = 0, refused = 0, other = 0, n;
	PGconn *db;
	struct curl_slist *json = curl_slist_append(NULL,
	    "Content-Type: application/json");

	(void)state;
	/* Some intents to read. */
	for (int i = 0; i < 3; i++) {
		char body[128];

		snprintf(body, sizeof body, "{\"id\":\"fo-%d\",\"source\":\"feature/fo-%d\"}",
		    i, i);
		assert_int_equal(http("POST", "/v1/intents", json, body), 200);
	}
	curl_slist_free_all(json);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&rd[i], NULL, reader, NULL), 0);
	for (int i = 0; i < SENDERS; i++)
		assert_int_equal(pthread_create(&sd[i], NULL, sender, NULL), 0);
	usleep(1000 * 1000);
	kill_farm(0, SIGKILL);
	atomic_store(&killed, 1);
	print_message("farm A killed after %d deliveries, %d reads\n",
	    atomic_load(&next_shot), atomic_load(&reads_ok));
	usleep(2000 * 1000);
	atomic_store(&stop_load, 1);
	for (int i = 0; i < READERS; i++)
		pthread_join(rd[i], NULL);
	for (int i = 0; i < SENDERS; i++)
		pthread_join(sd[i], NULL);

	n = atomic_load(&next_shot);
	if (n > MAX_SHOTS)
		n = MAX_SHOTS;
	db = PQconnectdb(t.dsn);
	assert_int_equal(PQstatus(db), CONNECTION_OK);
	for (int i = 0; i < n; i++) {
		char id[32];

		if (shot_status[i] == 0)
			continue;	/* cut short by the end of the test */
		snprintf(id, sizeof id, "failover-%d", i + 1);
		if (shot_status[i] >= 200 && shot_status[i] < 300) {
			acked++;
			if (stored(db, id) != 1)
				fail_msg("delivery %s acknowledged (%ld) but not stored",
				    id, shot_status[i]);
		} else if (shot_status[i] >= 500) {
			refused++;
		} else {
			other++;
			print_message("delivery %s: %ld\n", id, shot_status[i]);
		}
	}
	PQfinish(db);
	print_message("reads: %d answered 200 (%d after the kill), %d not;"
	    " deliveries: %d acknowledged and stored, %d refused with 5xx, %d other\n",
	    atomic_load(&reads_ok), atomic_load(&reads_after_kill),
	    atomic_load(&reads_bad), acked, refused, other);
	assert_int_equal(atomic_load(&reads_bad), 0);
	assert_true(atomic_load(&reads_after_kill) > 0);
	assert_int_equal(other, 0);
	assert_true(acked > 0);
	/* Farm B alone takes every delivery now. */
	assert_int_equal(deliver(MAX_SHOTS + 1), 200);
}

/* ---- setup ------------------------------------------------------------------------------------- */

/* Waits until every responder answers FastCGI on its port. */
static int wait_responders(void)
{
	for (int f = 0; f < 2; f++) {
		for (int i = 0; i < NFAM; i++) {
			char addr[32], *out = NULL;
			int k;

			snprintf(addr, sizeof addr, "127.0.0.1:%d", t.fam_port[f][i]);
			for (k = 0; k < 200; k++) {
				if (fcgi_request(addr, "GET", "/health/live", 2000, &out) == 0)
					break;
				usleep(50 * 1000);
			}
			free(out);
			if (k == 200) {
				fprintf(stderr, "responder %s of farm %c does not answer\n",
				    families[i], 'A' + f);
				return -1;
			}
		}
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(t.dir, sizeof t.dir, "/tmp/cv-failover-XXXXXX");
	if (mkdtemp(t.dir) == NULL)
		return -1;
	/* Its own directory: initdb runs as postgres when we are root. */
	snprintf(t.pg_dir, sizeof t.pg_dir, "/tmp/cv-failover-pg-XXXXXX");
	if (mkdtemp(t.pg_dir) == NULL)
		return -1;
	rmdir(t.pg_dir);
	if (it_pg_scratch("start", t.pg_dir, t.dsn, sizeof t.dsn) != 0)
		return -1;
	t.pg_up = 1;
	t.port = it_free_port();
	for (int f = 0; f < 2; f++)
		for (int i = 0; i < NFAM; i++)
			t.fam_port[f][i] = it_free_port();
	for (int i = 0; i < NFAM; i++)
		t.fam_pid[0][i] = start_responder(0, i);
	if (start_farm_b_with_up() != 0 || wait_responders() != 0)
		return -1;
	start_nginx();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (t.nginx_pid > 0) {
		kill(t.nginx_pid, SIGTERM);
		for (int k = 0; k < 100 && kill(t.nginx_pid, 0) == 0; k++)
			usleep(50 * 1000);
	}
	stop_farm(0);
	stop_farm_b_with_up();
	if (t.pg_up)
		it_pg_scratch("stop", t.pg_dir, NULL, 0);
	if (getenv("CONVERGE_KEEP_VAR") && strcmp(getenv("CONVERGE_KEEP_VAR"), "1") == 0)
		fprintf(stderr, "kept: %s\n", t.dir);
	else
		it_remove_tree(t.dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failover),
	};

	if (access("/usr/sbin/nginx", X_OK) != 0) {
		fprintf(stderr, "nginx not found (scripts/deps installs it)\n");
		return 77;
	}
	glob_t g;
	int have_pg = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0;

	globfree(&g);
	if (!have_pg) {
		fprintf(stderr, "PostgreSQL server not installed (scripts/deps --test)\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 99;
	return cmocka_run_group_tests_name("failover", tests, setup, teardown);
}
