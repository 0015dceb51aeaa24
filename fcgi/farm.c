/* farm.c - the pre-forking FastCGI loop shared by every route family. */
#include "farm.h"

#include <ctype.h>
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "jsonx.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"

#define MAX_PROCESSES 64

static volatile sig_atomic_t stopping;
/* The web server reaches this process over a unix socket (see finish). */
static bool unix_listener;

/* ---- one request ---------------------------------------------------------- */

static int valid_request_id(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if (n >= 64 || !(isalnum((unsigned char)s[n]) ||
		    strchr("-_.:", s[n])))
			return 0;
	return n > 0;
}

static void set_request_id(struct cv_request *req)
{
	const char *given = cv_request_header(req, "X-Request-ID");
	char id[CV_ID12_LEN];

	if (valid_request_id(given)) {
		snprintf(req->request_id, sizeof req->request_id, "%s", given);
		return;
	}
	cv_id12(id);
	snprintf(req->request_id, sizeof req->request_id, "req-%s", id);
}

/* Reads the body under the cap. CV_ETOOBIG when it is larger: a declared
 * CONTENT_LENGTH over the cap is refused before reading a byte. */
static enum cv_err read_body(FCGX_Stream *in, struct cv_request *req,
    size_t cap)
{
	const char *cl = cv_request_var(req, "CONTENT_LENGTH");
	unsigned long long declared = cl && *cl ? strtoull(cl, NULL, 10) : 0;
	size_t size = 0, alloc = declared && declared <= cap ?
	    (size_t)declared + 1 : 8192;
	char *buf;

	if (declared > cap)
		return CV_ETOOBIG;
	if (!(buf = malloc(alloc)))
		return CV_ENOMEM;
	for (;;) {
		if (size + 1 >= alloc) {
			char *nb;
			if (alloc > cap + 1) {
				free(buf);
				return CV_ETOOBIG;
			}
			alloc = alloc * 2 > cap + 2 ? cap + 2 : alloc * 2;
			if (!(nb = realloc(buf, alloc))) {
				free(buf);
				return CV_ENOMEM;
			}
			buf = nb;
		}
		int got = FCGX_GetStr(buf + size, (int)(alloc - size - 1), in);
		if (got <= 0)
			break;
		size += (size_t)got;
		if (size > cap) {
			free(buf);
			return CV_ETOOBIG;
		}
	}
	buf[size] = '\0';
	req->body = buf;
	req->body_len = size;
	return CV_OK;
}

/* Authentication, role and scope of the route (http-api.md 3.5); writes
 * the refusal itself. With auth disabled every caller is the anonymous
 * admin. */
static bool authenticate(struct cv_app *app, struct cv_ctx *ctx)
{
	char error[128], reason[128];
	int status = 401;

	if (!app->auth) {
		if (app->cfg.auth_required) {
			cv_response_error(ctx->resp, 401, "Unauthorized");
			return false;
		}
		ctx->principal = json_pack("{s:s,s:s,s:n}", "role", "admin",
		    "actor", "anonymous", "tenant");
		return true;
	}
	if (cv_authorize(app->auth, cv_app_store(app), ctx->req,
	    ctx->match->route->role, ctx->match->route->scope, &ctx->principal,
	    &status, error, sizeof error, reason, sizeof reason) ==
	    CV_AUTH_GRANTED)
		return true;
	cv_log_fields(CV_INFO, "converge.auth", json_pack("{s:s,s:s}",
	    "reason", reason, "request_id", ctx->req->request_id),
	    "%s %s refused: %s", ctx->req->method, ctx->req->path, reason);
	cv_response_error(ctx->resp, status, error);
	return false;
}

void cv_farm_dispatch(const struct cv_family *family, struct cv_app *app,
    struct cv_request *req, struct cv_response *resp)
{
	struct cv_route_match m;
	struct cv_ctx ctx = { app, req, resp, &m, NULL };
	char msg[64];

