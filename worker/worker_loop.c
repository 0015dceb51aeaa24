/* worker_loop.c - the queue worker loop (operations.md 4.2, 4.3). */
#include "worker_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"
#include "eventlog.h"
#include "github.h"
#include "intents.h"
#include "jsonx.h"
#include "landing.h"
#include "log.h"
#include "outbox.h"
#include "publish.h"

static volatile sig_atomic_t stop_requested;
static int wake_pipe[2] = { -1, -1 };

/* The self-pipe makes the inter-cycle sleep end at once on a signal
 * (O12), instead of sleeping out the interval. */
static void on_stop(int sig)
{
	int saved = errno;

	(void)sig;
	stop_requested = 1;
	if (wake_pipe[1] >= 0) {
		ssize_t w = write(wake_pipe[1], "x", 1);
		(void)w;
	}
	errno = saved;
}

static void install_signals(void)
{
	struct sigaction sa = { 0 };

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		wake_pipe[0] = wake_pipe[1] = -1;
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Sleeps the poll interval, but returns early on a stop request or, with
 * PostgreSQL, when a new VALIDATED intent was announced (D-6): polling
 * stays as the fallback and is the only mode with SQLite. */
static void sleep_interruptibly(struct cv_store *s, int seconds)
{
	double until = cv_monotonic() + seconds;
	int nfd = cv_store_notify_fd(s);

	while (!stop_requested && seconds > 0) {
		struct pollfd p[2] = { { wake_pipe[0], POLLIN, 0 },
		    { nfd, POLLIN, 0 } };
		int left = (int)((until - cv_monotonic()) * 1000);
		if (left <= 0)
			return;
		if (p[0].fd < 0 && p[1].fd < 0) {
			usleep((useconds_t)left * 1000);
			return;
		}
		if (poll(p, 2, left) > 0 && (p[1].revents & (POLLIN | POLLHUP))) {
			if (cv_store_notifications(s) > 0)
				return;
			/* Readable with nothing for us: a dropped connection
			 * would spin; sleep the rest on the pipe alone. */
			nfd = -1;
		}
		if (p[0].revents & POLLIN)
			return;
	}
}

/* A unique holder per worker instance (O3): containers all run as PID 1. */
static long long random_holder(void)
{
	unsigned int v = 0;

	if (cv_random_bytes(&v, sizeof v) != 0)
		v = (unsigned int)getpid() ^ (unsigned int)cv_now_us();
	v &= 0x7fffffffu;
	return v ? v : 1;
}

static void touch_heartbeat(const struct cv_config *cfg)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof path, "%s/run/worker.heartbeat",
	    cfg->var_dir) >= (int)sizeof path)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) >= 0) {
		char ts[CV_TS_LEN];
		cv_now_ts(ts);
		ssize_t w = write(fd, ts, strlen(ts));
		(void)w;
		close(fd);
	}
}

static bool lock_busy(const json_t *results)
{
	return json_array_size(results) == 1 &&
	    json_object_get(json_array_get(results, 0), "error") &&
	    json_object_get(json_array_get(results, 0), "lock");
}

/* One cycle; returns the number of intents processed. */
static size_t cycle(struct cv_engine *e, const struct cv_config *cfg,
    long long holder)
{
	struct cv_queue_opts o = { .limit = cfg->worker_batch_size,
	    .target = cfg->worker_target, .auto_confirm =
	    cfg->worker_auto_confirm, .max_retries = cfg->worker_max_retries,
	    /* B6: by default the stored simulation is reused (0.1.0 parity),
	     * which cannot see the target move; the fresh mode simulates
	     * again against the current target (invariant I2 for real). */
	    .use_last_simulation = !cfg->worker_fresh_simulation,
	    .skip_checks = true,
	    .holder = holder, .lock_ttl = cfg->worker_lock_ttl,
	    .ignore_dependencies = !cfg->queue_enforce_dependencies };
	json_t *results = cv_engine_queue_run(e, &o);
	size_t n = 0;

	if (!results) {
		cv_log(CV_ERROR, "converge.worker", "queue cycle failed: %s",
		    cv_store_errmsg(e->store));
		return 0;
	}
	if (!lock_busy(results))
		n = json_array_size(results);
	else
		cv_log(CV_DEBUG, "converge.worker", "queue lock busy");
	json_decref(results);
	return n;
}

