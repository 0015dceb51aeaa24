/*
 * ratelimit.h - the per-bucket request limit shared by every process and,
 * with PostgreSQL, every host (http-api.md 4, decisions.md D-2).
 *
 * State lives in the table rate_limit_windows: one row per bucket, one
 * indexed upsert per block of tokens a process leases (cv_ratelimit_admit). How that approximates the spec's 60 s
 * sliding log is explained at the top of ratelimit.c.
 */
#ifndef CV_RATELIMIT_H
#define CV_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "cv.h"
#include "http.h"
#include "store.h"

#define CV_RL_WINDOW_MS 60000
#define CV_RL_BLOCK_MAX 64      /* tokens per lease at most */
#define CV_RL_LEASE_SLOTS 32    /* buckets a process keeps leases for */

/* Where a request's budget is counted and how the throttle metric names
 * it. Both strings are owned by the struct (cv_rl_bucket_free). */
struct cv_rl_bucket {
	char *key;      /* the row in rate_limit_windows */
	char *label;    /* the `tenant` label of the throttle counter */
};

/* The row of one bucket, as the upsert leaves it. */
struct cv_rl_state {
	int64_t window_start;   /* ms; start of the current 60 s window */
	int64_t hits;           /* requests accepted in the current window */
	int64_t prev_hits;      /* requests accepted in the window before */
	int64_t prev_last;      /* ms of the last of those, 0 when none */
	int64_t last_at;        /* ms of the last accepted request */
};

/* True for paths never throttled: prefix /health, /metrics,
 * /integrations/github. */
bool cv_ratelimit_exempt(const char *path);

/*
 * The bucket of a request (D-2).
 * Auth enabled: the principal resolved with cv_auth_identify (key digest
 * or token, no events): key "p:t:<tenant>|a:<actor>", label the tenant
 * or "_anonymous"; no or bad credential: "_anonymous" for both.
 * Auth disabled (0.1.0 rules): X-Tenant-Id when present, even empty
 * (key "h:<value>", label the value); else the first 8 characters of
 * X-API-Key (key "k:" + SHA-256 hex of them, label "key:" + first 8 hex
 * of SHA-256 of the whole key, so no key characters reach /metrics or
 * the database); else "_anonymous".
 * Returns CV_OK or CV_ENOMEM.
 */
enum cv_err cv_ratelimit_bucket(const struct cv_auth *a, struct cv_store *s,
    const struct cv_request *req, struct cv_rl_bucket *out);
void cv_rl_bucket_free(struct cv_rl_bucket *b);

/*
 * Counts one request of bucket against rpm at wall-clock now_ms, in one
 * statement. *allowed says whether it fits; a refused request is not
 * counted. *retry_after = whole seconds until a request would fit again
 * (>= 1) when refused, 0 when allowed. *state (may be NULL) receives the
 * row. A store failure returns CV_ESTORE and leaves *allowed true: the
 * limiter fails open rather than taking the API down with the DB.
 */
enum cv_err cv_ratelimit_hit(struct cv_store *s, const char *bucket,
    int rpm, int64_t now_ms, bool *allowed, int *retry_after,
    struct cv_rl_state *state);

/*
 * Like cv_ratelimit_hit, but asks for a block of up to want tokens in the
 * same single statement: *granted is how many were counted (0: refused,
 * then *retry_after >= 1). The grant is at most want and at most an
 * eighth of what is left of the budget (at least 1 while anything is),
 * so it never takes the bucket past RPM. A store failure fails open with
 * *granted 1.
 */
enum cv_err cv_ratelimit_take(struct cv_store *s, const char *bucket,
    int rpm, int want, int64_t now_ms, int *granted, int *retry_after,
    struct cv_rl_state *state);

/* The block a process leases for a limit of rpm: rpm/100, between 1 and
 * CV_RL_BLOCK_MAX; so a limit below 200 is counted request by request. */
int cv_ratelimit_block(int rpm);

/*
 * Leased tokens (D-2): a process spends a block from the DB locally, one
 * token per request, and writes again only when the block is used up,
 * its window is over, or after a refusal the Retry-After says could be
 * over. Tokens are counted in the DB when leased, so the requests
 * accepted in a window never exceed RPM; the tokens a process leaves
 * unused are at most one block per bucket, so with P processes a bucket
 * gets at least RPM - P * cv_ratelimit_block(RPM) requests per window
 * before its 429s. Owned by one process; zero-initialise, release with
 * cv_rl_leases_free.
 */
struct cv_rl_lease {
	char *key;              /* the bucket, or NULL for a free slot */
	int rpm;                /* the limit the lease was taken under */
	int tokens;             /* left to spend */
	int64_t from;           /* ms the lease (or refusal) was taken */
	int64_t expires;        /* ms the tokens' window ends */
	int64_t refused_until;  /* ms before which the DB cannot say yes */
	int64_t fit_at;         /* ms a request fits again (Retry-After) */
	uint64_t used;          /* last use, for eviction */
};

struct cv_rl_leases {
	struct cv_rl_lease slot[CV_RL_LEASE_SLOTS];
	uint64_t clock;
	uint64_t db_writes;     /* statements sent, for the benchmark */
};

/* Admits or refuses one request of bucket, from the lease when it has a
 * token, else with one cv_ratelimit_take. Same outputs and failure rule
 * as cv_ratelimit_hit. */
enum cv_err cv_ratelimit_admit(struct cv_rl_leases *l, struct cv_store *s,
    const char *bucket, int rpm, int64_t now_ms, bool *allowed,
    int *retry_after);
void cv_rl_leases_free(struct cv_rl_leases *l);

/* cv_ratelimit_take's rule in C: updates *st and returns the grant. */
int cv_ratelimit_grant(struct cv_rl_state *st, int rpm, int want,
    int64_t now_ms);

/* The same decision computed in C from a row (used for Retry-After and
 * to test the SQL): updates *st as the upsert would and returns whether
 * the request is accepted. A zeroed *st with window_start 0 is a new
 * bucket. */
bool cv_ratelimit_step(struct cv_rl_state *st, int rpm, int64_t now_ms);

/* Whole seconds (>= 1) until cv_ratelimit_step would accept a request,
 * assuming no other traffic. */
int cv_ratelimit_retry_after(const struct cv_rl_state *st, int rpm,
    int64_t now_ms);

/* Fills resp with the 429 of http-api.md 4 and Retry-After. */
void cv_ratelimit_respond(struct cv_response *resp, int rpm, int retry_after);

#endif
