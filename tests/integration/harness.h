/*
 * harness.h - integration tests against the real farm: nginx in front of
 * the FastCGI responders, started by scripts/up on a free loopback port
 * with a fresh var dir, stopped by scripts/down.
 *
 * One farm per test process.  Where things are found:
 *   scripts/       $CONVERGE_SRC_DIR, else the compile-time CV_SRCDIR;
 *   fcgi/, worker/ $CONVERGE_BIN_DIR, else the compile-time CV_BUILDDIR
 *                  (the top build dir; up does not build then).
 * The var dir is kept after a failed stop, or always with
 * CONVERGE_KEEP_VAR=1, and its path printed, so its logs can be read
 * (after a failed start scripts/up has shown them; it is removed then).
 *
 * Ownership: strings returned by farm_* getters are borrowed and live until
 * farm_stop(); a struct http_resp is filled by http_request() and emptied by
 * http_resp_free().
 */
#ifndef CV_HARNESS_H
#define CV_HARNESS_H

#include <stddef.h>
#include <jansson.h>

/* One HTTP exchange as the client saw it. */
struct http_resp {
	long status;		/* final status code (after any 100) */
	char *headers;		/* raw header block of the final response */
	char *body;		/* body bytes, NUL-terminated */
	size_t body_len;
	json_t *json;		/* parsed body when it is JSON, else NULL */
};

/* True when the programs the farm needs (nginx, spawn-fcgi, curl) are in
 * PATH or /usr/sbin; tests exit 77 (skipped) otherwise. */
int farm_available(void);

/* True when the web server CONVERGE_HTTPD=front needs (see scripts/fronts.sh:
 * nginx, apache, lighttpd, apache-fcgid) and its modules are installed,
 * besides farm_available(); names what is missing on stderr.  A farm
 * behind it: farm_start() with "CONVERGE_HTTPD=<front>" in its overrides. */
int farm_front_available(const char *front);

/*
 * Starts the farm: picks a free 127.0.0.1 port, makes a var dir with
 * mkdtemp, runs scripts/up with the current environment plus
 * CONVERGE_PORT, CONVERGE_HOST, CONVERGE_VAR_DIR, CONVERGE_DB_PATH
 * ($var/state.db) and CONVERGE_BIN_DIR, then env_overrides
 * ("NAME=value" strings, NULL-terminated; NULL for none) which replace
 * variables of the same name.  Returns 0 once up reported ready, -1 on
 * failure (up's output went to stderr; nothing is left running).
 */
int farm_start(const char *const *env_overrides);

/*
 * Stops the farm with scripts/down and checks that nothing survives: no
 * pid from the pid files, nothing in their process groups, no process with
 * the var dir in its command line or environment.  Removes the var dir on
 * success.  Returns 0, or -1 if down failed or a process survived (they
 * are named on stderr).  A no-op returning 0 when no farm runs.
 */
int farm_stop(void);

/* farm_stop() as a cmocka setup/teardown function (group or test); a
 * per-test one also stops a farm a failed assertion left running. */
int farm_teardown(void **state);

/* farm_stop(), then the scratch PostgreSQL server in pg_dir (from
 * it_pg_scratch "start") when pg_dir is not "", which is emptied so a
 * second call stops nothing.  Returns farm_stop()'s result. */
int farm_stop_with_pg(char *pg_dir);

/*
 * Restarts one route family of the running farm (started by up under
 * spawn-fcgi on $var/run/FAMILY.sock) with the farm's environment plus
 * env_overrides (e.g. "CONVERGE_FAULT=db:3", "CONVERGE_FCGI_PROCESSES=1"):
 * SIGTERM to the family's supervisor, SIGKILL to its process group after
 * 5 s, then spawn-fcgi again (its own session, the log appended to
 * $var/log/FAMILY.log, the pid file rewritten, so scripts/down stops it).
 * Returns 0 once the socket accepts connections, -1 when the new process
 * exited first or did not listen within 10 s.
 */
int farm_restart_family(const char *family, const char *const *env_overrides);

/* The running farm's port, var dir and SQLite file (borrowed). */
int farm_port(void);
/* "http://127.0.0.1:<port>" of the running farm (borrowed). */
const char *farm_base_url(void);
const char *farm_var_dir(void);
const char *farm_db_path(void);

/*
 * Sends METHOD PATH to the farm with the extra request headers
 * ("Name: value", NULL-terminated; NULL for none) and, when body is not
 * NULL, body_len bytes of body.  Fills *resp (which the caller empties
 * with http_resp_free()).  Returns 0 when a response arrived, -1 on a
 * transport failure or out of memory (*resp is empty then).
 */
int http_request(const char *method, const char *path,
    const char *const *headers, const char *body, size_t body_len,
    struct http_resp *resp);

/* The value of response header NAME (case-insensitive), trimmed; the
 * caller frees it.  NULL when absent or out of memory. */
char *http_resp_header(const struct http_resp *resp, const char *name);

/* Frees what resp holds and zeroes it; safe on a zeroed struct. */
void http_resp_free(struct http_resp *resp);

#endif