	if (app->store)
		cv_store_forget_error(app->store);
	snprintf(req->route_label, sizeof req->route_label, "unmatched");
	switch (cv_route_find(family->routes, family->nroutes, req->method,
	    req->raw_path, &m)) {
	case CV_ROUTE_NOT_FOUND:
		cv_response_not_found(resp);
		return;
	case CV_ROUTE_BAD_METHOD:
		cv_response_method_not_allowed(resp, m.allow);
		return;
	case CV_ROUTE_FOUND:
		break;
	}
	/* The pattern, not the raw path: ids in paths must not multiply
	 * the metric series. */
	snprintf(req->route_label, sizeof req->route_label, "%.*s%s",
	    (int)(m.unprefixed - req->raw_path), req->raw_path,
	    m.route->pattern);
	/* Malformed JSON is a 400 before authentication (http-api 1.2); the
	 * webhook keeps its raw bytes for the signature check. */
	if (!family->webhook_body && cv_request_parse_json(req) != CV_OK) {
		snprintf(msg, sizeof msg, "body.%zu: JSON decode error",
		    req->json_error_pos);
		cv_response_error(resp, 400, msg);
		return;
	}
	if (!m.route->role || authenticate(app, &ctx))
		m.route->handler(&ctx);
	/* Also after a refusal: the check may have built a principal. */
	json_decref(ctx.principal);
}

static void write_response(FCGX_Stream *out, const struct cv_request *req,
    const struct cv_response *resp)
{
	FCGX_FPrintF(out, "Status: %d %s\r\n", resp->status,
	    cv_http_reason(resp->status));
	for (size_t i = 0; i < resp->nheaders; i++)
		FCGX_FPrintF(out, "%s: %s\r\n", resp->headers[i].name,
		    resp->headers[i].value);
	FCGX_FPrintF(out, "X-Request-ID: %s\r\nX-Content-Type-Options: "
	    "nosniff\r\n\r\n", req->request_id);
	if (resp->body_len)
		FCGX_PutStr(resp->body, (int)resp->body_len, out);
}

static void access_log(const struct cv_request *req,
    const struct cv_response *resp)
{
	double ms;
	const char *trace;

	/* Under WARNING (the benches, busy farms) the line is dropped: do
	 * not build its escaped fields per request only to free them. */
	if (!cv_log_enabled(CV_INFO))
		return;
	ms = (cv_monotonic() - req->started) * 1000.0;
	trace = cv_request_header(req, "X-Trace-Id");

	/* Every request gets its line: bytes that are not UTF-8 (a path
	 * such as /v1/intents/%FF%FE) are escaped, not a reason to drop it. */
	cv_log_fields(CV_INFO, "converge.access", json_pack(
	    "{s:o,s:o,s:i,s:f,s:o,s:s}", "method",
	    cv_json_string_escaped(req->method), "path",
	    cv_json_string_escaped(req->path), "status_code", resp->status,
	    "duration_ms", (double)(long long)(ms * 10.0 + 0.5) / 10.0,
	    "trace_id", cv_json_string_escaped(trace), "request_id",
	    req->request_id),
	    "%s %s %d %.0fms", req->method, req->path, resp->status, ms);
}

/* This process's leased rate-limit tokens (D-2, ratelimit.h). */
static struct cv_rl_leases rl_leases;

/* The limiter runs first (http-api.md 1.1): a throttled request never
 * reaches routing or authentication. Returns true when it answered 429. */
static bool throttled(struct cv_app *app, struct cv_request *req,
    struct cv_response *resp)
{
	struct cv_rl_bucket b = { 0 };
	bool allowed = true;
	int retry = 0;
	struct cv_store *s;

	if (!app->cfg.rate_limit_enabled || cv_ratelimit_exempt(req->path) ||
	    !(s = cv_app_store(app)))
		return false;
	if (cv_ratelimit_bucket(app->auth, s, req, &b) != CV_OK)
		return false;
	if (cv_ratelimit_admit(&rl_leases, s, b.key, app->cfg.rate_limit_rpm,
	    cv_now_us() / 1000, &allowed, &retry) != CV_OK)
		cv_log(CV_WARNING, "converge.api", "rate limiter unavailable "
		    "(failing open): %s", cv_store_errmsg(s));
	if (!allowed) {
		cv_ratelimit_respond(resp, app->cfg.rate_limit_rpm, retry);
		cv_metrics_throttled(app->metrics, b.label);
		snprintf(req->route_label, sizeof req->route_label, "unmatched");
	}
	cv_rl_bucket_free(&b);
	return !allowed;
}

