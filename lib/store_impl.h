/*
 * store_impl.h - what a store backend provides (private to lib/).
 * store.c holds the backend-neutral logic; store_sqlite.c (and a
 * PostgreSQL backend) fill in struct cv_store_ops.
 */
#ifndef CV_STORE_IMPL_H
#define CV_STORE_IMPL_H

#include "db.h"
#include "store.h"

struct cv_store_ops {
	enum cv_err (*exec)(struct cv_store *, const char *,
	    const struct cv_param *, int, long long *);
	enum cv_err (*query)(struct cv_store *, const char *,
	    const struct cv_param *, int, json_t **);
	enum cv_err (*begin)(struct cv_store *);
	enum cv_err (*commit)(struct cv_store *);
	void (*rollback)(struct cv_store *);
	void (*close)(struct cv_store *);
	const char *append_order;
	/* Notifications (NULL where the backend has none). */
	enum cv_err (*listen)(struct cv_store *, const char *);
	int (*notify_fd)(struct cv_store *);
	int (*notifications)(struct cv_store *);
	/* CV_EFULL when a write would find no room (NULL: cannot tell). */
	enum cv_err (*room)(struct cv_store *);
	/* Upkeep the last commits made due (NULL: none). */
	void (*upkeep)(struct cv_store *);
};

struct cv_store {
	const struct cv_store_ops *ops;
	void *backend;             /* the backend's own state */
	int in_tx;                 /* inside cv_store_begin/commit */
	bool full;                 /* the last failure was for lack of room */
	bool defer_upkeep;         /* commits leave upkeep to cv_store_upkeep */
	char errmsg[512];
};

enum cv_err cv_sqlite_open(const struct cv_store_options *opt,
    struct cv_store *s);
enum cv_err cv_pg_open(const struct cv_store_options *opt,
    struct cv_store *s);

/* The schema, as numbered migrations (operations.md 2.2). Each step is
 * idempotent (IF NOT EXISTS) so that a database created by Converge 0.1.0
 * is adopted as it is. */
struct cv_migration {
	int version;
	const char *const *statements;
};
extern const struct cv_migration cv_migrations[];
extern const int cv_migration_count;

#endif
