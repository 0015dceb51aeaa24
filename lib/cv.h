/*
 * cv.h - conventions shared by every libconverge module.
 *
 * Ownership rule, said once for the whole library:
 *   - a function whose name ends in _new, _dup, _load, _query, _build or
 *     _evaluate returns something the caller owns (json_t: one reference,
 *     caller json_decref()s it; char *: caller free()s it);
 *   - plain getters and every const parameter borrow: the caller keeps
 *     ownership and the callee keeps no pointer past the call;
 *   - a parameter named *_take is stolen: the callee owns it from then on,
 *     also on failure;
 *   - X_free(NULL) is always a no-op.
 *
 * Failures come back as enum cv_err; callers switch on codes, tests assert
 * codes, never message text.
 */
#ifndef CV_H
#define CV_H

#include <stddef.h>

enum cv_err {
	CV_OK = 0,      /* success */
	CV_ENOMEM,      /* an allocation failed */
	CV_EINVAL,      /* the caller passed a malformed or out-of-range value */
	CV_ENOTFOUND,   /* the named record does not exist */
	CV_EEXIST,      /* a record with that key exists already */
	CV_ESTORE,      /* the database failed (I/O, lock, schema missing) */
	CV_EJSON,       /* text that should be JSON did not parse */
	CV_ETOOBIG,     /* input over a size cap */
	CV_ESTATE,      /* the operation is illegal in the current state */
	CV_EEXEC,       /* an external program could not run or failed */
	CV_ETIMEOUT,    /* an operation ran out of time */
	CV_EAUTH,       /* credentials missing or refused */
	CV_ENET,        /* a network peer failed or answered an error */
	CV_EBUSY,       /* a lock is held by someone else */
	CV_EFULL        /* the database or its disk has no room left */
};

/* Short constant text naming an error code, for logs. Never NULL. */
const char *cv_strerror(enum cv_err e);

#define CV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