/* Ends the request. libfcgi closes a connection the careful way for TCP:
 * shutdown, then wait until the web server has closed its end, reading
 * whatever it still sends, so that it never gets a reset in the middle of
 * the answer. On a unix socket the answer stays in the web server's
 * receive queue whatever this end does, and a reset can only come from
 * bytes left unread here: once the request was read to its end there are
 * none, so the connection is closed at once, and the process is back at
 * accept() without sleeping until the web server closes (three system
 * calls and a context switch per request). */
static void finish(FCGX_Request *fr, bool read_all)
{
	int fd = fr->ipcFd;

	if (!unix_listener || !read_all || fr->keepConnection || !fr->in ||
	    FCGX_GetError(fr->in)) {
		FCGX_Finish_r(fr);
		return;
	}
	/* Closing the output writes the request's end record. */
	int failed = FCGX_FClose(fr->err) | FCGX_FClose(fr->out);
	FCGX_Free(fr, failed);
	if (!failed) {
		close(fd);
		fr->ipcFd = -1;
	}
}

static void serve(const struct cv_family *family, struct cv_app *app,
    FCGX_Request *fr)
{
	struct cv_request req;
	struct cv_response resp;
	enum cv_err err, body = CV_EINVAL;
	size_t cap = family->webhook_body ? app->cfg.max_body_webhook :
	    app->cfg.max_body_api;

	cv_response_init(&resp);
	err = cv_request_init(&req, fr->envp);
	req.started = cv_monotonic();
	set_request_id(&req);
	if (err == CV_EINVAL)
		cv_response_error(&resp, 400, "query: malformed percent-encoding");
	else if (err != CV_OK)
		cv_response_error(&resp, 500, "Internal server error");
	else if (throttled(app, &req, &resp))
		;
	else if ((err = body = read_body(fr->in, &req, cap)) == CV_ETOOBIG)
		cv_response_error(&resp, 413, "Request body too large");
	else if (err != CV_OK)
		cv_response_error(&resp, 500, "Internal server error");
	else
		cv_farm_dispatch(family, app, &req, &resp);
	write_response(fr->out, &req, &resp);
	/* Before FCGX_Finish_r: it frees the environment req->env points to. */
	access_log(&req, &resp);
	cv_metrics_observe(app->metrics, req.method, req.route_label[0] ?
	    req.route_label : "unmatched", resp.status,
	    cv_monotonic() - req.started);
	/* CV_OK: the request was read to its end. */
	finish(fr, body == CV_OK);
	cv_request_free(&req);
	cv_response_free(&resp);
	/* The answer is out: the checkpoint a commit made due delays none. */
	if (app->store)
		cv_store_upkeep(app->store);
}

/* ---- a child: accept loop --------------------------------------------------- */

static void on_child_term(int sig)
{
	(void)sig;
	stopping = 1;
	/* Makes libfcgi's accept() give up instead of retrying on EINTR. */
	FCGX_ShutdownPending();
}

static int child_main(const struct cv_family *family, struct cv_app *app)
{
	struct sigaction sa = { 0 };
	FCGX_Request fr;

	sa.sa_handler = on_child_term;   /* no SA_RESTART: accept must end */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	cv_app_store(app);   /* a DB down at start is retried per request */
	if (family->init && family->init(app) != 0) {
		cv_log(CV_ERROR, "converge.api", "%s: initialisation failed",
		    family->name);
		return 1;
	}
	FCGX_Init();
	FCGX_InitRequest(&fr, 0, 0);
	struct sockaddr_storage addr;
	socklen_t addrlen = sizeof addr;
	unix_listener = getsockname(0, (struct sockaddr *)&addr, &addrlen) ==
	    0 && addr.ss_family == AF_UNIX;
	while (!stopping) {
		if (FCGX_Accept_r(&fr) < 0) {
			if (stopping)
				break;
			/* Out of descriptors: pause rather than spin. */
			sleep(1);
			continue;
		}
		serve(family, app, &fr);
	}
	if (family->fini)
		family->fini(app);
	cv_store_close(app->store);
	app->store = NULL;
	return 0;
}

/* ---- the supervisor ------------------------------------------------------------ */

