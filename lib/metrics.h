/*
 * metrics.h - Prometheus counters of one instance (http-api.md 9.2).
 *
 * Every pre-forked process of every route family maps the same file
 * (e.g. $CONVERGE_VAR_DIR/run/metrics.shm), so one scrape shows the
 * traffic of the whole instance (D13). Counters are added atomically;
 * a process-shared lock is taken only to insert a label tuple never seen
 * before. The table has a fixed number of tuples; once it is full, new
 * tuples are not recorded (existing ones keep counting).
 */
#ifndef CV_METRICS_H
#define CV_METRICS_H

#include <stddef.h>

struct cv_metrics;

/* Maps (creating and sizing when needed) the shared file at path; the
 * parent directory must exist. Returns NULL on failure (errno set).
 * Release with cv_metrics_close; the file stays for the other processes. */
struct cv_metrics *cv_metrics_open(const char *path);
void cv_metrics_close(struct cv_metrics *m);

/* One completed response: converge_http_requests_total{method,path,
 * status}, the duration summary {method,path} and, for status >= 500,
 * converge_http_errors_total{method,path}. path_label is the route's
 * literal path for a routed request and "unmatched" for a 404; the
 * method is recorded through cv_metrics_method_label. m NULL is a no-op.
 * A sample that finds the table full counts in
 * converge_metrics_series_dropped_total. */
void cv_metrics_observe(struct cv_metrics *m, const char *method,
    const char *path_label, int status, double seconds);

/* The method as a label: one of GET, HEAD, POST, PUT, PATCH, DELETE,
 * OPTIONS, else "other" (static string). */
const char *cv_metrics_method_label(const char *method);

/* One 429: converge_rate_limit_throttled_total{tenant} and the global
 * counter. m NULL is a no-op. */
void cv_metrics_throttled(struct cv_metrics *m, const char *tenant_label);

/* The exposition text of all families (HELP/TYPE always, samples sorted
 * by label tuple, ends with a newline). Caller frees; NULL when out of
 * memory. */
char *cv_metrics_render(struct cv_metrics *m);

#endif