/* Merge groups (D-5) are validated by the worker, not the webhook: the
 * checks may take minutes and GitHub wants its answer in seconds. A group
 * that passes goes straight to QUEUED (GitHub merges it, not us). */
static void validate_merge_groups(struct cv_engine *e)
{
	json_t *ready = cv_intent_list(e->store, "READY", NULL, 10000), *in;
	struct cv_validate_opts o = { NULL, false, false };
	size_t i;

	json_array_foreach(ready, i, in) {
		if (!cv_json_bool(cv_json_obj(in, "technical"), "merge_group",
		    false))
			continue;
		const char *id = cv_json_str(in, "id", "");
		json_t *d = cv_engine_validate(e, id, &o);
		if (d && strcmp(cv_json_str(d, "decision", ""), "validated") == 0)
			cv_intent_update_status(e->store, id, "QUEUED", -1);
		else if (d && strcmp(cv_json_str(d, "decision", ""), "blocked") ==
		    0)
			cv_intent_update_status(e->store, id, "REJECTED", -1);
		json_decref(d);
	}
	json_decref(ready);
}

static void send_outbox(struct cv_store *s, struct cv_github *gh)
{
	struct cv_outbox_counts c = { 0 };

	if (!gh)
		return;
	if (cv_outbox_process(s, gh, 50, cv_now_us(), 0, &c) != CV_OK)
		cv_log(CV_ERROR, "converge.github", "outbox: %s",
		    cv_store_errmsg(s));
	else if (c.sent || c.failed)
		cv_log(CV_INFO, "converge.github", "outbox: %d sent, %d failed "
		    "(kept for retry)", c.sent, c.failed);
}

int cv_worker_main(const struct cv_config *cfg, struct cv_store *s, bool once)
{
	struct cv_engine e = { .store = s, .repo_dir = cfg->repo_path,
	    .work_dir = cfg->repo_path };
	struct cv_github *gh = NULL;
	long long holder = random_holder();
	long long cycles = 0, total = 0;
	bool released;

	install_signals();
	if (cv_store_listen(s, CV_QUEUE_CHANNEL) == CV_OK)
		cv_log(CV_INFO, "converge.worker", "listening for new validated "
		    "intents");
	if (cv_config_github_enabled(cfg)) {
		/* Results are published through the outbox, written in the
		 * same transaction as each decision (operations.md 4.4). */
		e.on_decision = cv_publish_decision_hook;
		e.on_decision_arg = (void *)cfg;
		gh = cv_github_client_from_config(cfg);
	}
	/* Registered repositories (D-9): mirrors under the var dir; https
	 * remotes fetched and pushed with the App's installation token. */
	e.var_dir = cfg->var_dir;
	e.github = gh;
	e.installation_id = cfg->github_installation_id ?
	    atoll(cfg->github_installation_id) : 0;
	cv_log_fields(CV_INFO, "converge.worker", json_pack(
	    "{s:i,s:i,s:s,s:b,s:b,s:I}", "poll_interval",
	    cfg->worker_poll_interval, "batch_size", cfg->worker_batch_size,
	    "target", cfg->worker_target, "auto_confirm",
	    cfg->worker_auto_confirm, "github_enabled",
	    cv_config_github_enabled(cfg), "holder", holder),
	    "worker starting (holder %lld)", holder);
	cv_event_emit(s, "worker.started", NULL, NULL, NULL, NULL, json_pack(
	    "{s:i,s:i,s:I}", "poll_interval", cfg->worker_poll_interval,
	    "batch_size", cfg->worker_batch_size, "pid", holder), NULL);
	while (!stop_requested) {
		cycles++;
		cv_landing_fetch_requested(&e);
		validate_merge_groups(&e);
		total += (long long)cycle(&e, cfg, holder);
		send_outbox(s, gh);
		touch_heartbeat(cfg);
		if (once || stop_requested)
			break;
		sleep_interruptibly(s, cfg->worker_poll_interval);
	}
	cv_log(CV_INFO, "converge.worker", "worker stopping after %lld cycles, "
	    "%lld intents processed", cycles, total);
	/* Only our own lock (O2): another worker's lock is not ours to free. */
	cv_lock_release(s, "queue", holder, &released);
	cv_github_free(gh);
	cv_event_emit(s, "worker.stopped", NULL, NULL, NULL, NULL, json_pack(
	    "{s:I,s:I,s:I}", "cycles", cycles, "total_processed", total, "pid",
	    holder), NULL);
	return 0;
}