static void on_parent_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static pid_t spawn(const struct cv_family *family, struct cv_app *app)
{
	pid_t pid = fork();

	if (pid == 0) {
		int rc = child_main(family, app);
		cv_metrics_close(app->metrics);
		cv_auth_free(app->auth);
		cv_config_free(&app->cfg);
		_exit(rc);
	}
	return pid;
}

static void stop_children(pid_t *kids, int n)
{
	time_t deadline = time(NULL) + 10;
	int alive = 0;

	for (int i = 0; i < n; i++)
		if (kids[i] > 0 && kill(kids[i], SIGTERM) == 0)
			alive++;
	while (alive > 0 && time(NULL) < deadline) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid > 0) {
			alive--;
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			break;
		usleep(20000);
	}
	for (int i = 0; i < n; i++)
		if (kids[i] > 0 && kill(kids[i], 0) == 0)
			kill(kids[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
}

static int supervise(const struct cv_family *family, struct cv_app *app,
    int n)
{
	pid_t kids[MAX_PROCESSES];
	struct sigaction sa = { 0 };

	sa.sa_handler = on_parent_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < n; i++)
		kids[i] = spawn(family, app);
	while (!stopping) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0)
			continue;   /* EINTR from our own signal */
		for (int i = 0; i < n && !stopping; i++) {
			if (kids[i] != pid)
				continue;
			cv_log(CV_WARNING, "converge.api", "%s: process %d "
			    "exited (status %d); restarting", family->name,
			    (int)pid, status);
			usleep(100000);   /* a crash loop must not spin */
			kids[i] = spawn(family, app);
		}
	}
	stop_children(kids, n);
	return 0;
}

/* The counters every process of the instance adds to; without them the
 * farm still serves, /metrics then shows zeros. */
static struct cv_metrics *open_metrics(const struct cv_config *cfg)
{
	char path[4096];
	struct cv_metrics *m;

	snprintf(path, sizeof path, "%s/run", cfg->var_dir);
	mkdir(cfg->var_dir, 0755);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/run/metrics.shm", cfg->var_dir);
	if (!(m = cv_metrics_open(path)))
		cv_log(CV_WARNING, "converge.api", "metrics disabled: cannot map "
		    "%s: %s", path, strerror(errno));
	return m;
}

int cv_farm_main(const struct cv_family *family, int argc, char **argv)
{
	struct cv_app app = { .family = family->name };
	const char *socket_path = NULL, *env;
	char err[256], listening[160];
	int n = family->default_processes > 0 ? family->default_processes : 2;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--socket PATH]\n", argv[0]);
			return 2;
		}
	}
	/* WARNING or ERROR also drop the access line every request writes. */
	cv_log_set_level(cv_log_level_parse(getenv("CONVERGE_LOG_LEVEL"),
	    CV_INFO));
	if (cv_config_load(&app.cfg, err, sizeof err) != CV_OK) {
		cv_log(CV_ERROR, "converge.api", "%s: configuration: %s",
		    family->name, err);
		return 1;
	}
	if (!(app.auth = cv_auth_new(&app.cfg, err, sizeof err))) {
		cv_log(CV_ERROR, "converge.api", "%s: authentication: %s",
		    family->name, err);
		cv_config_free(&app.cfg);
		return 1;
	}
	cv_auth_warn_untenanted(app.auth);
	app.metrics = open_metrics(&app.cfg);
	if ((env = getenv("CONVERGE_FCGI_PROCESSES")) && *env)
		n = atoi(env);
	if (n < 1 || n > MAX_PROCESSES) {
		cv_log(CV_ERROR, "converge.api", "CONVERGE_FCGI_PROCESSES "
		    "must be in 1..%d", MAX_PROCESSES);
		cv_config_free(&app.cfg);
		return 1;
	}
	if (cv_listen_take(family->name, socket_path, listening,
	    sizeof listening, err, sizeof err) != 0) {
		cv_log(CV_ERROR, "converge.api", "%s: %s", family->name, err);
		cv_config_free(&app.cfg);
		return 1;
	}
	cv_log(CV_INFO, "converge.api", "%s: starting %d processes on %s",
	    family->name, n, listening);
	int rc = supervise(family, &app, n);
	cv_metrics_close(app.metrics);
	cv_auth_free(app.auth);
	cv_config_free(&app.cfg);
	return rc;
}
